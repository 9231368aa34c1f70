// Packing a deployment's source directory into a snapshot: a tar of its files, honouring .amlignore (or
// .gitignore when there is no .amlignore) at the directory's root.
#ifndef AMLCORE_CLIENT_SNAPSHOT_H_
#define AMLCORE_CLIENT_SNAPSHOT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace amlcore::internal {

// gitignore-style rules: globs with *, ?, ** and [...], "!" to re-include, a trailing "/" for directories only,
// a "/" elsewhere to anchor at the root.
class IgnoreRules {
 public:
  static IgnoreRules Parse(absl::string_view text);
  // `path` is relative to the root, '/'-separated.
  bool Ignored(absl::string_view path, bool is_directory) const;

 private:
  struct Rule {
    std::string pattern;
    bool negate = false;
    bool directory_only = false;
    bool anchored = false;
  };
  std::vector<Rule> rules_;
};

struct Snapshot {
  std::string archive;       // tar
  std::string root_name;     // the source directory's name inside the app root ("" when only the script is sent)
  std::string entry_script;  // relative to root_name
  std::vector<std::string> files;
};

inline constexpr size_t kMaxSnapshotBytes = 100u * 1024 * 1024;

// With a source directory, all of it (less ignored files) under its own name; without, just the entry script.
absl::StatusOr<Snapshot> PackSource(const std::string& source_directory, const std::string& entry_script);

}  // namespace amlcore::internal

#endif  // AMLCORE_CLIENT_SNAPSHOT_H_
