#include "client/polling.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/errors.h"

namespace amlcore::internal {
namespace {
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

bool Terminal(const std::string& status) {
  return status == "Succeeded" || status == "Failed" || status == "Canceled";
}
}  // namespace

std::string PathOf(absl::string_view url) {
  absl::string_view rest = url;
  if (absl::ConsumePrefix(&rest, "http://") || absl::ConsumePrefix(&rest, "https://")) {
    size_t slash = rest.find('/');
    return slash == absl::string_view::npos ? "/" : std::string(rest.substr(slash));
  }
  return std::string(url);
}

absl::StatusOr<PollSnapshot> LongPoll(Connection& connection, const std::string& url, const PollOptions& options,
                                      const std::function<absl::StatusOr<PollSnapshot>(const std::string&)>& parse,
                                      const std::function<std::string(const std::string& state)>& timeout_message) {
  std::string path = PathOf(url);
  std::string separator = path.find('?') == std::string::npos ? "?" : "&";
  auto start = Clock::now();
  auto progress = [&](absl::string_view text) {
    if (options.on_progress) options.on_progress(text);
  };
  int64_t version = -1;
  std::string shown;
  auto timed_out = [&] {
    progress("\n");
    return absl::DeadlineExceededError(timeout_message(shown));
  };
  for (int poll = 0;; ++poll) {
    auto left = options.timeout ? *options.timeout - std::chrono::duration_cast<std::chrono::milliseconds>(
                                                         Clock::now() - start)
                                : std::chrono::milliseconds::max();
    if (left <= 0ms) return timed_out();
    // The first request returns at once; later ones wait on the server until something changes.
    int64_t wait_seconds = 0;
    if (poll > 0) {
      auto wait = std::min(std::max<std::chrono::milliseconds>(options.interval, 1s), left);
      wait_seconds = std::max<int64_t>(1, std::chrono::ceil<std::chrono::seconds>(wait).count());
    }
    CallOptions call;
    call.timeout = std::min<std::chrono::milliseconds>(std::chrono::seconds(wait_seconds + 30), left);
    call.cancelled = options.cancelled;
    auto reply = connection.Call(
        "GET", absl::StrCat(path, separator, "waitSeconds=", wait_seconds, "&version=", version), "", call);
    if (!reply.ok()) {
      // The request was cut short by the caller's timeout rather than by the server.
      if (absl::IsDeadlineExceeded(reply.status()) && options.timeout && call.timeout == left) return timed_out();
      return reply.status();
    }
    auto snapshot = parse(reply->body);
    if (!snapshot.ok()) return snapshot.status();
    version = snapshot->version;
    if (poll == 0) {
      progress(snapshot->state);
    } else {
      progress(".");
    }
    for (const auto& line : snapshot->new_lines) progress(absl::StrCat("\n", line));
    if (poll > 0 && snapshot->state != shown) progress(absl::StrCat("\n", snapshot->state));
    shown = snapshot->state;
    if (snapshot->terminal) {
      progress("\n");
      return *snapshot;
    }
  }
}

absl::StatusOr<domain::AsyncOperationStatus> WaitForAsyncOperation(Connection& connection,
                                                                   const std::string& operation_url,
                                                                   const PollOptions& options) {
  domain::AsyncOperationStatus last;
  auto done = LongPoll(
      connection, operation_url, options,
      [&](const std::string& body) -> absl::StatusOr<PollSnapshot> {
        auto status = domain::AsyncOperationStatusFromJson(body);
        if (!status.ok()) return status.status();
        last = *status;
        return PollSnapshot{status->provisioning_state.empty() ? status->status : status->provisioning_state,
                            Terminal(status->status), status->log_version, {}};
      },
      [&](const std::string& state) {
        return absl::StrCat("Operation polling exceeded timeout override of ", options.timeout->count() / 1000.0,
                            "s. Current state: ", state);
      });
  if (!done.ok()) return done.status();
  return last;
}

}  // namespace amlcore::internal
