// Long-running operations as the two REST shapes show them: the ARM async-operation status of compute targets
// (GET <Azure-AsyncOperation URL>) and the model management operation of services (GET .../operations/{id}).
// Both are rendered from one OperationView here, and the SDK reads them with the same codecs.
#ifndef AMLCORE_DOMAIN_OPERATION_WIRE_H_
#define AMLCORE_DOMAIN_OPERATION_WIRE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/json_fields.h"
#include "domain/compute_wire.h"

namespace amlcore::domain {

struct OperationLogEntry {
  std::string time;
  std::string message;
};
constexpr auto JsonFields(const OperationLogEntry*) {
  return json::Fields(json::Field("time", &OperationLogEntry::time),
                      json::Field("message", &OperationLogEntry::message));
}

// An operation as the server keeps it.
struct OperationView {
  std::string id;
  std::string type;    // ComputeProvision, ServiceCreate, ...
  std::string status;  // InProgress, Succeeded, Failed, Canceled
  std::string phase;   // while it runs: the compute's provisioning state, or the deployment's phase
  std::string created;
  std::string ended;
  std::string error_code;
  std::string error_message;
  std::string resource_name;
  int64_t version = 0;  // changes with every change, for long polling
  std::vector<OperationLogEntry> log;
};

struct OperationError {
  std::string code;
  std::string message;
};
constexpr auto JsonFields(const OperationError*) {
  return json::Fields(json::Field("code", &OperationError::code), json::Field("message", &OperationError::message));
}

struct OperationDetails {
  std::string sub_operation_type;
  std::string sub_operation_state;
};
constexpr auto JsonFields(const OperationDetails*) {
  return json::Fields(json::Field("subOperationType", &OperationDetails::sub_operation_type),
                      json::Field("subOperationState", &OperationDetails::sub_operation_state));
}

// GET .../operations/{id} of the model management API.
struct ModelManagementOperation {
  std::string id;
  std::string operation_type;
  std::string state;  // NotStarted, Running, Succeeded, Failed, Cancelled, TimedOut
  std::string created_time;
  std::optional<std::string> end_time;
  std::optional<OperationError> error;
  OperationDetails operation_details;
  std::string resource_location;
  int64_t version = 0;
  std::vector<OperationLogEntry> operation_log;

  bool terminal() const;
};
constexpr auto JsonFields(const ModelManagementOperation*) {
  return json::Fields(json::Field("id", &ModelManagementOperation::id),
                      json::Field("operationType", &ModelManagementOperation::operation_type),
                      json::Field("state", &ModelManagementOperation::state),
                      json::Field("createdTime", &ModelManagementOperation::created_time),
                      json::Field("endTime", &ModelManagementOperation::end_time),
                      json::Field("error", &ModelManagementOperation::error),
                      json::Field("operationDetails", &ModelManagementOperation::operation_details),
                      json::Field("resourceLocation", &ModelManagementOperation::resource_location),
                      json::Field("version", &ModelManagementOperation::version),
                      json::Field("operationLog", &ModelManagementOperation::operation_log));
}

ModelManagementOperation ToModelManagement(const OperationView& operation);
AsyncOperationStatus ToAsyncStatus(const OperationView& operation);

}  // namespace amlcore::domain

#endif  // AMLCORE_DOMAIN_OPERATION_WIRE_H_
