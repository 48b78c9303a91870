// The API end to end in process: an in-memory database, cheap password hashing,
// requests straight into Api::handle. The integration tests repeat the important
// cases over real HTTP against the binary.
#include "souk/api/api.hpp"

#include "api_test_client.hpp"

#include "souk/random.hpp"
#include "souk/storage/database.hpp"
#include "souk/storage/streams.hpp"

#include "temp_dir.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace souk::api;
using nlohmann::json;

namespace {

struct Fixture {
  souk::storage::Database db{":memory:"};
  souk::test::TempDir data_dir{"souk-api-test"};
  Api api{db, [this] {
            ApiOptions o;
            o.data_dir = data_dir.path();
            o.password_cost = PasswordCost::minimum();
            o.login_max_failures = 2;
            return o;
          }()};

  using Reply = test::ApiReply;

  Reply call(const std::string& method, const std::string& target, const std::string& body = "",
             const std::string& token = "") {
    return test::call_api(api, method, target, body, token);
  }

  // Registers and returns {user id, token}.
  std::pair<std::string, std::string> user(const std::string& name, const std::string& role) {
    return test::register_user(api, name, role);
  }
};

}  // namespace

TEST_CASE_FIXTURE(Fixture, "register, me, login, logout") {
  auto r = call("POST", "/api/v1/auth/register",
                R"({"username":"alice","password":"password1","role":"seller","lat":1.5,"lon":2.5})");
  REQUIRE(r.status == 201);
  const auto token = r.body["data"]["token"].get<std::string>();
  CHECK(r.body["data"]["user"]["displayName"] == "alice");
  CHECK(r.body["data"]["user"]["lat"] == 1.5);

  r = call("GET", "/api/v1/users/me", "", token);
  CHECK(r.status == 200);
  CHECK(r.body["data"]["username"] == "alice");

  r = call("POST", "/api/v1/auth/login", R"({"username":"ALICE","password":"password1"})");
  CHECK(r.status == 200);
  const auto token2 = r.body["data"]["token"].get<std::string>();
  CHECK(token2 != token);

  CHECK(call("POST", "/api/v1/auth/logout", "", token).status == 200);
  r = call("GET", "/api/v1/users/me", "", token);
  CHECK(r.status == 401);
  CHECK(r.body["error"]["code"] == "invalid_token");
  CHECK(call("GET", "/api/v1/users/me", "", token2).status == 200);
}

