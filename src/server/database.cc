#include "server/database.h"

#include <sqlite3.h>

#include "absl/strings/str_cat.h"

namespace amlcore::server {
namespace {

struct StatementDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

}  // namespace

std::string Row::Text(int column) const {
  const unsigned char* text = sqlite3_column_text(statement_, column);
  if (text == nullptr) return std::string();
  return std::string(reinterpret_cast<const char*>(text), sqlite3_column_bytes(statement_, column));
}
int64_t Row::Int(int column) const { return sqlite3_column_int64(statement_, column); }
double Row::Real(int column) const { return sqlite3_column_double(statement_, column); }
bool Row::IsNull(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close(raw);
    return absl::UnavailableError(absl::StrCat("Cannot open database ", path, ": ", message));
  }
  std::unique_ptr<Database> db(new Database(raw));
  sqlite3_busy_timeout(raw, 5000);
  for (auto pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON"}) {
    if (auto s = db->Exec(pragma); !s.ok()) return s;
  }
  return db;
}

Database::~Database() { sqlite3_close(db_); }

absl::Status Database::Error(absl::string_view what) const {
  return absl::InternalError(absl::StrCat("Database error in ", what, ": ", sqlite3_errmsg(db_)));
}

absl::Status Database::Exec(absl::string_view sql) {
  char* message = nullptr;
  std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string error = message ? message : "unknown error";
    sqlite3_free(message);
    return absl::InternalError(absl::StrCat("Database error in '", sql.substr(0, 60), "': ", error));
  }
  return absl::OkStatus();
}

absl::Status Database::Enter() {
  if (owner_.load() == std::this_thread::get_id()) {
    return absl::InternalError("Nested database access from one thread (a bug: pass the transaction along)");
  }
  mu_.lock();
  owner_ = std::this_thread::get_id();
  return absl::OkStatus();
}

void Database::Leave() {
  owner_ = std::thread::id();
  mu_.unlock();
}

absl::Status Database::Transaction(const std::function<absl::Status(Tx&)>& fn) {
  if (auto s = Enter(); !s.ok()) return s;
  absl::Status status = Exec("BEGIN IMMEDIATE");
  if (status.ok()) {
    Tx tx(this);
    status = fn(tx);
    if (status.ok()) status = Exec("COMMIT");
    if (!status.ok()) (void)Exec("ROLLBACK");
  }
  Leave();
  return status;
}

absl::Status Database::Read(const std::function<absl::Status(Tx&)>& fn) {
  if (auto s = Enter(); !s.ok()) return s;
  Tx tx(this);
  absl::Status status = fn(tx);
  Leave();
  return status;
}

absl::Status Database::Migrate(const std::vector<std::string>& migrations) {
  return Transaction([&](Tx& tx) -> absl::Status {
    int64_t version = 0;
    if (auto s = tx.Query("PRAGMA user_version", {}, [&](const Row& r) { version = r.Int(0); }); !s.ok()) return s;
    for (size_t i = static_cast<size_t>(version); i < migrations.size(); ++i) {
      if (auto s = Exec(migrations[i]); !s.ok()) return s;
    }
    if (version < static_cast<int64_t>(migrations.size())) {
      return Exec(absl::StrCat("PRAGMA user_version = ", migrations.size()));
    }
    return absl::OkStatus();
  });
}

namespace {
absl::StatusOr<Statement> Prepare(sqlite3* db, absl::string_view sql, const std::vector<SqlValue>& params) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, nullptr) != SQLITE_OK) {
    return absl::InternalError(absl::StrCat("Database error preparing '", sql, "': ", sqlite3_errmsg(db)));
  }
  Statement statement(raw);
  for (size_t i = 0; i < params.size(); ++i) {
    int index = static_cast<int>(i + 1);
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::nullptr_t>) {
            sqlite3_bind_null(raw, index);
          } else if constexpr (std::is_same_v<T, int64_t>) {
            sqlite3_bind_int64(raw, index, v);
          } else if constexpr (std::is_same_v<T, double>) {
            sqlite3_bind_double(raw, index, v);
          } else {
            sqlite3_bind_text(raw, index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
          }
        },
        params[i]);
  }
  return statement;
}
}  // namespace

absl::StatusOr<int64_t> Database::Tx::Execute(absl::string_view sql, const std::vector<SqlValue>& params) {
  auto statement = Prepare(db_->db_, sql, params);
  if (!statement.ok()) return statement.status();
  int rc;
  while ((rc = sqlite3_step(statement->get())) == SQLITE_ROW) {
  }
  if (rc != SQLITE_DONE) {
    if (rc == SQLITE_CONSTRAINT) {
      return absl::AlreadyExistsError(absl::StrCat("Constraint violated: ", sqlite3_errmsg(db_->db_)));
    }
    return db_->Error(sql);
  }
  return sqlite3_changes64(db_->db_);
}

absl::Status Database::Tx::Query(absl::string_view sql, const std::vector<SqlValue>& params,
                                 const std::function<void(const Row&)>& on_row) {
  auto statement = Prepare(db_->db_, sql, params);
  if (!statement.ok()) return statement.status();
  int rc;
  Row row(statement->get());
  while ((rc = sqlite3_step(statement->get())) == SQLITE_ROW) on_row(row);
  if (rc != SQLITE_DONE) return db_->Error(sql);
  return absl::OkStatus();
}

int64_t Database::Tx::LastInsertId() const { return sqlite3_last_insert_rowid(db_->db_); }

}  // namespace amlcore::server
