#include "client/snapshot.h"

#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/tar.h"

namespace amlcore::internal {
namespace {
namespace fs = std::filesystem;

// Glob match where '*' and '?' stop at '/', and '**' crosses directories.
bool Glob(absl::string_view pattern, absl::string_view text) {
  if (pattern.empty()) return text.empty();
  if (absl::StartsWith(pattern, "**")) {
    absl::string_view rest = pattern.substr(2);
    if (absl::StartsWith(rest, "/")) {
      // "**/" also matches no directory at all.
      if (Glob(rest.substr(1), text)) return true;
    }
    for (size_t i = 0; i <= text.size(); ++i) {
      if (Glob(rest, text.substr(i))) return true;
    }
    return false;
  }
  char p = pattern.front();
  if (p == '*') {
    for (size_t i = 0; i <= text.size(); ++i) {
      if (Glob(pattern.substr(1), text.substr(i))) return true;
      if (i < text.size() && text[i] == '/') break;
    }
    return false;
  }
  if (text.empty()) return false;
  if (p == '?') return text.front() != '/' && Glob(pattern.substr(1), text.substr(1));
  if (p == '[') {
    size_t close = pattern.find(']', 1);
    if (close != absl::string_view::npos) {
      absl::string_view set = pattern.substr(1, close - 1);
      bool negate = !set.empty() && (set.front() == '!' || set.front() == '^');
      if (negate) set.remove_prefix(1);
      bool found = false;
      for (size_t i = 0; i < set.size(); ++i) {
        if (i + 2 < set.size() && set[i + 1] == '-') {
          found |= text.front() >= set[i] && text.front() <= set[i + 2];
          i += 2;
        } else {
          found |= text.front() == set[i];
        }
      }
      return found != negate && text.front() != '/' && Glob(pattern.substr(close + 1), text.substr(1));
    }
  }
  if (p == '\\' && pattern.size() > 1) {
    return text.front() == pattern[1] && Glob(pattern.substr(2), text.substr(1));
  }
  return p == text.front() && Glob(pattern.substr(1), text.substr(1));
}
}  // namespace

IgnoreRules IgnoreRules::Parse(absl::string_view text) {
  IgnoreRules rules;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    absl::ConsumeSuffix(&line, "\r");
    absl::string_view trimmed = absl::StripTrailingAsciiWhitespace(line);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    Rule rule;
    if (absl::ConsumePrefix(&trimmed, "!")) rule.negate = true;
    if (absl::ConsumeSuffix(&trimmed, "/")) rule.directory_only = true;
    if (absl::ConsumePrefix(&trimmed, "/")) rule.anchored = true;
    if (absl::StrContains(trimmed, '/')) rule.anchored = true;
    if (trimmed.empty()) continue;
    rule.pattern = std::string(trimmed);
    rules.rules_.push_back(std::move(rule));
  }
  return rules;
}

bool IgnoreRules::Ignored(absl::string_view path, bool is_directory) const {
  absl::string_view name = path.substr(path.rfind('/') == absl::string_view::npos ? 0 : path.rfind('/') + 1);
  bool ignored = false;
  for (const auto& rule : rules_) {
    if (rule.directory_only && !is_directory) continue;
    bool match = rule.anchored ? Glob(rule.pattern, path) : Glob(rule.pattern, name);
    if (match) ignored = !rule.negate;
  }
  return ignored;
}

