// A SQLite database in WAL mode with one connection. Every access runs under the connection's lock, and every
// change runs inside Transaction(), which commits only when the callback returns OK.
//
//   db->Transaction([&](Database::Tx& tx) -> absl::Status {
//     return tx.Execute("UPDATE computes SET state = ? WHERE id = ?", {"Succeeded", id}).status();
//   });
#ifndef AMLCORE_SERVER_DATABASE_H_
#define AMLCORE_SERVER_DATABASE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <atomic>
#include <mutex>
#include <thread>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct sqlite3;
struct sqlite3_stmt;

namespace amlcore::server {

using SqlValue = std::variant<std::nullptr_t, int64_t, double, std::string>;

// One result row; columns by index.
class Row {
 public:
  explicit Row(sqlite3_stmt* statement) : statement_(statement) {}
  std::string Text(int column) const;
  int64_t Int(int column) const;
  double Real(int column) const;
  bool IsNull(int column) const;

 private:
  sqlite3_stmt* statement_;
};

class Database {
 public:
  class Tx {
   public:
    // Runs `sql` with `params` bound to its ? placeholders; returns the number of changed rows.
    absl::StatusOr<int64_t> Execute(absl::string_view sql, const std::vector<SqlValue>& params = {});
    // Calls `on_row` for each result row.
    absl::Status Query(absl::string_view sql, const std::vector<SqlValue>& params,
                       const std::function<void(const Row&)>& on_row);
    int64_t LastInsertId() const;

   private:
    friend class Database;
    explicit Tx(Database* db) : db_(db) {}
    Database* db_;
  };

  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& path);
  ~Database();

  // BEGIN IMMEDIATE; fn; COMMIT (or ROLLBACK when fn fails). Not reentrant.
  absl::Status Transaction(const std::function<absl::Status(Tx&)>& fn);
  // A read without a write transaction.
  absl::Status Read(const std::function<absl::Status(Tx&)>& fn);
  // Applies schema statements once per version (PRAGMA user_version).
  absl::Status Migrate(const std::vector<std::string>& migrations);

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  absl::Status Exec(absl::string_view sql);
  absl::Status Error(absl::string_view what) const;

  // Takes mu_, refusing (instead of deadlocking) a nested access from the thread that holds it.
  absl::Status Enter();
  void Leave();

  sqlite3* db_;
  std::mutex mu_;
  std::atomic<std::thread::id> owner_{};
};

// Every row of `sql`, each read by `from_row`.
template <class Record>
absl::StatusOr<std::vector<Record>> QueryAll(Database::Tx& tx, absl::string_view sql,
                                             const std::vector<SqlValue>& params, Record (*from_row)(const Row&)) {
  std::vector<Record> out;
  if (auto s = tx.Query(sql, params, [&](const Row& r) { out.push_back(from_row(r)); }); !s.ok()) return s;
  return out;
}

// The first row of `sql`, if there is one.
template <class Record>
absl::StatusOr<std::optional<Record>> QueryOne(Database::Tx& tx, absl::string_view sql,
                                               const std::vector<SqlValue>& params, Record (*from_row)(const Row&)) {
  auto all = QueryAll(tx, sql, params, from_row);
  if (!all.ok()) return all.status();
  if (all->empty()) return std::optional<Record>();
  return std::optional<Record>(std::move(all->front()));
}

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_DATABASE_H_
