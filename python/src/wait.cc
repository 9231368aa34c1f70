#include "python/src/wait.h"

#include <string>

namespace amlcore::python {
namespace py = pybind11;

namespace {
void WriteToStdout(absl::string_view text) {
  py::gil_scoped_acquire gil;
  try {
    py::object out = py::module_::import("sys").attr("stdout");
    out.attr("write")(py::str(text.data(), text.size()));
    out.attr("flush")();
  } catch (py::error_already_set&) {
    // A closed or broken stdout must not break the call.
  }
}
}  // namespace

std::function<void(absl::string_view)> PrintLines(bool show) {
  if (!show) return nullptr;
  return [](absl::string_view line) { WriteToStdout(std::string(line) + "\n"); };
}

PollOptions MakePollOptions(bool show_output, std::optional<double> timeout_seconds) {
  PollOptions options;
  if (timeout_seconds) {
    options.timeout = std::chrono::milliseconds(static_cast<int64_t>(*timeout_seconds * 1000));
  }
  if (show_output) {
    options.on_progress = WriteToStdout;
  }
  options.cancelled = [] {
    py::gil_scoped_acquire gil;
    return PyErr_CheckSignals() != 0;  // leaves the KeyboardInterrupt set for Raise()
  };
  return options;
}

}  // namespace amlcore::python
