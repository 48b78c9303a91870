// Products: POST /products (sellers only, validated) and GET /products/{id}.
#include "api_client.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>

using namespace souk_it;

namespace {

struct People {
  Account seller, buyer;
};

json product_body() {
  return json{
      {"title", "Hand-woven Beni Ourain rug"}, {"price_cents", 125000}, {"currency", "MAD"}};
}

void check_product_shape(const json& p, const std::string& seller_id, const json& sent) {
  INFO("product: " << p.dump());
  REQUIRE(p.is_object());
  REQUIRE(p["id"].is_string());
  CHECK(is_uuid(p["id"].get<std::string>()));
  CHECK(p["sellerId"] == seller_id);
  CHECK(p["title"] == sent["title"]);
  CHECK(p["priceCents"] == sent["price_cents"]);
  CHECK(p["currency"] == sent["currency"]);
  if (sent.contains("image_url")) {
    CHECK(p["imageUrl"] == sent["image_url"]);
  } else {
    CHECK(p.contains("imageUrl"));
    CHECK(p["imageUrl"].is_null());
  }
  REQUIRE(p["createdAt"].is_string());
  CHECK(is_iso_millis_utc(p["createdAt"].get<std::string>()));
  CHECK(seconds_from_now(p["createdAt"].get<std::string>()) < 300);
}

}  // namespace

TEST_CASE("products: create and get") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());
  auto& p = test_case_state<People>("people");
  if (p.seller.token.empty()) {
    p.seller = client.register_user("seller");
    p.buyer = client.register_user("buyer");
  }
  const auto products = api_path("/products");

  SUBCASE("a seller creates a product; anyone can get it") {
    const auto body = product_body();
    const auto created = client.post(products, body, p.seller.token);
    REQUIRE_STATUS(created, 201);
    check_product_shape(created.body["data"], p.seller.id, body);

    const auto id = created.body["data"]["id"].get<std::string>();
    const auto got = client.get(api_path("/products/" + id));  // no token
    REQUIRE_STATUS(got, 200);
    CHECK(got.body["data"] == created.body["data"]);
    const auto got_as_buyer = client.get(api_path("/products/" + id), p.buyer.token);
    REQUIRE_STATUS(got_as_buyer, 200);
    CHECK(got_as_buyer.body["data"] == created.body["data"]);
  }
  SUBCASE("with an image URL, a UTF-8 title and limit values") {
    std::vector<json> bodies;
    auto b = product_body();
    b["image_url"] = "https://cdn.example/rugs/1.jpg";
    b["title"] = "سجادة بني ورين — Beni Ourain";
    bodies.push_back(b);
    b = product_body();
    b["title"] = std::string(200, 't');
    b["price_cents"] = 0;
    b["currency"] = "EUR";
    b["image_url"] = "http://cdn.example/x.png";
    bodies.push_back(b);
    for (const auto& body : bodies) {
      CAPTURE(body.dump());
      const auto created = client.post(products, body, p.seller.token);
      REQUIRE_STATUS(created, 201);
      check_product_shape(created.body["data"], p.seller.id, body);
      const auto got =
          client.get(api_path("/products/" + created.body["data"]["id"].get<std::string>()));
      CHECK(got.body["data"] == created.body["data"]);
    }
  }
  SUBCASE("a buyer is 403 forbidden") {
    const auto res = client.post(products, product_body(), p.buyer.token);
    CHECK_ERROR(res, 403, "forbidden");
    CHECK_NO_FIELD(res);
  }
  SUBCASE("no token is 401 unauthorized, a bad token 401 invalid_token") {
    const auto none = client.post(products, product_body());
    CHECK_ERROR(none, 401, "unauthorized");
    CHECK(none.has_header("WWW-Authenticate"));
    CHECK_ERROR(client.post(products, product_body(), "not-a-real-token"), 401, "invalid_token");
  }
  SUBCASE("a missing field is 400 missing_field") {
    for (const char* field : {"title", "price_cents", "currency"}) {
      CAPTURE(field);
      auto body = product_body();
      body.erase(field);
      CHECK_FIELD_ERROR(client.post(products, body, p.seller.token), 400, "missing_field", field);
    }
  }
  SUBCASE("a wrong JSON type is 400 invalid_type") {
    const std::vector<std::pair<std::string, json>> cases{
        {"price_cents", 12.5}, {"price_cents", "12"}, {"title", 5},
        {"currency", 978},     {"image_url", true},   {"price_cents", json::array()}};
    for (const auto& [field, value] : cases) {
      CAPTURE(field);
      CAPTURE(value.dump());
      auto body = product_body();
      body[field] = value;
      CHECK_FIELD_ERROR(client.post(products, body, p.seller.token), 400, "invalid_type", field);
    }
  }
  SUBCASE("an invalid value is 422 invalid_value naming the field") {
    const std::vector<std::pair<std::string, json>> cases{
        {"title", ""},
        {"title", "   "},
        {"title", std::string(201, 't')},
        {"price_cents", -1},
        {"currency", "usd"},
        {"currency", "US"},
        {"currency", "USDD"},
        {"currency", "U1D"},
        {"currency", ""},
        {"image_url", "ftp://cdn.example/a.png"},
        {"image_url", "not a url"},
    };
    for (const auto& [field, value] : cases) {
      CAPTURE(field);
      CAPTURE(value.dump());
      auto body = product_body();
      body[field] = value;
      CHECK_FIELD_ERROR(client.post(products, body, p.seller.token), 422, "invalid_value", field);
    }
  }
  SUBCASE("an unknown or malformed id is 404 product_not_found") {
    for (const std::string id : {"00000000-0000-4000-8000-000000000000",
                                 "3f0b9a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "not-a-uuid", "1"}) {
      CAPTURE(id);
      const auto res = client.get(api_path("/products/" + id));
      CHECK_ERROR(res, 404, "product_not_found");
      CHECK_NO_FIELD(res);
    }
    // A user id is not a product id.
    CHECK_ERROR(client.get(api_path("/products/" + p.seller.id)), 404, "product_not_found");
  }
}
