// The one place where a failed absl::Status becomes a Python exception from amlcore.exceptions.
#ifndef AMLCORE_PYTHON_SRC_STATUS_H_
#define AMLCORE_PYTHON_SRC_STATUS_H_

#include <pybind11/pybind11.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace amlcore::python {

// Raises the exception matching the status's kind: ComputeTargetException, UserErrorException, ...;
// a wait's kDeadlineExceeded raises the kind's TimeoutError subclass; kCancelled re-raises the pending
// KeyboardInterrupt (or raises one).
[[noreturn]] void Raise(const absl::Status& status);

inline void ThrowIfError(const absl::Status& status) {
  if (!status.ok()) Raise(status);
}

template <class T>
T ValueOrThrow(absl::StatusOr<T> value) {
  if (!value.ok()) Raise(value.status());
  return std::move(*value);
}

}  // namespace amlcore::python

#endif  // AMLCORE_PYTHON_SRC_STATUS_H_
