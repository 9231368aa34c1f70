#include "server/operations.h"


#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/log.h"

namespace amlcore::server {

Operations::Operations(Store* store, ChangeNotifier* notifier, ControllerQueue* controllers)
    : store_(store), notifier_(notifier), controllers_(controllers) {}

absl::Status Operations::Start(Tx& tx, OperationRecord& operation, const std::string& first_log_line) {
  operation.id = Uuid4();
  operation.status = OperationStatus::kInProgress;
  operation.created = NowTimestamp();
  if (operation.payload.empty()) operation.payload = "{}";
  if (auto s = store_->InsertOperation(tx, operation); !s.ok()) return s;
  started_.Add({operation.type});
  return store_->AppendOperationLog(tx, operation.id, first_log_line);
}

absl::StatusOr<OperationRecord> Operations::Get(const std::string& id) {
  std::optional<OperationRecord> found;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto op = store_->GetOperation(tx, id);
    if (!op.ok()) return op.status();
    found = std::move(*op);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!found) {
    return MakeError(absl::StatusCode::kNotFound, "OperationNotFound", absl::StrCat("No operation with id ", id, "."));
  }
  return std::move(*found);
}

absl::StatusOr<domain::OperationView> Operations::View(const std::string& id, bool with_log) {
  domain::OperationView view;
  bool found = false;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto op = store_->GetOperation(tx, id);
    if (!op.ok()) return op.status();
    if (!op->has_value()) return absl::OkStatus();
    found = true;
    const OperationRecord& o = **op;
    view = domain::OperationView{o.id,         o.type,          o.status,        o.phase,  o.created, o.ended,
                                 o.error_code, o.error_message, o.resource_name, o.version, {}};
    if (!with_log) return absl::OkStatus();
    auto lines = store_->OperationLog(tx, id);
    if (!lines.ok()) return lines.status();
    for (const auto& l : *lines) view.log.push_back({l.time, l.message});
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!found) {
    return MakeError(absl::StatusCode::kNotFound, "OperationNotFound", absl::StrCat("No operation with id ", id, "."));
  }
  return view;
}

absl::Status Operations::Commit(const std::string& operation_id, const Change& change) {
  auto status = store_->db().Transaction([&](Tx& tx) -> absl::Status {
    auto op = store_->GetOperation(tx, operation_id);
    if (!op.ok()) return op.status();
    if (!op->has_value()) return absl::NotFoundError(absl::StrCat("No operation with id ", operation_id));
    OperationRecord record = **op;
    if (auto s = change(tx, record); !s.ok()) return s;
    return store_->UpdateOperation(tx, record);
  });
  if (!status.ok()) {
    logging::Error(absl::StrCat("operation ", operation_id, ": ", status.ToString()));
  }
  notifier_->Notify(operation_id);
  return status;
}

absl::Status Operations::Log(const std::string& operation_id, const std::string& message) {
  auto status = store_->db().Transaction(
      [&](Tx& tx) { return store_->AppendOperationLog(tx, operation_id, message); });
  notifier_->Notify(operation_id);
  return status;
}

absl::Status Operations::Finish(Tx& tx, OperationRecord& op, const std::string& status, const std::string& last_line,
                                const absl::Status& error) {
  op.status = status;
  op.phase = status;
  op.ended = NowTimestamp();
  finished_.Add({op.type, status});
  durations_.Observe({op.type, status},
                     absl::ToChronoNanoseconds(ParseTimestamp(op.ended) - ParseTimestamp(op.created)));
  if (!error.ok()) {
    op.error_code = ErrorCodeOf(error);
    op.error_message = std::string(error.message());
  }
  return store_->AppendOperationLog(tx, op.id, last_line);
}

void Operations::AppendMetrics(prometheus::TextWriter& out) const {
  out.Family("amlcore_server_operations_started_total", prometheus::kCounter,
             "Long-running operations started, by kind (ServiceCreate, ComputeProvision, ...).");
  for (const auto& [values, count] : started_.Snapshot()) out.Sample(prometheus::Zip({"kind"}, values), count);
  out.Family("amlcore_server_operations_total", prometheus::kCounter,
             "Long-running operations ended, by kind and result (Succeeded, Failed, Canceled).");
  for (const auto& [values, count] : finished_.Snapshot()) {
    out.Sample(prometheus::Zip({"kind", "result"}, values), count);
  }
  out.Family("amlcore_server_operation_duration_seconds", prometheus::kHistogram,
             "Time from an operation's start to its end, by kind and result.");
  durations_.ForEach([&](const std::vector<std::string>& values, const prometheus::Histogram& histogram) {
    out.Sample(prometheus::Zip({"kind", "result"}, values), histogram);
  });
}

}  // namespace amlcore::server
