// Running SDK calls from Python: without the GIL, with progress written to sys.stdout (so notebooks capture
// it) and Ctrl-C noticed within about 100 ms.
#ifndef AMLCORE_PYTHON_SRC_WAIT_H_
#define AMLCORE_PYTHON_SRC_WAIT_H_

#include <pybind11/pybind11.h>

#include <functional>
#include <optional>
#include <utility>

#include "absl/strings/string_view.h"

#include "amlcore/operation.h"

namespace amlcore::python {

// Poll options for a wait: show_output prints azureml's progress; timeout is in seconds.
PollOptions MakePollOptions(bool show_output, std::optional<double> timeout_seconds);

// A progress callback that writes each line it gets, and a newline, to sys.stdout; none when `show` is false.
std::function<void(absl::string_view)> PrintLines(bool show);

// Calls f() with the GIL released.
template <class F>
auto WithoutGil(F&& f) {
  pybind11::gil_scoped_release release;
  return std::forward<F>(f)();
}

}  // namespace amlcore::python

#endif  // AMLCORE_PYTHON_SRC_WAIT_H_
