// Details that amlcore attaches to every failed absl::Status it returns.
//
//   absl::StatusOr<amlcore::Workspace> ws = amlcore::Workspace::Get("my-ws");
//   if (!ws.ok()) std::cerr << amlcore::GetErrorInfo(ws.status()).error_code;
//
// Status codes tell failures apart: the request failed (kUnavailable, kInvalidArgument, kNotFound, and
// kAlreadyExists for every HTTP 409 conflict, whose error_code names it), the operation ended Failed or
// Canceled (kAborted, with operation_state), a wait ran out of time (kDeadlineExceeded), or the caller
// interrupted it (kCancelled).
#ifndef AMLCORE_ERROR_H_
#define AMLCORE_ERROR_H_

#include <string>

#include "absl/status/status.h"

namespace amlcore {

// The family of an error; the Python package raises a matching exception class.
enum class ErrorKind {
  kGeneric,        // AzureMLException
  kUserError,      // UserErrorException
  kComputeTarget,  // ComputeTargetException
  kWebservice,     // WebserviceException
  kModelNotFound,  // ModelNotFoundException
};

struct ErrorInfo {
  ErrorKind kind = ErrorKind::kGeneric;
  std::string error_code;       // the service's code, e.g. "ComputeTargetNotFound"
  int http_status = 0;          // 0 when no HTTP response was involved
  std::string request_id;       // x-ms-request-id of the failed call
  std::string operation_state;  // state of the long-running operation concerned, if any
};

ErrorInfo GetErrorInfo(const absl::Status& status);

}  // namespace amlcore

#endif  // AMLCORE_ERROR_H_
