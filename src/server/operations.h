// Long-running operations: rows in the database with a state, a phase, an error and an append-only log. They
// record the progress of a change to one resource (keyed by its kind and id); the resource's controller
// advances them, and long-polling clients watch them.
//
//   operations.Accept<Accepted>([&](Tx& tx, Accepted& out) { ... operations.Start(tx, op, "Deleting x") ... });
// commits the request's changes and its operation in one transaction, then wakes the resource's controller.
#ifndef AMLCORE_SERVER_OPERATIONS_H_
#define AMLCORE_SERVER_OPERATIONS_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "domain/operation_wire.h"
#include "common/prometheus.h"
#include "server/change_notifier.h"
#include "server/controller_queue.h"
#include "server/store.h"

namespace amlcore::server {

class Operations {
 public:
  using Change = std::function<absl::Status(Tx&, OperationRecord&)>;

  Operations(Store* store, ChangeNotifier* notifier, ControllerQueue* controllers);

  // Inserts a new operation (id, status, timestamps filled in) with its first log line.
  absl::Status Start(Tx& tx, OperationRecord& operation, const std::string& first_log_line);
  // Runs `body(tx, result)` in one transaction; once it has committed, wakes the controller of the resource
  // whose key the body left in result.resource_key (when it has a kind).
  template <typename Result, typename Body>
  absl::StatusOr<Result> Accept(Body&& body) {
    Result result;
    auto status = store_->db().Transaction([&](Tx& tx) -> absl::Status { return body(tx, result); });
    if (!status.ok()) return status;
    if (!result.resource_key.kind.empty()) controllers_->Enqueue(result.resource_key);
    return result;
  }

  absl::StatusOr<OperationRecord> Get(const std::string& operation_id);
  // The operation as the REST API shows it, with its log when `with_log`.
  absl::StatusOr<domain::OperationView> View(const std::string& operation_id, bool with_log);
  // Applies `change` to the operation in one transaction, then wakes its watchers.
  absl::Status Commit(const std::string& operation_id, const Change& change);
  // Appends a log line (and wakes watchers).
  absl::Status Log(const std::string& operation_id, const std::string& message);
  // Marks `operation` ended with `status` (Succeeded, Failed, Canceled), with a last log line. The caller's
  // transaction updates the row.
  absl::Status Finish(Tx& tx, OperationRecord& operation, const std::string& status, const std::string& last_line,
                      const absl::Status& error = absl::OkStatus());
  // Wakes the watchers of an operation changed in a transaction that has committed.
  void Notify(const std::string& operation_id) { notifier_->Notify(operation_id); }

  ChangeNotifier& notifier() { return *notifier_; }
  ControllerQueue& controllers() { return *controllers_; }
  // Operations started and ended since the server started, by kind and result, with their durations.
  void AppendMetrics(prometheus::TextWriter& out) const;

 private:
  Store* store_;
  ChangeNotifier* notifier_;
  ControllerQueue* controllers_;
  prometheus::LabeledCounters started_;   // by kind
  prometheus::LabeledCounters finished_;  // by kind and result
  prometheus::LabeledHistograms durations_{prometheus::Histogram::Scale::kOperations};
};

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_OPERATIONS_H_
