#include "souk/storage/migrations.hpp"
#include "souk/storage/sqlite.hpp"

#include <doctest/doctest.h>

using namespace souk::storage;

namespace {

int count_tables(Connection& c) {
  auto q = c.query("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'");
  q.next();
  return static_cast<int>(q->int64(0));
}

}  // namespace

TEST_CASE("migrate builds the whole schema from an empty database") {
  Connection c(":memory:", Connection::Mode::read_write);
  CHECK(schema_version(c) == 0);
  const int v = migrate(c);
  CHECK(v == known_migrations().back().version);
  CHECK(schema_version(c) == v);
  for (const char* table : {"users", "auth_tokens", "follows", "products", "streams",
                            "stream_products", "chat_messages", "reactions", "viewer_sessions",
                            "product_events", "notifications", "schema_migrations"}) {
    CAPTURE(table);
    auto q = c.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", table);
    CHECK(q.next());
  }
}

TEST_CASE("migrate is idempotent") {
  Connection c(":memory:", Connection::Mode::read_write);
  migrate(c);
  const int tables = count_tables(c);
  CHECK(migrate(c) == known_migrations().back().version);
  CHECK(count_tables(c) == tables);
  auto q = c.query("SELECT COUNT(*) FROM schema_migrations");
  q.next();
  CHECK(q->int64(0) == static_cast<std::int64_t>(known_migrations().size()));
}

TEST_CASE("a database newer than the binary is refused") {
  Connection c(":memory:", Connection::Mode::read_write);
  migrate(c);
  c.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", 999,
            "from the future", 0);
  CHECK_THROWS_AS(migrate(c), SchemaTooNewError);
}

TEST_CASE("a failing migration rolls back entirely and leaves the version") {
  Connection c(":memory:", Connection::Mode::read_write);
  const Migration list[] = {
      {1, "one", "CREATE TABLE a (x INTEGER);"},
      {2, "broken", "CREATE TABLE b (x INTEGER); CREATE TABLE a (y INTEGER);"},
  };
  CHECK_THROWS_AS(migrate(c, list), SqliteError);
  CHECK(schema_version(c) == 1);
  auto q = c.query("SELECT 1 FROM sqlite_master WHERE name = 'b'");
  CHECK_FALSE(q.next());  // table b of the failed migration was rolled back
}

TEST_CASE("later migrations apply on top of earlier ones") {
  Connection c(":memory:", Connection::Mode::read_write);
  const Migration first[] = {{1, "one", "CREATE TABLE a (x INTEGER);"}};
  const Migration both[] = {{1, "one", "CREATE TABLE a (x INTEGER);"},
                            {2, "two", "ALTER TABLE a ADD COLUMN y INTEGER;"}};
  CHECK(migrate(c, first) == 1);
  CHECK(migrate(c, both) == 2);
  c.execute("INSERT INTO a (x, y) VALUES (?, ?)", 1, 2);
}

TEST_CASE("migration 2 adds the admin columns to a version-1 database, keeping its rows") {
  Connection c(":memory:", Connection::Mode::read_write);
  REQUIRE(migrate(c, known_migrations().first(1)) == 1);
  c.execute(
      "INSERT INTO users (id, username, password_hash, role, display_name, created_at)"
      " VALUES ('u', 'amina', 'h', 'seller', 'Amina', 0)");
  CHECK(migrate(c) >= 2);
  auto q = c.query("SELECT username, disabled_at FROM users");
  REQUIRE(q.next());
  CHECK(q->text(0) == "amina");
  CHECK(q->is_null(1));
  auto s = c.query("SELECT COUNT(*) FROM streams WHERE end_requested_at IS NULL");
  CHECK(s.next());
}
