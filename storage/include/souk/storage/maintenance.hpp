// Operator tasks on a database file (the admin CLI): integrity checks and
// online backups that are safe while the server runs and writes.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace souk::storage {

class Connection;

// What PRAGMA integrity_check and foreign_key_check report, one line per
// problem; empty when the database is sound.
std::vector<std::string> integrity_problems(Connection& c);

struct BackupResult {
  std::uint64_t bytes = 0;  // size of the copy
  int pages = 0;
};

// Copies the database at `source_path` to `dest_path` (which must not exist)
// with SQLite's online backup API, in one consistent snapshot: in WAL mode the
// server keeps writing meanwhile. The copy is a single file (rollback journal,
// not WAL). Waits up to `busy_timeout` for locks. Throws SqliteError.
BackupResult backup(const std::string& source_path, const std::string& dest_path,
                    std::chrono::milliseconds busy_timeout);

}  // namespace souk::storage
