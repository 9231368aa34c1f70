#include "amlcore/error.h"

#include "common/errors.h"

namespace amlcore {

ErrorInfo GetErrorInfo(const absl::Status& status) {
  ErrorInfo info;
  std::string kind = ErrorKindOf(status);
  if (kind == "user") info.kind = ErrorKind::kUserError;
  if (kind == "compute") info.kind = ErrorKind::kComputeTarget;
  if (kind == "webservice") info.kind = ErrorKind::kWebservice;
  if (kind == "model_not_found") info.kind = ErrorKind::kModelNotFound;
  info.error_code = ErrorCodeOf(status);
  info.http_status = HttpStatusOf(status).value_or(0);
  info.request_id = RequestIdOf(status);
  info.operation_state = OperationStateOf(status);
  return info;
}

}  // namespace amlcore
