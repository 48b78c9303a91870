#include "souk/storage/maintenance.hpp"

#include "souk/storage/database.hpp"
#include "souk/storage/migrations.hpp"
#include "souk/storage/sqlite.hpp"
#include "souk/storage/users.hpp"

#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>

using namespace souk::storage;

TEST_CASE("maintenance: a sound database has no problems; an orphan row is one") {
  Connection c(":memory:", Connection::Mode::read_write);
  migrate(c);
  CHECK(integrity_problems(c).empty());
  c.exec_script(
      "PRAGMA foreign_keys = OFF; INSERT INTO products (id, seller_id, title, price_cents, currency,"
      " created_at) VALUES ('p', 'missing', 't', 1, 'MAD', 0);");
  const auto problems = integrity_problems(c);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].find("products") != std::string::npos);
}

TEST_CASE("maintenance: backup copies a WAL database into one self-contained file") {
  const souk::test::TempDir dir("souk-db-test");
  const auto source = (dir / "souk.db").string();
  const auto copy = (dir / "copy.db").string();
  Database db(source);
  db.write([](Connection& c) {
    users::insert(c, User{"u1", "amina", "h", "seller", "Amina", std::nullopt, std::nullopt,
                          std::nullopt, 0, std::nullopt});
  });
  const auto result = backup(source, copy, std::chrono::seconds(5));
  CHECK(result.pages > 0);
  CHECK(result.bytes == std::filesystem::file_size(copy));
  CHECK_FALSE(std::filesystem::exists(copy + "-wal"));
  Connection c(copy, Connection::Mode::read_only);
  CHECK(integrity_problems(c).empty());
  CHECK(users::find_by_username(c, "amina"));
  auto q = c.query("PRAGMA journal_mode");
  REQUIRE(q.next());
  CHECK(q->text(0) == "delete");
}
