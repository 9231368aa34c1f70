#include "domain/operation_wire.h"

#include "absl/strings/str_cat.h"

namespace amlcore::domain {

bool ModelManagementOperation::terminal() const {
  return state == "Succeeded" || state == "Failed" || state == "Cancelled" || state == "TimedOut";
}

ModelManagementOperation ToModelManagement(const OperationView& op) {
  // The model management API words two states its own way.
  std::string state = op.status == "InProgress" ? "Running" : op.status == "Canceled" ? "Cancelled" : op.status;
  ModelManagementOperation out;
  out.id = op.id;
  out.operation_type = op.type;
  out.state = state;
  out.created_time = op.created;
  if (!op.ended.empty()) out.end_time = op.ended;
  if (!op.error_code.empty() || !op.error_message.empty()) out.error = OperationError{op.error_code, op.error_message};
  out.operation_details = {op.phase, state};
  out.resource_location = absl::StrCat("/services/", op.resource_name);
  out.version = op.version;
  out.operation_log = op.log;
  return out;
}

AsyncOperationStatus ToAsyncStatus(const OperationView& op) {
  AsyncOperationStatus s;
  s.status = op.status;
  s.provisioning_state = op.status == "InProgress" ? op.phase : op.status;
  s.error_code = op.error_code;
  s.error_message = op.error_message;
  s.log_version = op.version;
  return s;
}

}  // namespace amlcore::domain
