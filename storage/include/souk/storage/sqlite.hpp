// A thin RAII layer over SQLite: connections, cached prepared statements and
// typed binding. Every query goes through a prepared statement; nothing builds SQL
// from input. This module (storage/) is the only one that includes sqlite3.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <variant>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace souk::storage {

class SqliteError : public std::runtime_error {
 public:
  // `system_errno`: the OS error behind an I/O failure (sqlite3_system_errno), or 0.
  SqliteError(int code, const std::string& what, int system_errno = 0)
      : std::runtime_error(what), code_(code), system_errno_(system_errno) {}
  int code() const { return code_; }  // extended result code
  int system_errno() const { return system_errno_; }
  bool is_constraint() const;
  bool is_busy() const;
  // No room to write: the disk is full, the user's quota is used up, or the
  // process's file-size limit is reached (ulimit -f). SQLite reports only the
  // first as SQLITE_FULL; the others come as SQLITE_IOERR_WRITE.
  bool is_full() const;

 private:
  int code_;
  int system_errno_;
};

using Blob = std::span<const unsigned char>;

// A parameter value for statements whose parameter list is built at run time.
using Value = std::variant<std::nullptr_t, std::int64_t, double, std::string>;

class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based, as in SQLite.
  void bind(int i, std::nullptr_t);
  void bind(int i, std::int64_t v);
  void bind(int i, int v) { bind(i, static_cast<std::int64_t>(v)); }
  void bind(int i, bool v) { bind(i, static_cast<std::int64_t>(v ? 1 : 0)); }
  void bind(int i, double v);
  void bind(int i, std::string_view v);
  void bind(int i, const std::string& v) { bind(i, std::string_view(v)); }
  void bind(int i, const char* v) { bind(i, std::string_view(v)); }
  void bind(int i, Blob v);
  template <class T>
  void bind(int i, const std::optional<T>& v) {
    if (v) {
      bind(i, *v);
    } else {
      bind(i, nullptr);
    }
  }

  // Advances; true while a row is available.
  bool step();
  void reset();

  // Columns are 0-based, as in SQLite.
  bool is_null(int col) const;
  std::int64_t int64(int col) const;
  double real(int col) const;
  std::string text(int col) const;
  std::vector<unsigned char> blob(int col) const;
  std::optional<std::int64_t> opt_int64(int col) const;
  std::optional<double> opt_real(int col) const;
  std::optional<std::string> opt_text(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  // Time spent inside sqlite3_step since the last reset: one execution's
  // latency, observed at reset (see souk_db_query_duration_seconds).
  std::int64_t step_nanos_ = 0;
  bool stepped_ = false;
  bool read_only_ = false;
};

// One use of a cached statement: binds on creation, resets on destruction so the
// statement is ready for the next caller.
class Query {
 public:
  explicit Query(Statement& st) : st_(&st) {}
  ~Query() { st_->reset(); }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  bool next() { return st_->step(); }
  const Statement& row() const { return *st_; }
  const Statement* operator->() const { return st_; }

 private:
  Statement* st_;
};

class Connection {
 public:
  enum class Mode { read_write, read_only };

  Connection(const std::string& path, Mode mode);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs SQL without parameters (schema, pragmas, BEGIN/COMMIT).
  void exec_script(const char* sql);

  // Runs one statement with parameters; returns the number of rows changed.
  template <class... Args>
  std::int64_t execute(std::string_view sql, const Args&... args) {
    Query q = query(sql, args...);
    while (q.next()) {
    }
    return changes();
  }

  // Prepares (or reuses) a statement and binds args in order.
  template <class... Args>
  Query query(std::string_view sql, const Args&... args) {
    Statement& st = prepare(sql);
    int i = 0;
    (st.bind(++i, args), ...);
    return Query(st);
  }

  // The same, for a parameter list built at run time.
  Query query_values(std::string_view sql, const std::vector<Value>& args) {
    Statement& st = prepare(sql);
    int i = 0;
    for (const auto& v : args) std::visit([&](const auto& x) { st.bind(++i, x); }, v);
    return Query(st);
  }

  std::int64_t changes() const;
  std::int64_t last_insert_rowid() const;

 private:
  Statement& prepare(std::string_view sql);

  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, std::unique_ptr<Statement>> statements_;
};

// BEGIN ... COMMIT, rolled back unless commit() was reached.
class Transaction {
 public:
  enum class Kind { deferred, immediate };
  Transaction(Connection& c, Kind kind);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Connection& conn_;
  bool done_ = false;
};

}  // namespace souk::storage
