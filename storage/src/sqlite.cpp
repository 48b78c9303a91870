// SQLite RAII wrappers.
#include "souk/storage/sqlite.hpp"

#include "souk/metrics.hpp"

#include <sqlite3.h>

#include <cerrno>
#include <chrono>

namespace souk::storage {
namespace {

[[noreturn]] void throw_error(sqlite3* db, int rc, std::string_view context) {
  std::string what(context);
  what += ": ";
  what += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  throw SqliteError(db ? sqlite3_extended_errcode(db) : rc, what, db ? sqlite3_system_errno(db) : 0);
}

// Statement latency by kind: "read" for statements that change nothing
// (sqlite3_stmt_readonly), "write" for the others.
metrics::Histogram& query_duration(bool read_only) {
  static auto& family = metrics::Registry::global().histogram(
      "souk_db_query_duration_seconds",
      "Time SQLite spent executing one statement (all its steps), by kind (read, write).",
      metrics::latency_buckets(), {"kind"}, 2);
  static auto& read = family.with({"read"});
  static auto& write = family.with({"write"});
  return read_only ? read : write;
}

}  // namespace

bool SqliteError::is_constraint() const { return (code_ & 0xff) == SQLITE_CONSTRAINT; }
bool SqliteError::is_full() const {
  if ((code_ & 0xff) == SQLITE_FULL) return true;
  // SQLite turns ENOSPC alone into SQLITE_FULL; a quota or file-size limit comes
  // as SQLITE_IOERR_WRITE, and the errno behind it is often lost by the time the
  // statement fails (sqlite3_system_errno reads errno late, measured 0 under
  // ulimit -f). So a refused write counts as no room unless SQLite kept an errno
  // that says otherwise (EIO: a failing disk is an internal error).
  if (code_ != SQLITE_IOERR_WRITE) return false;
  return system_errno_ == 0 || system_errno_ == ENOSPC || system_errno_ == EDQUOT ||
         system_errno_ == EFBIG;
}
bool SqliteError::is_busy() const {
  return (code_ & 0xff) == SQLITE_BUSY || (code_ & 0xff) == SQLITE_LOCKED;
}

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
  const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) throw_error(db, rc, "prepare");
  read_only_ = sqlite3_stmt_readonly(stmt_) != 0;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::bind(int i, std::nullptr_t) { sqlite3_bind_null(stmt_, i); }

void Statement::bind(int i, std::int64_t v) {
  if (const int rc = sqlite3_bind_int64(stmt_, i, v); rc != SQLITE_OK) throw_error(db_, rc, "bind");
}

void Statement::bind(int i, double v) {
  if (const int rc = sqlite3_bind_double(stmt_, i, v); rc != SQLITE_OK) throw_error(db_, rc, "bind");
}

void Statement::bind(int i, std::string_view v) {
  const int rc = sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) throw_error(db_, rc, "bind");
}

void Statement::bind(int i, Blob v) {
  const int rc = sqlite3_bind_blob64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) throw_error(db_, rc, "bind");
}

bool Statement::step() {
  const auto started = std::chrono::steady_clock::now();
  const int rc = sqlite3_step(stmt_);
  step_nanos_ += std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::steady_clock::now() - started)
                     .count();
  stepped_ = true;
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw_error(db_, rc, "step");
}

void Statement::reset() {
  if (stepped_) {
    query_duration(read_only_).observe(static_cast<double>(step_nanos_) / 1e9);
    stepped_ = false;
    step_nanos_ = 0;
  }
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
std::int64_t Statement::int64(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::real(int col) const { return sqlite3_column_double(stmt_, col); }

std::string Statement::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  const int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n))
           : std::string();
}

std::vector<unsigned char> Statement::blob(int col) const {
  const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(stmt_, col));
  const int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::vector<unsigned char>(p, p + n) : std::vector<unsigned char>();
}

std::optional<std::int64_t> Statement::opt_int64(int col) const {
  if (is_null(col)) return std::nullopt;
  return int64(col);
}
std::optional<double> Statement::opt_real(int col) const {
  if (is_null(col)) return std::nullopt;
  return real(col);
}
std::optional<std::string> Statement::opt_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return text(col);
}

Connection::Connection(const std::string& path, Mode mode) {
  const int flags = (mode == Mode::read_only ? SQLITE_OPEN_READONLY
                                             : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string what = "open " + path + ": " + (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw SqliteError(rc, what);
  }
  sqlite3_extended_result_codes(db_, 1);
  // A writer holding the lock briefly must not turn into an error for a reader.
  sqlite3_busy_timeout(db_, 5000);
  exec_script("PRAGMA foreign_keys = ON;");
}

Connection::~Connection() {
  statements_.clear();  // finalize before close
  sqlite3_close_v2(db_);
}

void Connection::exec_script(const char* sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string what = std::string("exec: ") + (err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    throw SqliteError(sqlite3_extended_errcode(db_), what, sqlite3_system_errno(db_));
  }
}

Statement& Connection::prepare(std::string_view sql) {
  auto it = statements_.find(std::string(sql));
  if (it == statements_.end()) {
    it = statements_.emplace(std::string(sql), std::make_unique<Statement>(db_, sql)).first;
  }
  return *it->second;
}

std::int64_t Connection::changes() const { return sqlite3_changes64(db_); }
std::int64_t Connection::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

Transaction::Transaction(Connection& c, Kind kind) : conn_(c) {
  conn_.exec_script(kind == Kind::immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
}

Transaction::~Transaction() {
  if (!done_) {
    try {
      conn_.exec_script("ROLLBACK");
    } catch (const SqliteError&) {
      // The transaction may already have been rolled back by SQLite itself.
    }
  }
}

void Transaction::commit() {
  conn_.exec_script("COMMIT");
  done_ = true;
}

}  // namespace souk::storage
