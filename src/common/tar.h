// A minimal ustar writer and a careful reader: source snapshots travel as tar archives. Extraction refuses
// absolute paths, "..", links and devices, so an archive can only write inside its target directory.
#ifndef AMLCORE_COMMON_TAR_H_
#define AMLCORE_COMMON_TAR_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace amlcore {

struct TarEntry {
  std::string path;  // relative, '/'-separated; directories end without '/'
  std::string content;
  bool directory = false;
  bool executable = false;
};

// Paths longer than ustar allows (100, or 255 with a prefix split at '/') are kInvalidArgument.
absl::StatusOr<std::string> WriteTar(const std::vector<TarEntry>& entries);
absl::StatusOr<std::vector<TarEntry>> ReadTar(absl::string_view archive);
// Reads and writes every entry under `directory` (created when missing).
absl::Status ExtractTar(absl::string_view archive, const std::string& directory);

}  // namespace amlcore

#endif  // AMLCORE_COMMON_TAR_H_
