#include "souk/storage/auth_tokens.hpp"

#include "souk/storage/database.hpp"
#include "souk/storage/users.hpp"

#include <doctest/doctest.h>

using namespace souk::storage;

TEST_CASE("auth tokens: found while live, not after revoke or expiry") {
  Database db(":memory:");
  db.write([](Connection& c) {
    users::insert(c, User{"u", "user", "h", "buyer", "user", std::nullopt, std::nullopt,
                          std::nullopt, 0, std::nullopt});
  });
  const auto a = souk::sha256("token-a");
  const auto b = souk::sha256("token-b");
  db.write([&](Connection& c) {
    auth_tokens::insert(c, a, "u", 100, 1000);
    auth_tokens::insert(c, b, "u", 100, 1000);
  });
  db.write([&](Connection& c) {
    CHECK(auth_tokens::find_user(c, a, 500) == "u");
    CHECK_FALSE(auth_tokens::find_user(c, a, 1000));  // expired at expires_at
    CHECK_FALSE(auth_tokens::find_user(c, souk::sha256("other"), 500));
    CHECK(auth_tokens::revoke(c, a, 600));
    CHECK_FALSE(auth_tokens::revoke(c, a, 601));
    CHECK_FALSE(auth_tokens::find_user(c, a, 700));
    CHECK(auth_tokens::find_user(c, b, 700) == "u");  // other tokens unaffected
    CHECK(auth_tokens::delete_expired(c, 2000) == 2);
  });
}

TEST_CASE("auth tokens: a disabled account's tokens do not authenticate; revoke_all_for_user") {
  Database db(":memory:");
  db.write([](Connection& c) {
    users::insert(c, User{"u", "user", "h", "buyer", "user", std::nullopt, std::nullopt,
                          std::nullopt, 0, std::nullopt});
    users::insert(c, User{"v", "other", "h", "buyer", "other", std::nullopt, std::nullopt,
                          std::nullopt, 0, std::nullopt});
  });
  const auto a = souk::sha256("token-a");
  const auto b = souk::sha256("token-b");
  const auto other = souk::sha256("token-v");
  db.write([&](Connection& c) {
    auth_tokens::insert(c, a, "u", 100, 1000);
    auth_tokens::insert(c, b, "u", 100, 1000);
    auth_tokens::insert(c, other, "v", 100, 1000);
  });
  db.write([&](Connection& c) {
    users::set_disabled(c, "u", 200);
    CHECK_FALSE(auth_tokens::find_user(c, a, 300));
    users::set_disabled(c, "u", std::nullopt);
    CHECK(auth_tokens::find_user(c, a, 300) == "u");
    CHECK(auth_tokens::revoke(c, a, 300));
    CHECK(auth_tokens::revoke_all_for_user(c, "u", 400) == 1);  // b; a was revoked already
    CHECK_FALSE(auth_tokens::find_user(c, b, 500));
    CHECK(auth_tokens::find_user(c, other, 500) == "v");
  });
}