TEST_CASE_FIXTURE(Fixture, "register validation") {
  CHECK(call("POST", "/api/v1/auth/register", R"({"password":"password1","role":"buyer"})")
            .body["error"]["code"] == "missing_field");
  auto r = call("POST", "/api/v1/auth/register", R"({"username":5,"password":"password1","role":"buyer"})");
  CHECK(r.status == 400);
  CHECK(r.body["error"]["field"] == "username");
  r = call("POST", "/api/v1/auth/register", R"({"username":"ab","password":"password1","role":"buyer"})");
  CHECK(r.status == 422);
  CHECK(r.body["error"]["field"] == "username");
  r = call("POST", "/api/v1/auth/register", R"({"username":"abc","password":"short","role":"buyer"})");
  CHECK(r.body["error"]["field"] == "password");
  r = call("POST", "/api/v1/auth/register", R"({"username":"abc","password":"password1","role":"admin"})");
  CHECK(r.body["error"]["field"] == "role");
  r = call("POST", "/api/v1/auth/register",
           R"({"username":"abc","password":"password1","role":"buyer","lat":10})");
  CHECK(r.status == 422);
  r = call("POST", "/api/v1/auth/register",
           R"({"username":"abc","password":"password1","role":"buyer","lat":91,"lon":0})");
  CHECK(r.body["error"]["field"] == "lat");
  r = call("POST", "/api/v1/auth/register",
           R"({"username":"abc","password":"password1","role":"buyer","avatar_url":"ftp://x"})");
  CHECK(r.body["error"]["field"] == "avatar_url");

  user("taken", "buyer");
  r = call("POST", "/api/v1/auth/register", R"({"username":"TAKEN","password":"password1","role":"buyer"})");
  CHECK(r.status == 409);
  CHECK(r.body["error"]["code"] == "username_taken");
}

TEST_CASE_FIXTURE(Fixture, "login failures are uniform and rate limited") {
  user("bob", "buyer");
  auto wrong = call("POST", "/api/v1/auth/login", R"({"username":"bob","password":"nope-nope"})");
  auto unknown = call("POST", "/api/v1/auth/login", R"({"username":"nobody","password":"nope-nope"})");
  CHECK(wrong.status == 401);
  CHECK(unknown.status == 401);
  CHECK(wrong.body == unknown.body);

  call("POST", "/api/v1/auth/login", R"({"username":"bob","password":"nope-nope"})");
  auto limited = call("POST", "/api/v1/auth/login", R"({"username":"bob","password":"password1"})");
  CHECK(limited.status == 429);
  CHECK(limited.body["error"]["code"] == "rate_limited");
  CHECK(std::stoi(std::string(limited.raw.header("Retry-After"))) >= 1);
}

TEST_CASE_FIXTURE(Fixture, "follow rules") {
  const auto [seller_id, seller_token] = user("shop", "seller");
  const auto [buyer_id, buyer_token] = user("fan", "buyer");
  auto r = call("POST", "/api/v1/users/" + seller_id + "/follow", "", buyer_token);
  CHECK(r.status == 200);
  CHECK(r.body["data"]["followerCount"] == 1);
  r = call("POST", "/api/v1/users/" + seller_id + "/follow", "", buyer_token);
  CHECK(r.body["data"]["followerCount"] == 1);
  CHECK(call("POST", "/api/v1/users/" + buyer_id + "/follow", "", seller_token).body["error"]["code"] ==
        "not_a_seller");
  CHECK(call("POST", "/api/v1/users/" + seller_id + "/follow", "", seller_token).body["error"]["code"] ==
        "cannot_follow_self");
  CHECK(call("POST", "/api/v1/users/not-a-uuid/follow", "", buyer_token).status == 404);
  CHECK(call("POST", "/api/v1/users/" + seller_id + "/follow").status == 401);
  r = call("DELETE", "/api/v1/users/" + seller_id + "/follow", "", buyer_token);
  CHECK(r.body["data"] == json{{"sellerId", seller_id}, {"following", false}, {"followerCount", 0}});
}

TEST_CASE_FIXTURE(Fixture, "products") {
  const auto [seller_id, seller_token] = user("shop", "seller");
  const auto [buyer_id, buyer_token] = user("fan", "buyer");
  const auto body = R"({"title":" Sneakers ","price_cents":4999,"currency":"USD"})";
  auto r = call("POST", "/api/v1/products", body, seller_token);
  REQUIRE(r.status == 201);
  CHECK(r.body["data"]["title"] == "Sneakers");
  CHECK(r.body["data"]["sellerId"] == seller_id);
  const std::string id = r.body["data"]["id"];
  CHECK(call("GET", "/api/v1/products/" + id).body["data"]["priceCents"] == 4999);
  CHECK(call("GET", "/api/v1/products/" + souk::uuid_v4()).body["error"]["code"] == "product_not_found");
  CHECK(call("GET", "/api/v1/products/..%2F..%2Fetc").status == 404);
  CHECK(call("POST", "/api/v1/products", body, buyer_token).status == 403);
  CHECK(call("POST", "/api/v1/products", body).status == 401);
  CHECK(call("POST", "/api/v1/products", R"({"title":"x","price_cents":1.5,"currency":"USD"})",
             seller_token).status == 400);
  CHECK(call("POST", "/api/v1/products", R"({"title":"x","price_cents":-1,"currency":"USD"})",
             seller_token).status == 422);
  CHECK(call("POST", "/api/v1/products", R"({"title":"x","price_cents":1,"currency":"usd"})",
             seller_token).body["error"]["field"] == "currency");
}

TEST_CASE_FIXTURE(Fixture, "routing errors, CORS and oversized bodies") {
  auto r = call("GET", "/nowhere");
  CHECK(r.status == 404);
  CHECK(r.body["error"]["code"] == "not_found");
  CHECK(r.raw.header("Access-Control-Allow-Origin") == "*");
  r = call("PUT", "/api/v1/products");
  CHECK(r.status == 405);
  CHECK(r.raw.header("Allow") == "POST");
  r = call("OPTIONS", "/api/v1/products");
  CHECK(r.status == 204);
  CHECK(r.raw.header("Access-Control-Allow-Headers") == "Authorization, Content-Type");

  HttpRequest big;
  big.method = "POST";
  big.path = "/api/v1/products";
  big.body_too_large = true;
  CHECK(api.handle(big).status == 413);
  CHECK(call("GET", "/healthz").status == 200);
}

TEST_CASE("CORS with an allow-list echoes only listed origins") {
  souk::storage::Database db(":memory:");
  ApiOptions o;
  o.password_cost = PasswordCost::minimum();
  o.cors_origins = {"https://shop.example"};
  Api api(db, o);
  HttpRequest req;
  req.method = "GET";
  req.path = "/healthz";
  req.headers["origin"] = "https://shop.example";
  auto res = api.handle(req);
  CHECK(res.header("Access-Control-Allow-Origin") == "https://shop.example");
  CHECK(res.header("Vary") == "Origin");
  req.headers["origin"] = "https://evil.example";
  res = api.handle(req);
  CHECK(res.header("Access-Control-Allow-Origin").empty());
}

TEST_CASE_FIXTURE(Fixture, "stream lifecycle in process") {
  const auto [seller_id, seller] = user("shop", "seller");
  const auto [buyer_id, buyer] = user("fan", "buyer");
  const std::string product =
      call("POST", "/api/v1/products", R"({"title":"Rug","price_cents":1000,"currency":"EUR"})", seller)
          .body["data"]["id"];

  auto r = call("POST", "/api/v1/streams", R"({"title":"Live","product_ids":[]})", seller);
  REQUIRE(r.status == 201);
  const std::string id = r.body["data"]["streamId"];
  CHECK(call("POST", "/api/v1/streams/" + id + "/go-live",
             R"({"camera_ready":true,"checklist_complete":true})", seller)
            .body["error"]["code"] == "no_products");
  r = call("POST", "/api/v1/streams/" + id + "/products", json{{"product_ids", {product}}}.dump(), seller);
  CHECK(r.body["data"]["productCount"] == 1);
  r = call("POST", "/api/v1/streams/" + id + "/go-live",
           R"({"camera_ready":true,"checklist_complete":true})", seller);
  REQUIRE(r.status == 200);
  const std::string key = r.body["data"]["streamKey"];
  CHECK(db.read([&](souk::storage::Connection& c) {
          return souk::storage::streams::find_live_by_key_hash(c, souk::sha256(key));
        }) == id);

  CHECK(call("POST", "/api/v1/streams/" + id + "/products/" + product + "/tag",
             R"({"x":0.5,"y":0.5,"timestamp_seconds":3})", seller).status == 200);
  CHECK(call("POST", "/api/v1/streams/" + id + "/products/" + product + "/events",
             R"({"type":"purchase","amount_cents":700})", buyer).status == 201);
  r = call("POST", "/api/v1/streams/" + id + "/end", "", seller);
  REQUIRE(r.status == 200);
  CHECK(r.body["data"]["status"] == "ended");
  CHECK_FALSE(db.read([&](souk::storage::Connection& c) {
    return souk::storage::streams::find_live_by_key_hash(c, souk::sha256(key));
  }));
  r = call("GET", "/api/v1/streams/" + id + "/analytics", "", seller);
  CHECK(r.body["data"]["revenueCents"] == 700);
  CHECK(call("GET", "/api/v1/streams?status=ended").body["data"]["streams"].size() == 1);
}

namespace {

// A login from a given client address (what the HTTP session sets).
test::ApiReply login_from(Api& api, const std::string& client, const std::string& username,
                          const std::string& password) {
  HttpRequest req;
  req.method = "POST";
  req.target = req.path = "/api/v1/auth/login";
  req.body = json{{"username", username}, {"password", password}}.dump();
  req.client_address = client;
  auto res = api.handle(req);
  return {res.status, json::parse(res.body), std::move(res)};
}

}  // namespace

// Issue 21, finding 2: a login's username was never checked, and every failed one
// was kept by the limiter for the whole window (a megabyte each).
TEST_CASE_FIXTURE(Fixture, "login checks the username as registration does, before anything else") {
  for (const std::string& name : {std::string(1 << 20, 'a'), std::string("ab"), std::string("a b"),
                                  std::string("x'; --")}) {
    CAPTURE(name.size());
    const auto r = call("POST", "/api/v1/auth/login", json{{"username", name}, {"password", "password1"}}.dump());
    CHECK(r.status == 422);
    CHECK(r.body["error"]["code"] == "invalid_value");
    CHECK(r.body["error"]["field"] == "username");
  }
  CHECK(api.login_limiter().tracked() == 0);
}

// Issue 21, finding 6: spraying usernames from one address was unthrottled.
TEST_CASE("failed logins are limited per client address, then overall") {
  souk::storage::Database db(":memory:");
  souk::test::TempDir dir("souk-api-test");
  ApiOptions o;
  o.data_dir = dir.path();
  o.password_cost = PasswordCost::minimum();
  o.login_failures_per_minute_per_address = 3;
  o.login_failures_per_minute = 5;
  Api api(db, o);
  test::register_user(api, "owner", "buyer");

  for (int i = 0; i < 3; ++i) CHECK(login_from(api, "10.0.0.1", "guess" + std::to_string(i), "password1").status == 401);
  auto limited = login_from(api, "10.0.0.1", "owner", "password1");
  CHECK(limited.status == 429);
  CHECK(limited.body["error"]["code"] == "rate_limited");
  CHECK(std::stoi(std::string(limited.raw.header("Retry-After"))) >= 1);
  // Successes cost nothing; another address has its own allowance.
  CHECK(login_from(api, "10.0.0.2", "owner", "password1").status == 200);
  CHECK(login_from(api, "10.0.0.2", "owner", "password1").status == 200);
  CHECK(login_from(api, "10.0.0.2", "guess", "password1").status == 401);
  CHECK(login_from(api, "10.0.0.3", "guess", "password1").status == 401);
  // Five failures in all: now every address is refused, until the allowance refills.
  CHECK(login_from(api, "10.0.0.4", "owner", "password1").status == 429);
}

// Issue 21, finding 9: amounts were unbounded, sums overflowed, ended streams
// still counted, and a user could post without limit.
TEST_CASE("product events: bounded amounts, final figures once ended, a per-user rate") {
  souk::storage::Database db(":memory:");
  souk::test::TempDir dir("souk-api-test");
  ApiOptions o;
  o.data_dir = dir.path();
  o.password_cost = PasswordCost::minimum();
  o.product_events_per_minute = 6;
  Api api(db, o);
  const auto [seller_id, seller] = test::register_user(api, "shop", "seller");
  const auto [buyer_id, buyer] = test::register_user(api, "fan", "buyer");
  const auto [other_id, other] = test::register_user(api, "other", "buyer");
  const std::string product =
      test::call_api(api, "POST", "/api/v1/products", R"({"title":"Rug","price_cents":1000,"currency":"EUR"})", seller)
          .body["data"]["id"];
  auto r = test::call_api(api, "POST", "/api/v1/streams", json{{"title", "Live"}, {"product_ids", {product}}}.dump(), seller);
  const std::string id = r.body["data"]["streamId"];
  REQUIRE(test::call_api(api, "POST", "/api/v1/streams/" + id + "/go-live",
                         R"({"camera_ready":true,"checklist_complete":true})", seller).status == 200);
  const auto event = [&](const std::string& body, const std::string& token) {
    return test::call_api(api, "POST", "/api/v1/streams/" + id + "/products/" + product + "/events", body, token);
  };

  r = event(R"({"type":"purchase","amount_cents":9223372036854775807})", buyer);
  CHECK(r.status == 422);
  CHECK(r.body["error"]["field"] == "amount_cents");
  CHECK(event(R"({"type":"purchase","amount_cents":10000000001})", buyer).status == 422);
  CHECK(event(R"({"type":"purchase","amount_cents":10000000000})", buyer).status == 201);
  CHECK(event(R"({"type":"purchase"})", buyer).status == 201);
  CHECK(event(R"({"type":"view"})", buyer).status == 201);
  CHECK(event(R"({"type":"view"})", buyer).status == 201);
  // Six events a minute, bad ones included: the seventh is refused.
  r = event(R"({"type":"view"})", buyer);
  CHECK(r.status == 429);
  CHECK(r.body["error"]["code"] == "rate_limited");
  CHECK(std::stoi(std::string(r.raw.header("Retry-After"))) >= 1);
  CHECK(event(R"({"type":"view"})", other).status == 201);

  r = test::call_api(api, "GET", "/api/v1/streams/" + id + "/analytics", "", seller);
  CHECK(r.body["data"]["revenueCents"] == 10000001000);

  REQUIRE(test::call_api(api, "POST", "/api/v1/streams/" + id + "/end", "", seller).status == 200);
  r = event(R"({"type":"purchase"})", other);
  CHECK(r.status == 409);
  CHECK(r.body["error"]["code"] == "stream_ended");
  r = test::call_api(api, "GET", "/api/v1/streams/" + id + "/analytics", "", seller);
  CHECK(r.body["data"]["revenueCents"] == 10000001000);
}
