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
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      std::string relative = fs::relative(it->path(), root).generic_string();
      bool directory = it->is_directory();
      if (relative == ".git" || rules.Ignored(relative, directory)) {
        if (directory) it.disable_recursion_pending();
        continue;
      }
      if (directory) {
        entries.push_back(TarEntry{relative, "", true, false});
      } else if (it->is_regular_file()) {
        if (auto s = add(it->path(), relative); !s.ok()) return s;
      }
    }
    if (ec) return absl::PermissionDeniedError(absl::StrCat("Cannot read ", root.string(), ": ", ec.message()));
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
