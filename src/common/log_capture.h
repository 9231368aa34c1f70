// Keeps a process's output in a log file of bounded size. Its stdout and stderr (or other descriptors) are
// pointed at a pipe that a thread of its own copies into the file; past `max_file_bytes` the file is renamed
// to "<path>.1" (replacing the one before) and a new one started, at a line boundary when there is one. At
// most about twice the cap is kept, however much is written. Processes forked later inherit the pipe, so
// their output is bounded too; writes block only while the thread catches up.
//
//   auto capture = LogCapture::Start("/replicas/r1/replica.log", {});
//   ...
//   capture->Flush();  // before an abrupt exit, so that the last words reach the file
#ifndef AMLCORE_COMMON_LOG_CAPTURE_H_
#define AMLCORE_COMMON_LOG_CAPTURE_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace amlcore {

class LogCapture {
 public:
  struct Options {
    size_t max_file_bytes = 10u * 1024 * 1024;
    std::vector<int> descriptors = {1, 2};  // pointed at the pipe
  };

  // Opens (appends to) `path` and starts copying. The descriptors keep pointing at the pipe for good.
  static absl::StatusOr<std::unique_ptr<LogCapture>> Start(const std::string& path, const Options& options);
  // Flushes, then points the descriptors at the file itself (for whatever is written during exit) and stops.
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // Returns once everything written to the pipe before the call is in the file.
  void Flush();

  struct Impl;

 private:
  explicit LogCapture(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace amlcore

#endif  // AMLCORE_COMMON_LOG_CAPTURE_H_
