// Integrity checks and the online backup.
#include "souk/storage/maintenance.hpp"

#include "souk/storage/sqlite.hpp"

#include <sqlite3.h>

#include <filesystem>
#include <memory>
#include <thread>

namespace souk::storage {
namespace {

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbHandle = std::unique_ptr<sqlite3, CloseDb>;

DbHandle open_handle(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  DbHandle db(raw);
  if (rc != SQLITE_OK) {
    throw SqliteError(rc, "open " + path + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

[[noreturn]] void fail(int rc, const std::string& what) {
  throw SqliteError(rc, what + ": " + sqlite3_errstr(rc));
}

}  // namespace

std::vector<std::string> integrity_problems(Connection& c) {
  std::vector<std::string> problems;
  {
    auto q = c.query("PRAGMA integrity_check");
    while (q.next()) {
      auto line = q->text(0);
      if (line != "ok") problems.push_back("integrity: " + line);
    }
  }
  auto q = c.query("PRAGMA foreign_key_check");
  while (q.next()) {
    // table, rowid (NULL for WITHOUT ROWID tables), parent table, constraint index
    problems.push_back("foreign key: " + q->text(0) + " row " +
                       (q->is_null(1) ? std::string("(no rowid)") : std::to_string(q->int64(1))) +
                       " refers to a missing " + q->text(2) + " row");
  }
  return problems;
}

BackupResult backup(const std::string& source_path, const std::string& dest_path,
                    std::chrono::milliseconds busy_timeout) {
  auto source = open_handle(source_path, SQLITE_OPEN_READONLY);
  sqlite3_busy_timeout(source.get(), static_cast<int>(busy_timeout.count()));
  auto dest = open_handle(dest_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);

  sqlite3_backup* b = sqlite3_backup_init(dest.get(), "main", source.get(), "main");
  if (b == nullptr) {
    throw SqliteError(sqlite3_extended_errcode(dest.get()),
                      std::string("backup: ") + sqlite3_errmsg(dest.get()));
  }
  // All pages in one step: the copy is one read transaction, a consistent
  // snapshot, and WAL lets the server's writer go on beside it. A step that
  // finds the source locked (a checkpoint, a rollback-journal writer) is retried.
  const auto deadline = std::chrono::steady_clock::now() + busy_timeout;
  int rc = SQLITE_OK;
  do {
    rc = sqlite3_backup_step(b, -1);
    if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  } while ((rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED) &&
           std::chrono::steady_clock::now() < deadline);
  BackupResult result;
  result.pages = sqlite3_backup_pagecount(b);
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) fail(rc, "backup of " + source_path);

  // The copy keeps the source's WAL flag; a backup should be one self-contained file.
  char* err = nullptr;
  rc = sqlite3_exec(dest.get(), "PRAGMA journal_mode = DELETE", nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string what = std::string("backup: ") + (err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    throw SqliteError(rc, what);
  }
  dest.reset();
  std::error_code ec;
  result.bytes = std::filesystem::file_size(dest_path, ec);
  return result;
}

}  // namespace souk::storage
