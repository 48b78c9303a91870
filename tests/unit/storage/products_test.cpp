#include "souk/storage/products.hpp"

#include "souk/storage/database.hpp"
#include "souk/storage/users.hpp"

#include <doctest/doctest.h>

using namespace souk::storage;

TEST_CASE("products: insert and find") {
  Database db(":memory:");
  db.write([](Connection& c) {
    users::insert(c, User{"s", "seller", "h", "seller", "Seller", std::nullopt, std::nullopt,
                          std::nullopt, 0, std::nullopt});
    products::insert(c, Product{"p1", "s", "Sneakers", 4999, "USD", std::nullopt, 42});
  });
  const auto p = db.read([](Connection& c) { return products::find_by_id(c, "p1"); });
  REQUIRE(p);
  CHECK(p->seller_id == "s");
  CHECK(p->title == "Sneakers");
  CHECK(p->price_cents == 4999);
  CHECK(p->currency == "USD");
  CHECK_FALSE(p->image_url);
  CHECK(p->created_at == 42);
  CHECK_FALSE(db.read([](Connection& c) { return products::find_by_id(c, "p2"); }));
}

TEST_CASE("products: a negative price is refused by the schema") {
  Database db(":memory:");
  CHECK_THROWS_AS(db.write([](Connection& c) {
    users::insert(c, User{"s", "seller", "h", "seller", "Seller", std::nullopt, std::nullopt,
                          std::nullopt, 0, std::nullopt});
    products::insert(c, Product{"p1", "s", "x", -1, "USD", std::nullopt, 0});
  }),
                  SqliteError);
}
