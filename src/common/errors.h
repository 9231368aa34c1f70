// Structured details carried on absl::Status values: the service's error code, the HTTP status and request id
// of the call that failed, and the state of the operation it concerned. One table maps HTTP statuses to
// status codes and back; one function turns an {"error": {code, message}} body into a Status.
#ifndef AMLCORE_COMMON_ERRORS_H_
#define AMLCORE_COMMON_ERRORS_H_

#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace amlcore {

absl::StatusCode StatusCodeFromHttp(int http_status);
int HttpStatusFromCode(absl::StatusCode code);

// Builders: each returns a copy of `status` with the detail attached.
absl::Status WithErrorCode(absl::Status status, absl::string_view error_code);
absl::Status WithHttpStatus(absl::Status status, int http_status);
absl::Status WithRequestId(absl::Status status, absl::string_view request_id);
absl::Status WithOperationState(absl::Status status, absl::string_view state);
// Which family of errors the status belongs to, used to pick the Python exception ("compute", ...).
absl::Status WithErrorKind(absl::Status status, absl::string_view kind);
// Replaces the message, keeping code and details.
absl::Status WithMessage(const absl::Status& status, absl::string_view message);

std::string ErrorCodeOf(const absl::Status& status);
std::optional<int> HttpStatusOf(const absl::Status& status);
std::string RequestIdOf(const absl::Status& status);
std::string OperationStateOf(const absl::Status& status);
std::string ErrorKindOf(const absl::Status& status);

// Convenience: a status with code and error code in one call.
absl::Status MakeError(absl::StatusCode code, absl::string_view error_code, absl::string_view message);

// Turns a failed HTTP exchange into a Status: the code from the HTTP status, the message and error code
// from an {"error": {"code", "message"}} body when there is one (else the body text).
absl::Status StatusFromHttpError(int http_status, absl::string_view body, absl::string_view request_id);

}  // namespace amlcore

#endif  // AMLCORE_COMMON_ERRORS_H_
