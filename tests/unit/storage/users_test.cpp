#include "souk/storage/users.hpp"

#include "souk/storage/database.hpp"

#include <doctest/doctest.h>

using namespace souk::storage;

namespace {

User make_user(const std::string& id, const std::string& username, const std::string& role) {
  User u;
  u.id = id;
  u.username = username;
  u.password_hash = "hash";
  u.role = role;
  u.display_name = username;
  u.created_at = 1000;
  return u;
}

}  // namespace

TEST_CASE("users: insert and find by id or case-insensitive username") {
  Database db(":memory:");
  auto alice = make_user("id-a", "Alice", "seller");
  alice.lat = 48.85;
  alice.lon = 2.35;
  alice.avatar_url = "https://img.example/a.png";
  db.write([&](Connection& c) { users::insert(c, alice); });

  db.read([&](Connection& c) {
    const auto by_id = users::find_by_id(c, "id-a");
    REQUIRE(by_id);
    CHECK(by_id->username == "Alice");
    CHECK(by_id->lat == doctest::Approx(48.85));
    CHECK(by_id->avatar_url == "https://img.example/a.png");
    CHECK(users::find_by_username(c, "alice"));
    CHECK(users::find_by_username(c, "ALICE"));
    CHECK_FALSE(users::find_by_username(c, "alic"));
    CHECK_FALSE(users::find_by_id(c, "missing"));
  });
}

TEST_CASE("users: usernames are unique regardless of case") {
  Database db(":memory:");
  db.write([&](Connection& c) { users::insert(c, make_user("1", "bob", "buyer")); });
  try {
    db.write([&](Connection& c) { users::insert(c, make_user("2", "BOB", "buyer")); });
    FAIL("expected a constraint error");
  } catch (const SqliteError& e) {
    CHECK(e.is_constraint());
  }
}

TEST_CASE("follows: add and remove are idempotent and counted") {
  Database db(":memory:");
  db.write([&](Connection& c) {
    users::insert(c, make_user("s", "seller", "seller"));
    users::insert(c, make_user("b1", "buyer1", "buyer"));
    users::insert(c, make_user("b2", "buyer2", "buyer"));
  });
  db.write([&](Connection& c) {
    CHECK(follows::add(c, "b1", "s", 1));
    CHECK_FALSE(follows::add(c, "b1", "s", 2));
    CHECK(follows::add(c, "b2", "s", 3));
    CHECK(follows::count_followers(c, "s") == 2);
    CHECK(follows::is_following(c, "b1", "s"));
    CHECK(follows::remove(c, "b1", "s"));
    CHECK_FALSE(follows::remove(c, "b1", "s"));
    CHECK(follows::count_followers(c, "s") == 1);
    CHECK_FALSE(follows::is_following(c, "b1", "s"));
  });
}

TEST_CASE("users: list by role, set role, disable and enable") {
  Database db(":memory:");
  db.write([&](Connection& c) {
    users::insert(c, make_user("s", "seller1", "seller"));
    users::insert(c, make_user("b", "buyer1", "buyer"));
  });
  db.write([&](Connection& c) {
    CHECK(users::list(c, std::nullopt).size() == 2);
    const auto sellers = users::list(c, std::string("seller"));
    REQUIRE(sellers.size() == 1);
    CHECK(sellers[0].id == "s");
    CHECK(users::find_by_id_or_username(c, "b")->username == "buyer1");
    CHECK(users::find_by_id_or_username(c, "BUYER1")->id == "b");
    CHECK_FALSE(users::find_by_id_or_username(c, "nobody"));

    users::set_role(c, "b", "seller");
    CHECK(users::list(c, std::string("seller")).size() == 2);

    CHECK_FALSE(users::find_by_id(c, "b")->disabled_at);
    users::set_disabled(c, "b", 1234);
    CHECK(users::find_by_id(c, "b")->disabled_at == 1234);
    users::set_disabled(c, "b", std::nullopt);
    CHECK_FALSE(users::find_by_id(c, "b")->disabled_at);
  });
}
