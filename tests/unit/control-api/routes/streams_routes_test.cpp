// The stream routes' answers to lifecycle refusals, in process through
// Api::handle: each StreamLifecycle error keeps the HTTP status, code, message
// and field the API gave before the service existed, and the checks keep their order.
#include "souk/api/api.hpp"

#include "../api_test_client.hpp"

#include "souk/storage/database.hpp"

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
            o.public_http_url = "http://shop.test:8080";
            o.password_cost = PasswordCost::minimum();
            return o;
          }()};

  using Reply = test::ApiReply;

  Reply call(const std::string& method, const std::string& target, const std::string& body = "",
             const std::string& token = "") {
    return test::call_api(api, method, target, body, token);
  }

  // Registers and returns the token.
  std::string user(const std::string& name, const std::string& role) {
    return test::register_user(api, name, role).second;
  }

  // A scheduled stream of `token`'s seller with one product attached.
  std::string stream(const std::string& token) {
    const std::string product =
        call("POST", "/api/v1/products", R"({"title":"Rug","price_cents":1000,"currency":"EUR"})",
             token)
            .body["data"]["id"];
    const auto r = call("POST", "/api/v1/streams",
                        json{{"title", "Live"}, {"product_ids", {product}}}.dump(), token);
    REQUIRE(r.status == 201);
    return r.body["data"]["streamId"];
  }
};

const std::string ready = R"({"camera_ready":true,"checklist_complete":true})";

// status, code, message and (when given) field of an error reply.
void check_error(const Fixture::Reply& r, int status, const std::string& code,
                 const std::string& message, const std::string& field = "") {
  CHECK(r.status == status);
  CHECK(r.body["error"]["code"] == code);
  CHECK(r.body["error"]["message"] == message);
  if (field.empty()) {
    CHECK_FALSE(r.body["error"].contains("field"));
  } else {
    CHECK(r.body["error"]["field"] == field);
  }
}

}  // namespace

TEST_CASE_FIXTURE(Fixture, "streams routes: go-live refusals keep their status, code and message") {
  const auto seller = user("shop", "seller");
  const auto rival = user("rival", "seller");
  const auto id = stream(seller);
  const auto go_live = "/api/v1/streams/" + id + "/go-live";

  check_error(call("POST", "/api/v1/streams/00000000-0000-4000-8000-000000000000/go-live", ready,
                   seller),
              404, "stream_not_found", "no such stream");
  check_error(call("POST", go_live, ready, rival), 403, "forbidden", "this stream is not yours");
  // Ownership before the body: a stranger's malformed checklist is still a 403.
  check_error(call("POST", go_live, R"({"camera_ready":"yes"})", rival), 403, "forbidden",
              "this stream is not yours");
  const auto malformed = call("POST", go_live, R"({"camera_ready":"yes"})", seller);
  CHECK(malformed.status == 400);
  CHECK(malformed.body["error"]["code"] == "invalid_type");
  CHECK(malformed.body["error"]["field"] == "camera_ready");
  check_error(call("POST", go_live, R"({"checklist_complete":true})", seller), 422,
              "checklist_incomplete", "confirm the camera is ready", "camera_ready");
  check_error(call("POST", go_live, R"({"camera_ready":true})", seller), 422,
              "checklist_incomplete", "complete the pre-live checklist", "checklist_complete");

  const auto live = call("POST", go_live, ready, seller);
  REQUIRE(live.status == 200);
  CHECK(live.body["data"]["status"] == "live");
  CHECK(live.body["data"]["hlsUrl"] == "http://shop.test:8080/hls/" + id + "/index.m3u8");
  check_error(call("POST", go_live, ready, seller), 409, "stream_already_live",
              "the stream is already live");

  REQUIRE(call("POST", "/api/v1/streams/" + id + "/end", "", seller).status == 200);
  check_error(call("POST", go_live, ready, seller), 409, "stream_not_scheduled",
              "an ended stream cannot go live again (the stream is ended)");
}

TEST_CASE_FIXTURE(Fixture, "streams routes: end refusals keep their status, code and message") {
  const auto seller = user("shop", "seller");
  const auto buyer = user("fan", "buyer");
  const auto id = stream(seller);
  const auto end = "/api/v1/streams/" + id + "/end";

  check_error(call("POST", "/api/v1/streams/not-a-stream/end", "", seller), 404,
              "stream_not_found", "no such stream");
  check_error(call("POST", end, "", seller), 409, "stream_not_live",
              "only a live stream can be ended (the stream is scheduled)");
  REQUIRE(call("POST", "/api/v1/streams/" + id + "/go-live", ready, seller).status == 200);
  check_error(call("POST", end, "", buyer), 403, "forbidden", "this stream is not yours");
  const auto ended = call("POST", end, "", seller);
  REQUIRE(ended.status == 200);
  CHECK(ended.body["data"]["status"] == "ended");
  CHECK(ended.body["data"]["vodUrl"].is_null());  // no media plane: nothing recorded
  check_error(call("POST", end, "", seller), 409, "stream_not_live",
              "only a live stream can be ended (the stream is ended)");
}

TEST_CASE_FIXTURE(Fixture, "streams routes: the status filter parses through the enum") {
  const auto seller = user("shop", "seller");
  stream(seller);
  CHECK(call("GET", "/api/v1/streams?status=scheduled").body["data"]["streams"].size() == 1);
  CHECK(call("GET", "/api/v1/streams?status=live").body["data"]["streams"].empty());
  for (const auto* bad : {"Live", "", "paused"}) {
    check_error(call("GET", std::string("/api/v1/streams?status=") + bad), 422, "invalid_value",
                "'status' must be live, scheduled or ended", "status");
  }
}
