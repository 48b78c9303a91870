// Database: writer + reader pool, WAL, migrations at open.
#include "souk/storage/database.hpp"

#include "souk/storage/migrations.hpp"

namespace souk::storage {

Database::Database(const std::string& path, int reader_count) {
  writer_ = std::make_unique<Connection>(path, Connection::Mode::read_write);
  const bool in_memory = path == ":memory:" || path.empty();
  if (!in_memory) {
    // WAL lets readers run beside the writer; NORMAL sync is durable across
    // process crashes (the WAL is fsynced at checkpoints).
    writer_->exec_script("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
  }
  schema_version_ = migrate(*writer_);
  if (!in_memory) {
    for (int i = 0; i < reader_count; ++i) {
      readers_.push_back(std::make_unique<Connection>(path, Connection::Mode::read_only));
      idle_readers_.push_back(readers_.back().get());
    }
  }
}

Database::~Database() = default;

bool Database::ping() noexcept {
  try {
    return read([](Connection& c) {
      auto q = c.query("SELECT 1");
      return q.next();
    });
  } catch (const std::exception&) {
    return false;
  }
}

Database::Lease::Lease(Database& d) : db(d) {
  std::unique_lock lock(db.readers_mutex_);
  db.reader_free_.wait(lock, [&] { return !db.idle_readers_.empty(); });
  conn = db.idle_readers_.back();
  db.idle_readers_.pop_back();
}

Database::Lease::~Lease() {
  {
    std::lock_guard lock(db.readers_mutex_);
    db.idle_readers_.push_back(conn);
  }
  db.reader_free_.notify_one();
}

}  // namespace souk::storage
