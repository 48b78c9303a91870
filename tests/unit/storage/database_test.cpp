#include "souk/storage/database.hpp"

#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <stdexcept>

using namespace souk::storage;

namespace {

std::int64_t count_users(Connection& c) {
  auto q = c.query("SELECT COUNT(*) FROM users");
  q.next();
  return q->int64(0);
}

void insert_user(Connection& c, const char* id) {
  c.execute(
      "INSERT INTO users (id, username, password_hash, role, display_name, created_at)"
      " VALUES (?, ?, 'h', 'buyer', ?, 0)",
      id, id, id);
}

}  // namespace

TEST_CASE("a file database uses WAL and foreign keys, and readers see commits") {
  const souk::test::TempDir dir("souk-db-test");
  Database db((dir / "souk.db").string());
  CHECK(db.schema_version() >= 1);
  db.write([](Connection& c) {
    auto q = c.query("PRAGMA journal_mode");
    q.next();
    CHECK(q->text(0) == "wal");
    auto fk = c.query("PRAGMA foreign_keys");
    fk.next();
    CHECK(fk->int64(0) == 1);
  });
  db.write([](Connection& c) { insert_user(c, "u1"); });
  CHECK(db.read(count_users) == 1);
}

TEST_CASE("a write that throws is rolled back") {
  Database db(":memory:");
  CHECK_THROWS_AS(db.write([](Connection& c) {
    insert_user(c, "u1");
    throw std::runtime_error("abort");
  }),
                  std::runtime_error);
  CHECK(db.read(count_users) == 0);
}

TEST_CASE("foreign keys are enforced") {
  Database db(":memory:");
  CHECK_THROWS_AS(db.write([](Connection& c) {
    c.execute(
        "INSERT INTO products (id, seller_id, title, price_cents, currency, created_at)"
        " VALUES ('p', 'nobody', 't', 1, 'USD', 0)");
  }),
                  SqliteError);
}

TEST_CASE("reopening keeps data and schema version") {
  const souk::test::TempDir dir("souk-db-test");
  const auto path = (dir / "souk.db").string();
  int version = 0;
  {
    Database db(path);
    version = db.schema_version();
    db.write([](Connection& c) { insert_user(c, "u1"); });
  }
  Database again(path);
  CHECK(again.schema_version() == version);
  CHECK(again.read(count_users) == 1);
}

TEST_CASE("ping answers true while the database is usable") {
  Database memory(":memory:");
  CHECK(memory.ping());
  const souk::test::TempDir dir("souk-db-test");
  Database file((dir / "souk.db").string());
  CHECK(file.ping());
}