absl::StatusOr<std::vector<UploadEntry>> WalkForUpload(
    const std::string& root, const UploadKind& kind,
    const std::function<bool(const std::string& relative, bool is_directory)>& skip) {
  std::error_code ec;
  fs::path base = fs::canonical(root, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat("Cannot read ", root, ": ", ec.message()));
  auto within = [](const fs::path& path, const fs::path& directory) {
    fs::path relative = path.lexically_relative(directory);
    return !relative.empty() && *relative.begin() != "..";
  };
  std::vector<UploadEntry> entries;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::string relative = it->path().lexically_relative(root).generic_string();
    std::error_code entry_ec;
    bool link = it->is_symlink(entry_ec);
    bool directory = it->is_directory(entry_ec);  // through a link, what it leads to
    if (skip(relative, directory)) {
      if (directory) it.disable_recursion_pending();
      continue;
    }
    if (link) {
      std::error_code link_ec;
      fs::path target = fs::canonical(it->path(), link_ec);
      if (link_ec) {  // dangling: nothing to upload, nothing to leak
        if (directory) it.disable_recursion_pending();
        continue;
      }
      std::string shown = absl::StrCat("'", relative, "' -> '", fs::read_symlink(it->path(), link_ec).string(), "'");
      if (!within(target, base)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "The ", kind.name, " ", root, " holds a symbolic link that points outside it: ", shown,
            ". Links may point only inside the ", kind.name, " (what they point to is uploaded in their place); ",
            kind.remedy, "."));
      }
      if (directory && within(fs::canonical(it->path().parent_path(), link_ec), target)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "The ", kind.name, " ", root, " holds a symbolic link to a directory that contains it: ", shown,
            ". Following it would never end; ", kind.remedy, "."));
      }
    }
    if (directory) {
      entries.push_back(UploadEntry{relative, it->path().string(), true});
    } else if (it->is_regular_file(entry_ec)) {
      entries.push_back(UploadEntry{relative, it->path().string(), false});
    }
  }
  if (ec) return absl::PermissionDeniedError(absl::StrCat("Cannot read ", root, ": ", ec.message()));
  return entries;
}

absl::StatusOr<Snapshot> PackSource(const std::string& source_directory, const std::string& entry_script) {
  Snapshot snapshot;
  std::vector<TarEntry> entries;
  size_t total = 0;
  auto add = [&](const fs::path& file, const std::string& name) -> absl::Status {
    auto content = ReadFile(file.string());
    if (!content.ok()) return content.status();
    total += content->size();
    if (total > kMaxSnapshotBytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "The source directory holds more than ", kMaxSnapshotBytes / (1024 * 1024),
          " MB; list large files that replicas do not need in .amlignore, or register them as models."));
    }
    struct stat st;
    bool executable = stat(file.c_str(), &st) == 0 && (st.st_mode & S_IXUSR);
    entries.push_back(TarEntry{name, std::move(*content), false, executable});
    snapshot.files.push_back(name);
    return absl::OkStatus();
  };
  if (source_directory.empty()) {
    fs::path script(entry_script);
    snapshot.entry_script = script.filename().string();
    if (auto s = add(script, snapshot.entry_script); !s.ok()) return s;
  } else {
    fs::path root = fs::absolute(source_directory).lexically_normal();
    if (!root.has_filename()) root = root.parent_path();
    snapshot.root_name = root.filename().string();
    snapshot.entry_script = fs::path(entry_script).lexically_normal().generic_string();
    std::string rules_text;
    if (auto aml = ReadFile((root / ".amlignore").string()); aml.ok()) {
      rules_text = *aml;
    } else if (auto git = ReadFile((root / ".gitignore").string()); git.ok()) {
      rules_text = *git;
    }
    IgnoreRules rules = IgnoreRules::Parse(rules_text);
    auto found = WalkForUpload(root.string(), {"source directory", "copy the file in, or list the link in .amlignore"},
                               [&](const std::string& relative, bool directory) {
                                 return relative == ".git" || rules.Ignored(relative, directory);
                               });
    if (!found.ok()) return found.status();
    for (const UploadEntry& entry : *found) {
      if (entry.directory) {
        entries.push_back(TarEntry{entry.relative, "", true, false});
      } else if (auto s = add(entry.path, entry.relative); !s.ok()) {
        return s;
      }
    }
    if (std::find(snapshot.files.begin(), snapshot.files.end(), snapshot.entry_script) == snapshot.files.end()) {
      return absl::InvalidArgumentError(absl::StrCat("The entry script ", entry_script,
                                                     " is excluded by the source directory's ignore file."));
    }
  }
  auto archive = WriteTar(entries);
  if (!archive.ok()) return archive.status();
  snapshot.archive = std::move(*archive);
  return snapshot;
}

}  // namespace amlcore::internal
