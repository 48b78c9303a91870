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

// Issue 21, finding 9: before version 4 two purchases of 2^63-1 cents made a
// product's revenue a REAL. Such a database migrates: the impossible events go,
// their product's purchases and revenue are recounted, the rest is kept as it was.
TEST_CASE("migration 4 drops impossible purchases and recounts a version-3 database's revenue") {
  Connection c(":memory:", Connection::Mode::read_write);
  REQUIRE(migrate(c, known_migrations().first(3)) == 3);
  c.exec_script(R"sql(
    INSERT INTO users (id, username, password_hash, role, display_name, created_at)
      VALUES ('s', 'amina', 'h', 'seller', 'Amina', 0), ('b', 'omar', 'h', 'buyer', 'Omar', 0);
    INSERT INTO products (id, seller_id, title, price_cents, currency, created_at)
      VALUES ('p1', 's', 'Lamp', 100, 'MAD', 0), ('p2', 's', 'Rug', 200, 'MAD', 0);
    INSERT INTO streams (id, seller_id, title, created_at, updated_at) VALUES ('st', 's', 'Live', 0, 0);
    INSERT INTO stream_products (stream_id, product_id, position, clicks, purchases, revenue_cents,
                                 created_at, updated_at)
      VALUES ('st', 'p1', 1, 4, 3, 18446744073709551614.0 + 500, 0, 0),
             ('st', 'p2', 2, 0, 1, 200, 0, 0);
    INSERT INTO product_events (stream_id, product_id, user_id, type, amount_cents, created_at)
      VALUES ('st', 'p1', 'b', 'purchase', 9223372036854775807, 1),
             ('st', 'p1', 'b', 'purchase', 9223372036854775807, 2),
             ('st', 'p1', 'b', 'purchase', 500, 3),
             ('st', 'p1', 'b', 'click', 0, 4),
             ('st', 'p2', 'b', 'purchase', 200, 5);
  )sql");
  {
    auto q = c.query("SELECT typeof(revenue_cents) FROM stream_products WHERE product_id = 'p1'");
    REQUIRE(q.next());
    REQUIRE(q->text(0) == "real");  // the corruption the issue found
  }
  CHECK(migrate(c) >= 4);

  {
    auto q = c.query("SELECT product_id, clicks, purchases, revenue_cents, typeof(revenue_cents)"
                     " FROM stream_products ORDER BY position");
    REQUIRE(q.next());
    CHECK(q->text(0) == "p1");
    CHECK(q->int64(1) == 4);  // other counters untouched
    CHECK(q->int64(2) == 1);
    CHECK(q->int64(3) == 500);
    CHECK(q->text(4) == "integer");
    REQUIRE(q.next());
    CHECK(q->text(0) == "p2");
    CHECK(q->int64(2) == 1);
    CHECK(q->int64(3) == 200);
  }
  {
    auto e = c.query("SELECT COUNT(*), SUM(amount_cents) FROM product_events");
    REQUIRE(e.next());
    CHECK(e->int64(0) == 3);
    CHECK(e->int64(1) == 700);
  }
  // And the constraints hold from now on.
  CHECK_THROWS_AS(c.execute("INSERT INTO product_events (stream_id, product_id, type, amount_cents, created_at)"
                            " VALUES ('st', 'p1', 'purchase', 10000000001, 6)"),
                  SqliteError);
  CHECK_THROWS_AS(c.execute("UPDATE stream_products SET revenue_cents = 1000000000000001"), SqliteError);
}
