#include "python/src/status.h"

#include <string>

#include "amlcore/error.h"

namespace amlcore::python {
namespace py = pybind11;

void Raise(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kCancelled) {
    if (PyErr_Occurred()) throw py::error_already_set();  // the KeyboardInterrupt PyErr_CheckSignals raised
    PyErr_SetString(PyExc_KeyboardInterrupt, std::string(status.message()).c_str());
    throw py::error_already_set();
  }
  ErrorInfo info = GetErrorInfo(status);
  const char* name = "AzureMLException";
  switch (info.kind) {
    case ErrorKind::kUserError: name = "UserErrorException"; break;
    case ErrorKind::kComputeTarget: name = "ComputeTargetException"; break;
    case ErrorKind::kWebservice: name = "WebserviceException"; break;
    case ErrorKind::kModelNotFound: name = "ModelNotFoundException"; break;
    case ErrorKind::kGeneric: break;
  }
  py::module_ exceptions = py::module_::import("amlcore.exceptions");
  py::object cls = exceptions.attr("_exception_class")(name, status.code() == absl::StatusCode::kDeadlineExceeded);
  py::dict details;
  details["error_code"] = info.error_code.empty() ? py::object(py::none()) : py::str(info.error_code);
  details["http_status"] = info.http_status == 0 ? py::object(py::none()) : py::int_(info.http_status);
  details["request_id"] = info.request_id.empty() ? py::object(py::none()) : py::str(info.request_id);
  details["operation_state"] = info.operation_state.empty() ? py::object(py::none()) : py::str(info.operation_state);
  py::object exception = cls(py::str(std::string(status.message())), **details);
  PyErr_SetObject(cls.ptr(), exception.ptr());
  throw py::error_already_set();
}

}  // namespace amlcore::python
