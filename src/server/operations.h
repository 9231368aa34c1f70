// Long-running operations: rows in the database with a state, a phase, an error and an append-only log,
// advanced by handlers on the runner's threads and watched by long-polling clients.
//
//   operations.Register("ComputeDelete", [&](const OperationRecord& op) { ... operations.Finish(...) ... });
//   db.Transaction([&](Tx& tx) { return operations.Start(tx, record, "Deleting cluster x"); });
//   operations.Submit(record.id);
// or, for a request that answers with what it started, operations.Accept<Accepted>(body).
#ifndef AMLCORE_SERVER_OPERATIONS_H_
#define AMLCORE_SERVER_OPERATIONS_H_

#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "server/change_notifier.h"
#include "server/operation_runner.h"
#include "server/store.h"

namespace amlcore::server {

class Operations {
 public:
  using Handler = std::function<void(const OperationRecord&)>;
  using Change = std::function<absl::Status(Tx&, OperationRecord&)>;

  Operations(Store* store, ChangeNotifier* notifier, int threads);
  ~Operations();

  void Register(const std::string& type, Handler handler);

  // Inserts a new operation (id, status, timestamps filled in) with its first log line.
  absl::Status Start(Tx& tx, OperationRecord& operation, const std::string& first_log_line);
  // Queues an operation for its handler; call after the transaction that started it committed.
  void Submit(const std::string& operation_id);
  // Runs `body(tx, result)` in one transaction; once it has committed, submits the operation whose id the
  // body left in result.operation_id (none when it is empty).
  template <typename Result, typename Body>
  absl::StatusOr<Result> Accept(Body&& body) {
    Result result;
    auto status = store_->db().Transaction([&](Tx& tx) -> absl::Status { return body(tx, result); });
    if (!status.ok()) return status;
    if (!result.operation_id.empty()) Submit(result.operation_id);
    return result;
  }
  // Queues every unfinished operation (after a restart).
  absl::Status Resume();

  absl::StatusOr<OperationRecord> Get(const std::string& operation_id);
  // Applies `change` to the operation in one transaction, then wakes its watchers.
  absl::Status Commit(const std::string& operation_id, const Change& change);
  // Appends a log line (and wakes watchers).
  absl::Status Log(const std::string& operation_id, const std::string& message);
  // Marks `operation` ended with `status` (Succeeded, Failed, Canceled), with a last log line.
  absl::Status Finish(Tx& tx, OperationRecord& operation, const std::string& status, const std::string& last_line,
                      const absl::Status& error = absl::OkStatus());

  ChangeNotifier& notifier() { return *notifier_; }
  bool stopping() const { return runner_.stopping(); }
  // Sleeps up to `duration` in slices; false when the server is stopping.
  bool SleepUnlessStopping(std::chrono::milliseconds duration) const;
  void Shutdown() { runner_.Shutdown(); }

 private:
  void Run(const std::string& operation_id);

  Store* store_;
  ChangeNotifier* notifier_;
  std::map<std::string, Handler> handlers_;
  OperationRunner runner_;
};

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_OPERATIONS_H_
