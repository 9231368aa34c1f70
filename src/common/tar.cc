#include "common/tar.h"

#include <sys/stat.h>

#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/files.h"

namespace amlcore {
namespace {
constexpr size_t kBlock = 512;

void PutOctal(char* field, size_t width, uint64_t value) {
  std::string text = absl::StrFormat("%0*o", static_cast<int>(width - 1), value);
  std::memcpy(field, text.data(), std::min(text.size(), width - 1));
  field[width - 1] = '\0';
}

uint64_t ReadOctal(const char* field, size_t width) {
  uint64_t value = 0;
  for (size_t i = 0; i < width && field[i] != '\0' && field[i] != ' '; ++i) {
    if (field[i] < '0' || field[i] > '7') break;
    value = value * 8 + static_cast<uint64_t>(field[i] - '0');
  }
  return value;
}

absl::Status CheckPath(absl::string_view path) {
  absl::Status contained = CheckContainedPath(path);
  if (contained.ok()) return contained;
  return absl::InvalidArgumentError(absl::StrCat("Archive entry ", contained.message()));
}
}  // namespace

absl::StatusOr<std::string> WriteTar(const std::vector<TarEntry>& entries) {
  std::string out;
  for (const auto& e : entries) {
    if (auto s = CheckPath(e.path); !s.ok()) return s;
    char header[kBlock] = {};
    std::string name = e.directory ? absl::StrCat(e.path, "/") : e.path;
    std::string prefix;
    if (name.size() > 100) {
      size_t split = name.rfind('/', name.size() - 2);
      while (split != std::string::npos && (split > 155 || name.size() - split - 1 > 100)) {
        split = split == 0 ? std::string::npos : name.rfind('/', split - 1);
      }
      if (split == std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat("The path '", e.path, "' is too long for the snapshot "
                                                       "(ustar keeps 255 bytes at most)."));
      }
      prefix = name.substr(0, split);
      name = name.substr(split + 1);
    }
    std::memcpy(header, name.data(), name.size());
    PutOctal(header + 100, 8, e.directory ? 0755 : (e.executable ? 0755 : 0644));
    PutOctal(header + 108, 8, 0);
    PutOctal(header + 116, 8, 0);
    PutOctal(header + 124, 12, e.directory ? 0 : e.content.size());
    PutOctal(header + 136, 12, 0);
    header[156] = e.directory ? '5' : '0';
    std::memcpy(header + 257, "ustar", 6);
    std::memcpy(header + 263, "00", 2);
    std::memcpy(header + 345, prefix.data(), prefix.size());
    std::memset(header + 148, ' ', 8);
    unsigned sum = 0;
    for (char c : header) sum += static_cast<unsigned char>(c);
    PutOctal(header + 148, 7, sum);
    header[155] = ' ';
    out.append(header, kBlock);
    if (!e.directory) {
      out.append(e.content);
      out.append((kBlock - e.content.size() % kBlock) % kBlock, '\0');
    }
  }
  out.append(2 * kBlock, '\0');
  return out;
}

absl::StatusOr<std::vector<TarEntry>> ReadTar(absl::string_view archive) {
  std::vector<TarEntry> entries;
  size_t offset = 0;
  while (offset + kBlock <= archive.size()) {
    const char* header = archive.data() + offset;
    if (std::all_of(header, header + kBlock, [](char c) { return c == '\0'; })) break;
    unsigned sum = 0;
    for (size_t i = 0; i < kBlock; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(header[i]);
    if (sum != ReadOctal(header + 148, 8)) {
      return absl::InvalidArgumentError(absl::StrCat("The snapshot archive is corrupt at offset ", offset, "."));
    }
    std::string name(header, strnlen(header, 100));
    std::string prefix(header + 345, strnlen(header + 345, 155));
    if (!prefix.empty()) name = absl::StrCat(prefix, "/", name);
    uint64_t size = ReadOctal(header + 124, 12);
    char type = header[156];
    offset += kBlock;
    if (offset + size > archive.size()) return absl::InvalidArgumentError("The snapshot archive is truncated.");
    TarEntry entry;
    entry.directory = type == '5';
    while (!name.empty() && name.back() == '/') {
      name.pop_back();
      entry.directory = true;
    }
    if (absl::StartsWith(name, "./")) name = name.substr(2);
    if (type != '0' && type != '\0' && type != '5') {
      return absl::InvalidArgumentError(absl::StrCat("Archive entry '", name,
                                                     "' is a link or special file; snapshots hold files and "
                                                     "directories only."));
    }
    if (!name.empty()) {
      if (auto s = CheckPath(name); !s.ok()) return s;
      entry.path = name;
      entry.executable = (ReadOctal(header + 100, 8) & 0100) != 0;
      if (!entry.directory) entry.content = std::string(archive.substr(offset, size));
      entries.push_back(std::move(entry));
    }
    offset += (size + kBlock - 1) / kBlock * kBlock;
  }
  return entries;
}

absl::Status ExtractTar(absl::string_view archive, const std::string& directory) {
  auto entries = ReadTar(archive);
  if (!entries.ok()) return entries.status();
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(directory, ec);
  for (const auto& e : *entries) {
    fs::path target = fs::path(directory) / e.path;
    if (e.directory) {
      fs::create_directories(target, ec);
      continue;
    }
    fs::create_directories(target.parent_path(), ec);
    if (auto s = WriteFileAtomic(target.string(), e.content, e.executable ? 0755 : 0644); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace amlcore
