#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace amlcore::logging {
namespace {

std::atomic<std::shared_ptr<const std::string>>& Program() {
  static std::atomic<std::shared_ptr<const std::string>> program{std::make_shared<const std::string>("amlcore")};
  return program;
}

const char* LevelName(Level level) {
  switch (level) {
    case Level::kInfo:
      return "INFO";
    case Level::kWarning:
      return "WARNING";
    case Level::kError:
      return "ERROR";
  }
  return "INFO";
}

}  // namespace

void SetProgram(absl::string_view program) { Program().store(std::make_shared<const std::string>(program)); }

std::string Format(Level level, absl::string_view message, absl::string_view tag) {
  std::string prefix = absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), " ",
                                    LevelName(level), " ", *Program().load(), ": ", tag, tag.empty() ? "" : " ");
  absl::ConsumeSuffix(&message, "\n");
  std::string out;
  for (absl::string_view line : absl::StrSplit(message, '\n')) absl::StrAppend(&out, prefix, line, "\n");
  return out;
}

void Write(Level level, absl::string_view message) {
  std::string text = Format(level, message);
  absl::string_view left = text;
  while (!left.empty()) {
    ssize_t n = ::write(STDERR_FILENO, left.data(), left.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    left.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace amlcore::logging
