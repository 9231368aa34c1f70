// Options for waiting on long-running operations (compute provisioning, deployments).
//
//   amlcore::PollOptions options;
//   options.timeout = std::chrono::minutes(5);
//   options.on_progress = [](absl::string_view text) { std::cout << text << std::flush; };
//   absl::Status done = compute->WaitForCompletion(options);
#ifndef AMLCORE_OPERATION_H_
#define AMLCORE_OPERATION_H_

#include <chrono>
#include <functional>
#include <optional>
#include "absl/strings/string_view.h"

namespace amlcore {

struct PollOptions {
  // Give up after this long with kDeadlineExceeded; the operation itself continues. Unset waits forever.
  std::optional<std::chrono::milliseconds> timeout;
  // The longest one status request waits on the server; the server answers as soon as anything changes.
  std::chrono::milliseconds interval{5000};
  // Receives the progress text azureml prints with show_output=True, piece by piece.
  std::function<void(absl::string_view text)> on_progress;
  // Polled about every 100 ms; returning true ends the wait with kCancelled.
  std::function<bool()> cancelled;
};

}  // namespace amlcore

#endif  // AMLCORE_OPERATION_H_
