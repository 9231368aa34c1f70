#include "server/operations.h"

#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/errors.h"

namespace amlcore::server {

Operations::Operations(Store* store, ChangeNotifier* notifier, int threads)
    : store_(store), notifier_(notifier), runner_(threads, [this](const std::string& id) { Run(id); }) {}

Operations::~Operations() { runner_.Shutdown(); }

void Operations::Register(const std::string& type, Handler handler) { handlers_[type] = std::move(handler); }

absl::Status Operations::Start(Tx& tx, OperationRecord& operation, const std::string& first_log_line) {
  operation.id = Uuid4();
  operation.status = OperationStatus::kInProgress;
  operation.created = NowTimestamp();
  if (operation.payload.empty()) operation.payload = "{}";
  if (auto s = store_->InsertOperation(tx, operation); !s.ok()) return s;
  return store_->AppendOperationLog(tx, operation.id, first_log_line);
}

void Operations::Submit(const std::string& operation_id) { runner_.Submit(operation_id); }

absl::Status Operations::Resume() {
  std::vector<OperationRecord> unfinished;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto ops = store_->UnfinishedOperations(tx);
    if (!ops.ok()) return ops.status();
    unfinished = std::move(*ops);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  for (const auto& op : unfinished) {
    std::fprintf(stderr, "amlcored: resuming %s operation %s on %s\n", op.type.c_str(), op.id.c_str(),
                 op.target_name.c_str());
    Submit(op.id);
  }
  return absl::OkStatus();
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
    std::fprintf(stderr, "amlcored: operation %s: %s\n", operation_id.c_str(), status.ToString().c_str());
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
  if (!error.ok()) {
    op.error_code = ErrorCodeOf(error);
    op.error_message = std::string(error.message());
  }
  return store_->AppendOperationLog(tx, op.id, last_line);
}

bool Operations::SleepUnlessStopping(std::chrono::milliseconds duration) const {
  auto deadline = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < deadline) {
    if (stopping()) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        deadline - std::chrono::steady_clock::now(), std::chrono::milliseconds(50)));
  }
  return !stopping();
}

void Operations::Run(const std::string& operation_id) {
  auto op = Get(operation_id);
  if (!op.ok() || op->done()) return;
  auto handler = handlers_.find(op->type);
  if (handler != handlers_.end()) return handler->second(*op);
  (void)Commit(operation_id, [&](Tx& tx, OperationRecord& record) {
    return Finish(tx, record, OperationStatus::kFailed, "Failed",
                  absl::InternalError(absl::StrCat("No handler for operations of type ", record.type)));
  });
}

}  // namespace amlcore::server
