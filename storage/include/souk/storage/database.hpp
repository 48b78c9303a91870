// The database: one writer connection (writes are serialized, each in a
// BEGIN IMMEDIATE transaction) and a small pool of reader connections that run
// in parallel thanks to WAL. Callers are blocking-work threads, never network
// threads (docs/architecture.md, "Threads": storage access).
#pragma once

#include "souk/storage/sqlite.hpp"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace souk::storage {

class Database {
 public:
  // Opens (creating if needed) and migrates. ":memory:" gives a private
  // in-memory database whose reads share the writer connection.
  explicit Database(const std::string& path, int reader_count = 4);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  int schema_version() const { return schema_version_; }

  // Whether a read transaction can run a query now: what /readyz reports.
  // Never throws (a failure is the answer).
  bool ping() noexcept;

  // Runs f(Connection&) in a write transaction; commits if f returns, rolls back
  // if it throws.
  template <class F>
  auto write(F&& f) -> std::invoke_result_t<F, Connection&> {
    std::lock_guard lock(write_mutex_);
    Transaction tx(*writer_, Transaction::Kind::immediate);
    if constexpr (std::is_void_v<std::invoke_result_t<F, Connection&>>) {
      std::forward<F>(f)(*writer_);
      tx.commit();
    } else {
      auto result = std::forward<F>(f)(*writer_);
      tx.commit();
      return result;
    }
  }

  // Runs f(Connection&) in a read transaction (one consistent snapshot).
  template <class F>
  auto read(F&& f) -> std::invoke_result_t<F, Connection&> {
    if (readers_.empty()) return write(std::forward<F>(f));
    Lease lease(*this);
    Transaction tx(*lease.conn, Transaction::Kind::deferred);
    if constexpr (std::is_void_v<std::invoke_result_t<F, Connection&>>) {
      std::forward<F>(f)(*lease.conn);
      tx.commit();
    } else {
      auto result = std::forward<F>(f)(*lease.conn);
      tx.commit();
      return result;
    }
  }

 private:
  struct Lease {
    explicit Lease(Database& db);
    ~Lease();
    Database& db;
    Connection* conn;
  };

  std::unique_ptr<Connection> writer_;
  std::mutex write_mutex_;
  std::vector<std::unique_ptr<Connection>> readers_;
  std::vector<Connection*> idle_readers_;
  std::mutex readers_mutex_;
  std::condition_variable reader_free_;
  int schema_version_ = 0;
};

}  // namespace souk::storage
