// The lines amlcore's processes write about themselves, each with its time and level:
//   2026-12-02T16:40:53.123Z INFO amlcore-fe: replica r1 stopped: OOMKilled
// A message of several lines gets the prefix on every line. A message goes to stderr (which the process's log
// file captures) in one write, so that lines from threads and child processes do not interleave.
//
//   logging::SetProgram("amlcore-fe");
//   logging::Warning(absl::StrCat("replica ", id, " stopped: ", reason));
#ifndef AMLCORE_COMMON_LOG_H_
#define AMLCORE_COMMON_LOG_H_

#include <string>

#include "absl/strings/string_view.h"

namespace amlcore::logging {

enum class Level { kInfo, kWarning, kError };

// The name lines carry after their level; set once at start-up ("amlcore" until then).
void SetProgram(absl::string_view program);
// `message` as log lines (each ending in a newline), stamped now; `tag` (a request id) follows the program's
// name on every line when given.
std::string Format(Level level, absl::string_view message, absl::string_view tag = {});
void Write(Level level, absl::string_view message);

inline void Info(absl::string_view message) { Write(Level::kInfo, message); }
inline void Warning(absl::string_view message) { Write(Level::kWarning, message); }
inline void Error(absl::string_view message) { Write(Level::kError, message); }

}  // namespace amlcore::logging

#endif  // AMLCORE_COMMON_LOG_H_
