// The stream lifecycle over HTTP against the real binary: every REST item of the
// source document's manual testing checklist, and each error rule of docs/api.md.
#include "api_client.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <chrono>
#include <fstream>
#include <future>
#include <latch>
#include <limits>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

using namespace souk_it;

namespace {

struct Cast {
  Account seller, other_seller, buyer;
  std::string p1, p2, other_product;
};

std::string create_product(ApiClient& client, const Account& seller, int price = 4999) {
  const auto r = client.post(api_path("/products"),
                             json{{"title", "Sneakers"}, {"price_cents", price}, {"currency", "USD"}},
                             seller.token);
  REQUIRE_STATUS(r, 201);
  return r.body["data"]["id"];
}

Cast& cast(ApiClient& client) {
  auto& c = test_case_state<Cast>("cast");
  if (c.seller.token.empty()) {
    c.seller = client.register_user("seller");
    c.other_seller = client.register_user("seller");
    c.buyer = client.register_user("buyer");
    c.p1 = create_product(client, c.seller, 5000);
    c.p2 = create_product(client, c.seller, 2500);
    c.other_product = create_product(client, c.other_seller);
  }
  return c;
}

// The body the source document's guide sends, with our product ids.
json guide_create_body(const std::vector<std::string>& product_ids) {
  return json{{"title", "Flash Sale - 50% Off!"},
              {"description", "Amazing deals on sneakers"},
              {"category", "sneakers"},
              {"audience", "everyone"},
              {"estimated_duration", 30},
              {"notify_followers", true},
              {"notify_neighborhood", true},
              {"enable_chat", true},
              {"enable_comments", true},
              {"record_stream", true},
              {"product_ids", product_ids},
              {"scheduled_at", nullptr}};
}

std::string create_stream(ApiClient& client, const Account& seller,
                          const std::vector<std::string>& product_ids) {
  const auto r = client.post(api_path("/streams"), guide_create_body(product_ids), seller.token);
  REQUIRE_STATUS(r, 201);
  return r.body["data"]["streamId"];
}

const json checklist = json{{"camera_ready", true}, {"checklist_complete", true}};

Response go_live(ApiClient& client, const std::string& id, const Account& who) {
  return client.post(api_path("/streams/" + id + "/go-live"), checklist, who.token);
}

// One value from the server's database (read-only; WAL lets us read beside it).
std::int64_t db_count(const ServerProcess& server, const std::string& sql, const std::string& arg) {
  sqlite3* db = nullptr;
  const auto path = (server.data_dir() / "souk.db").string();
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
  sqlite3_bind_text(st, 1, arg.c_str(), -1, SQLITE_TRANSIENT);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  const auto n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

// The six reactions of docs/api.md.
const std::vector<std::string> emojis = {"\u2764\ufe0f", "\U0001F525", "\U0001F44F",
                                         "\U0001F602", "\U0001F62E",   "\U0001F48E"};

}  // namespace

TEST_CASE("streams: creation (checklist: seller vs buyer, without products, attach after)") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());
  auto& c = cast(client);

  SUBCASE("a seller creates a stream with the guide's body") {
    const auto r = client.post(api_path("/streams"), guide_create_body({c.p1}), c.seller.token);
    REQUIRE_STATUS(r, 201);
    const auto& d = r.body["data"];
    CHECK(is_uuid(d["streamId"].get<std::string>()));
    CHECK(d["status"] == "scheduled");
    CHECK(d["productCount"] == 1);
    CHECK(d["title"] == "Flash Sale - 50% Off!");
    CHECK(d["audience"] == "everyone");
    CHECK(d["estimatedDuration"] == 30);
    CHECK(d["notifyFollowers"] == true);
    CHECK(d["recordStream"] == true);
    CHECK(d["seller"]["id"] == c.seller.id);
    CHECK(d["products"][0]["id"] == c.p1);
    CHECK(d["ingest"]["state"] == "waiting");
    CHECK_FALSE(d.contains("streamKey"));
  }
  SUBCASE("a buyer cannot create a stream; nor can an anonymous caller") {
    CHECK_ERROR(client.post(api_path("/streams"), guide_create_body({}), c.buyer.token), 403, "forbidden");
    CHECK_ERROR(client.post(api_path("/streams"), guide_create_body({})), 401, "unauthorized");
  }
  SUBCASE("a stream without products can be created") {
    const auto r = client.post(api_path("/streams"), guide_create_body({}), c.seller.token);
    REQUIRE_STATUS(r, 201);
    CHECK(r.body["data"]["productCount"] == 0);
  }
  SUBCASE("products are attached after creation; attached ones are skipped") {
    const auto id = create_stream(client, c.seller, {c.p1});
    const auto r = client.post(api_path("/streams/" + id + "/products"),
                               json{{"product_ids", {c.p1, c.p2}}}, c.seller.token);
    REQUIRE_STATUS(r, 200);
    CHECK(r.body["data"]["attached"] == json::array({c.p2}));
    CHECK(r.body["data"]["skipped"] == json::array({c.p1}));
    CHECK(r.body["data"]["productCount"] == 2);
    const auto list = client.get(api_path("/streams/" + id + "/products"));
    REQUIRE_STATUS(list, 200);
    REQUIRE(list.body["data"].size() == 2);
    CHECK(list.body["data"][0]["id"] == c.p1);
    CHECK(list.body["data"][1]["id"] == c.p2);
  }
  SUBCASE("attaching a product the seller does not own fails") {
    const auto id = create_stream(client, c.seller, {});
    CHECK_FIELD_ERROR(client.post(api_path("/streams/" + id + "/products"),
                                  json{{"product_ids", {c.other_product}}}, c.seller.token),
                      403, "forbidden", "product_ids");
    CHECK_FIELD_ERROR(client.post(api_path("/streams"), guide_create_body({c.other_product}),
                                  c.seller.token),
                      403, "forbidden", "product_ids");
    CHECK_ERROR(client.post(api_path("/streams/" + id + "/products"),
                            json{{"product_ids", {"00000000-0000-4000-8000-000000000000"}}},
                            c.seller.token),
                404, "product_not_found");
    CHECK_ERROR(client.post(api_path("/streams/" + id + "/products"),
                            json{{"product_ids", {c.other_product}}}, c.other_seller.token),
                403, "forbidden");
    CHECK_FIELD_ERROR(client.post(api_path("/streams/" + id + "/products"),
                                  json{{"product_ids", json::array()}}, c.seller.token),
                      422, "invalid_value", "product_ids");
    CHECK_FIELD_ERROR(client.post(api_path("/streams/" + id + "/products"), json::object(),
                                  c.seller.token),
                      400, "missing_field", "product_ids");
    CHECK_FIELD_ERROR(client.post(api_path("/streams/" + id + "/products"),
                                  json{{"product_ids", "x"}}, c.seller.token),
                      400, "invalid_type", "product_ids");
  }
  SUBCASE("unknown streams are 404") {
    CHECK_ERROR(client.get(api_path("/streams/00000000-0000-4000-8000-000000000000")), 404,
                "stream_not_found");
    CHECK_ERROR(client.get(api_path("/streams/not-a-stream")), 404, "stream_not_found");
    CHECK_ERROR(client.post(api_path("/streams/not-a-stream/products"),
                            json{{"product_ids", {c.p1}}}, c.seller.token),
                404, "stream_not_found");
  }
  SUBCASE("create validation") {
    auto body = guide_create_body({});
    body["audience"] = "friends";
    CHECK_FIELD_ERROR(client.post(api_path("/streams"), body, c.seller.token), 422,
                      "invalid_value", "audience");
    body = guide_create_body({});
    body["estimated_duration"] = 241;
    CHECK_FIELD_ERROR(client.post(api_path("/streams"), body, c.seller.token), 422,
                      "invalid_value", "estimated_duration");
    body["estimated_duration"] = "30";
    CHECK_FIELD_ERROR(client.post(api_path("/streams"), body, c.seller.token), 400,
                      "invalid_type", "estimated_duration");
    body = guide_create_body({});
    body.erase("title");
    CHECK_FIELD_ERROR(client.post(api_path("/streams"), body, c.seller.token), 400,
                      "missing_field", "title");
    body = guide_create_body({});
    body["scheduled_at"] = "tomorrow";
    CHECK_FIELD_ERROR(client.post(api_path("/streams"), body, c.seller.token), 422,
                      "invalid_value", "scheduled_at");
    body["scheduled_at"] = "2026-12-01T18:00:00.000Z";
    const auto ok = client.post(api_path("/streams"), body, c.seller.token);
    REQUIRE_STATUS(ok, 201);
    CHECK(ok.body["data"]["scheduledAt"] == "2026-12-01T18:00:00.000Z");
  }
}

TEST_CASE("streams: settings (checklist: update before live, all audiences, update live fails)") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());
  auto& c = cast(client);
  const auto id = create_stream(client, c.seller, {c.p1});
  const auto settings = api_path("/streams/" + id + "/settings");

  SUBCASE("every setting changes before going live") {
    const auto r = client.patch(settings,
                                json{{"title", "New title"},
                                     {"description", nullptr},
                                     {"category", "shoes"},
                                     {"audience", "followers"},
                                     {"estimated_duration", 45},
                                     {"notify_followers", false},
                                     {"notify_neighborhood", false},
                                     {"enable_chat", false},
                                     {"enable_comments", false},
                                     {"record_stream", false}},
                                c.seller.token);
    REQUIRE_STATUS(r, 200);
    const auto& d = r.body["data"];
    CHECK(d["title"] == "New title");
    CHECK(d["description"].is_null());
    CHECK(d["category"] == "shoes");
    CHECK(d["audience"] == "followers");
    CHECK(d["estimatedDuration"] == 45);
    CHECK(d["notifyFollowers"] == false);
    CHECK(d["notifyNeighborhood"] == false);
    CHECK(d["enableChat"] == false);
    CHECK(d["enableComments"] == false);
    CHECK(d["recordStream"] == false);
    // A subset leaves the rest alone.
    const auto again = client.patch(settings, json{{"estimated_duration", 5}}, c.seller.token);
    REQUIRE_STATUS(again, 200);
    CHECK(again.body["data"]["estimatedDuration"] == 5);
    CHECK(again.body["data"]["category"] == "shoes");
    CHECK(client.patch(settings, json{{"estimated_duration", 240}}, c.seller.token).status == 200);
  }
  SUBCASE("all three audiences are accepted, others refused") {
    for (const char* a : {"everyone", "followers", "neighborhood"}) {
      const auto r = client.patch(settings, json{{"audience", a}}, c.seller.token);
      REQUIRE_STATUS(r, 200);
      CHECK(r.body["data"]["audience"] == a);
    }
    CHECK_FIELD_ERROR(client.patch(settings, json{{"audience", "EVERYONE"}}, c.seller.token), 422,
                      "invalid_value", "audience");
    CHECK_FIELD_ERROR(client.patch(settings, json{{"estimated_duration", 4}}, c.seller.token), 422,
                      "invalid_value", "estimated_duration");
    CHECK_FIELD_ERROR(client.patch(settings, json{{"enable_chat", "yes"}}, c.seller.token), 400,
                      "invalid_type", "enable_chat");
  }
  SUBCASE("only the owner changes settings") {
    CHECK_ERROR(client.patch(settings, json{{"audience", "followers"}}, c.other_seller.token), 403,
                "forbidden");
    CHECK_ERROR(client.patch(settings, json{{"audience", "followers"}}, c.buyer.token), 403,
                "forbidden");
    CHECK_ERROR(client.patch(settings, json{{"audience", "followers"}}), 401, "unauthorized");
  }
  SUBCASE("a live stream's settings and products cannot change") {
    REQUIRE_STATUS(go_live(client, id, c.seller), 200);
    CHECK_ERROR(client.patch(settings, json{{"audience", "followers"}}, c.seller.token), 409,
                "stream_not_scheduled");
    CHECK_ERROR(client.post(api_path("/streams/" + id + "/products"), json{{"product_ids", {c.p2}}},
                            c.seller.token),
                409, "stream_not_scheduled");
  }
}

TEST_CASE("streams: go-live, tags, events, end and analytics (checklist)") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());
  auto& c = cast(client);

  SUBCASE("go-live without products or without the checklist fails") {
    const auto empty = create_stream(client, c.seller, {});
    CHECK_ERROR(go_live(client, empty, c.seller), 409, "no_products");
    const auto id = create_stream(client, c.seller, {c.p1});
    const auto path = api_path("/streams/" + id + "/go-live");
    CHECK_FIELD_ERROR(client.post(path, json::object(), c.seller.token), 422,
                      "checklist_incomplete", "camera_ready");
    CHECK_FIELD_ERROR(client.post(path, json{{"camera_ready", true}, {"checklist_complete", false}},
                                  c.seller.token),
                      422, "checklist_incomplete", "checklist_complete");
    CHECK_FIELD_ERROR(client.post(path, json{{"camera_ready", "yes"}}, c.seller.token), 400,
                      "invalid_type", "camera_ready");
    CHECK_ERROR(go_live(client, id, c.other_seller), 403, "forbidden");
    CHECK_ERROR(client.post(path, checklist), 401, "unauthorized");
    CHECK(client.get(api_path("/streams/" + id)).body["data"]["status"] == "scheduled");
  }

  SUBCASE("the whole flow: go-live, tag, fetch tags, events, end, analytics") {
    const auto id = create_stream(client, c.seller, {c.p1, c.p2});
    const auto live = go_live(client, id, c.seller);
    REQUIRE_STATUS(live, 200);
    const auto& d = live.body["data"];
    CHECK(d["status"] == "live");
    CHECK(d["rtmpUrl"] == "rtmp://127.0.0.1:" + std::to_string(server.rtmp_port()) + "/live");
    CHECK(d["hlsUrl"] == "http://127.0.0.1:" + std::to_string(server.http_port()) + "/hls/" + id +
                             "/index.m3u8");
    CHECK(d["notificationsSent"] == 0);
    const std::string key = d["streamKey"];
    CHECK(key.size() >= 22);  // at least 128 bits in base64
    CHECK_ERROR(go_live(client, id, c.seller), 409, "stream_already_live");

    // The key is returned once: never by details, never in the log.
    const auto details = client.get(api_path("/streams/" + id));
    REQUIRE_STATUS(details, 200);
    CHECK(details.body["data"]["status"] == "live");
    CHECK(details.raw.find(key) == std::string::npos);
    CHECK(db_count(server, "SELECT COUNT(*) FROM streams WHERE stream_key_hash IS NOT NULL AND id = ?", id) == 1);

    // Tag with coordinates, then fetch the tags.
    const auto tag_path = api_path("/streams/" + id + "/products/" + c.p1 + "/tag");
    const auto tag = client.post(
        tag_path, json{{"product_id", c.p1}, {"x", 0.42}, {"y", 0.63}, {"timestamp_seconds", 120}},
        c.seller.token);
    REQUIRE_STATUS(tag, 200);
    CHECK(tag.body["data"] == json{{"streamId", id}, {"productId", c.p1}, {"x", 0.42}, {"y", 0.63},
                                   {"timestampSeconds", 120.0}});
    CHECK_FIELD_ERROR(client.post(tag_path, json{{"x", 1.5}, {"y", 0.5}, {"timestamp_seconds", 0}},
                                  c.seller.token),
                      422, "invalid_value", "x");
    CHECK_FIELD_ERROR(client.post(tag_path, json{{"x", 0.5}, {"y", -0.1}, {"timestamp_seconds", 0}},
                                  c.seller.token),
                      422, "invalid_value", "y");
    CHECK_FIELD_ERROR(client.post(tag_path, json{{"x", 0.5}, {"y", 0.5}, {"timestamp_seconds", -1}},
                                  c.seller.token),
                      422, "invalid_value", "timestamp_seconds");
    CHECK_FIELD_ERROR(client.post(tag_path, json{{"y", 0.5}, {"timestamp_seconds", 1}}, c.seller.token),
                      400, "missing_field", "x");
    CHECK_ERROR(client.post(tag_path, json{{"x", 0.1}, {"y", 0.1}, {"timestamp_seconds", 1}},
                            c.buyer.token),
                403, "forbidden");
    CHECK_ERROR(client.post(api_path("/streams/" + id + "/products/" + c.other_product + "/tag"),
                            json{{"x", 0.1}, {"y", 0.1}, {"timestamp_seconds", 1}}, c.seller.token),
                404, "product_not_in_stream");
    const auto products = client.get(api_path("/streams/" + id + "/products"));
    REQUIRE_STATUS(products, 200);
    REQUIRE(products.body["data"].size() == 2);
    CHECK(products.body["data"][0]["tag"] ==
          json{{"x", 0.42}, {"y", 0.63}, {"timestampSeconds", 120.0}});
    CHECK(products.body["data"][1]["tag"].is_null());

    // Product events feed the counters and revenue.
    const auto events = [&](const std::string& pid) {
      return api_path("/streams/" + id + "/products/" + pid + "/events");
    };
    for (const char* type : {"view", "view", "click", "inquiry"}) {
      CHECK_STATUS(client.post(events(c.p1), json{{"type", type}}, c.buyer.token), 201);
    }
    const auto bought = client.post(events(c.p1), json{{"type", "purchase"}}, c.buyer.token);
    REQUIRE_STATUS(bought, 201);
    CHECK(bought.body["data"]["amountCents"] == 5000);  // the listed price
    CHECK(bought.body["data"]["analytics"] ==
          json{{"clicks", 1}, {"views", 2}, {"inquiries", 1}, {"purchases", 1}});
    CHECK_STATUS(client.post(events(c.p2), json{{"type", "purchase"}, {"amount_cents", 2000}},
                             c.buyer.token),
                 201);
    CHECK_FIELD_ERROR(client.post(events(c.p1), json{{"type", "like"}}, c.buyer.token), 422,
                      "invalid_value", "type");
    CHECK_FIELD_ERROR(client.post(events(c.p1), json{{"type", "view"}, {"amount_cents", 5}},
                                  c.buyer.token),
                      422, "invalid_value", "amount_cents");
    CHECK_ERROR(client.post(events(c.p1), json{{"type", "view"}}), 401, "unauthorized");
    CHECK_ERROR(client.post(events(c.other_product), json{{"type", "view"}}, c.buyer.token), 404,
                "product_not_in_stream");

    // Ending: only the owner, only while live.
    CHECK_ERROR(client.post(api_path("/streams/" + id + "/end"), Body(), c.buyer.token), 403,
                "forbidden");
    const auto ended = client.post(api_path("/streams/" + id + "/end"), Body(), c.seller.token);
    REQUIRE_STATUS(ended, 200);
    const auto& e = ended.body["data"];
    CHECK(e["status"] == "ended");
    CHECK(e["durationSeconds"].is_number_integer());
    CHECK(e["durationSeconds"] >= 0);
    CHECK(e["vodUrl"].is_null());  // no recording until the packager exists
    CHECK(e["stats"]["peakViewers"] == 0);
    CHECK(e["stats"]["uniqueViewers"] == 0);
    CHECK(e["stats"]["totalLikes"] == 0);
    CHECK(e["stats"]["chatMessages"] == 0);
    CHECK(e["stats"]["averageWatchTimeSeconds"] == 0);
    for (const auto& emoji : emojis) CHECK(e["stats"]["reactions"][emoji] == 0);
    CHECK_ERROR(client.post(api_path("/streams/" + id + "/end"), Body(), c.seller.token), 409,
                "stream_not_live");
    CHECK_ERROR(go_live(client, id, c.seller), 409, "stream_not_scheduled");
    CHECK_ERROR(client.post(tag_path, json{{"x", 0.1}, {"y", 0.1}, {"timestamp_seconds", 1}},
                            c.seller.token),
                409, "stream_ended");
    CHECK(db_count(server, "SELECT COUNT(*) FROM streams WHERE stream_key_hash IS NULL AND id = ?", id) == 1);

    // Analytics: the owner sees per-product figures; nobody else does.
    const auto a = client.get(api_path("/streams/" + id + "/analytics"), c.seller.token);
    REQUIRE_STATUS(a, 200);
    const auto& ad = a.body["data"];
    CHECK(ad["basicStats"]["durationSeconds"] == e["durationSeconds"]);
    CHECK(ad["basicStats"]["peakViewers"] == 0);
    CHECK(ad["basicStats"]["totalWatchTimeSeconds"] == 0);
    CHECK(ad["engagement"]["totalLikes"] == 0);
    CHECK(ad["engagement"]["chatMessages"] == 0);
    REQUIRE(ad["products"].size() == 2);
    CHECK(ad["products"][0] == json{{"productId", c.p1}, {"title", "Sneakers"}, {"clicks", 1},
                                    {"views", 2}, {"inquiries", 1}, {"purchases", 1},
                                    {"revenueCents", 5000}});
    CHECK(ad["products"][1]["revenueCents"] == 2000);
    CHECK(ad["revenueCents"] == 7000);
    CHECK_ERROR(client.get(api_path("/streams/" + id + "/analytics"), c.other_seller.token), 403,
                "forbidden");
    CHECK_ERROR(client.get(api_path("/streams/" + id + "/analytics"), c.buyer.token), 403,
                "forbidden");
    CHECK_ERROR(client.get(api_path("/streams/" + id + "/analytics")), 401, "unauthorized");

    // Details after the end carry the stored figures.
    const auto after = client.get(api_path("/streams/" + id));
    CHECK(after.body["data"]["status"] == "ended");
    CHECK(after.body["data"]["ingest"]["state"] == "finished");

    CHECK(server.log_text().find(key) == std::string::npos);
  }
}

// Issue 21, finding 9: any user posted unlimited purchases of any amount, after
// the stream ended too; two purchases of 2^63-1 made revenue a REAL (the API
// said INT64_MAX) and with two products the total came out -2.
TEST_CASE("streams: product events are bounded: amounts, revenue sums, ended streams (issue 21)") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());
  auto& c = cast(client);
  const auto id = create_stream(client, c.seller, {c.p1, c.p2});
  REQUIRE_STATUS(go_live(client, id, c.seller), 200);
  const auto events = [&](const std::string& pid) {
    return api_path("/streams/" + id + "/products/" + pid + "/events");
  };
  const auto purchase = [&](const std::string& pid, std::int64_t cents) {
    return client.post(events(pid), json{{"type", "purchase"}, {"amount_cents", cents}}, c.buyer.token);
  };

  constexpr std::int64_t max_int64 = std::numeric_limits<std::int64_t>::max();
  for (const auto& pid : {c.p1, c.p2}) {
    for (int i = 0; i < 2; ++i) {
      CHECK_FIELD_ERROR(purchase(pid, max_int64), 422, "invalid_value", "amount_cents");
    }
  }
  CHECK_FIELD_ERROR(purchase(c.p1, 10'000'000'001), 422, "invalid_value", "amount_cents");
  CHECK_FIELD_ERROR(purchase(c.p1, -1), 422, "invalid_value", "amount_cents");
  // The highest amount is a product's highest price; it is counted exactly.
  CHECK_STATUS(purchase(c.p1, 10'000'000'000), 201);
  CHECK_STATUS(purchase(c.p2, 10'000'000'000), 201);
  CHECK_STATUS(purchase(c.p2, 1), 201);
  CHECK(db_count(server, "SELECT COUNT(*) FROM product_events WHERE stream_id = ?", id) == 3);

  const auto a = client.get(api_path("/streams/" + id + "/analytics"), c.seller.token);
  REQUIRE_STATUS(a, 200);
  CHECK(a.body["data"]["products"][0]["revenueCents"] == 10'000'000'000);
  CHECK(a.body["data"]["products"][1]["revenueCents"] == 10'000'000'001);
  CHECK(a.body["data"]["revenueCents"] == 20'000'000'001);
  CHECK(a.body["data"]["revenueCents"].is_number_integer());

  // Once ended, the figures are final.
  REQUIRE_STATUS(client.post(api_path("/streams/" + id + "/end"), Body(), c.seller.token), 200);
  CHECK_ERROR(purchase(c.p1, 100), 409, "stream_ended");
  CHECK_ERROR(client.post(events(c.p1), json{{"type", "view"}}, c.buyer.token), 409, "stream_ended");
  CHECK(db_count(server, "SELECT COUNT(*) FROM product_events WHERE stream_id = ?", id) == 3);
}

TEST_CASE("streams: product events past --product-events-per-minute get 429 (issue 21)") {
  ServerOptions opts;
  opts.extra_args = {"--product-events-per-minute", "4"};
  auto& server = test_case_server("events-rate", opts);
  ApiClient client(server.http_port());
  auto& c = cast(client);
  const auto other_buyer = client.register_user("buyer");
  const auto id = create_stream(client, c.seller, {c.p1});
  REQUIRE_STATUS(go_live(client, id, c.seller), 200);
  const auto path = api_path("/streams/" + id + "/products/" + c.p1 + "/events");

  for (int i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK_STATUS(client.post(path, json{{"type", "purchase"}}, c.buyer.token), 201);
  }
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    const auto limited = client.post(path, json{{"type", "purchase"}}, c.buyer.token);
    CHECK_ERROR(limited, 429, "rate_limited");
    const auto retry = limited.header("Retry-After");
    INFO("Retry-After: " << retry);
    REQUIRE_FALSE(retry.empty());
    CHECK(std::stoll(retry) >= 1);
    CHECK(std::stoll(retry) <= 15);  // one event's worth: 60 s / 4
  }
  // Per user: another buyer is unaffected.
  CHECK_STATUS(client.post(path, json{{"type", "view"}}, other_buyer.token), 201);
  CHECK(db_count(server, "SELECT purchases FROM stream_products WHERE stream_id = ?", id) == 4);
  const auto metrics = client.get("/metrics").raw;
  CHECK(metrics.find("souk_refused_total{reason=\"product_event_rate\"} 3") != std::string::npos);
}

TEST_CASE("streams: go-live notifies two followers and one neighbour, not a user 3 km away") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());
  // The seller in central Paris; distances by great circle.
  const auto seller = client.register_user("seller", json{{"lat", 48.8566}, {"lon", 2.3522}});
  const auto f1 = client.register_user("buyer");
  const auto f2 = client.register_user("buyer");
  const auto near = client.register_user("buyer", json{{"lat", 48.8600}, {"lon", 2.3600}});  // 0.7 km
  const auto far = client.register_user("buyer", json{{"lat", 48.8566}, {"lon", 2.3930}});   // 3.0 km
  for (const auto* f : {&f1, &f2}) {
    CHECK_STATUS(client.post(api_path("/users/" + seller.id + "/follow"), Body(), f->token), 200);
  }
  const auto product = create_product(client, seller);

  const auto live_with = [&](json settings) {
    const auto id = create_stream(client, seller, {product});
    REQUIRE_STATUS(client.patch(api_path("/streams/" + id + "/settings"), settings, seller.token), 200);
    const auto r = go_live(client, id, seller);
    REQUIRE_STATUS(r, 200);
    return std::make_pair(id, r.body["data"]["notificationsSent"].get<int>());
  };

  const auto [id, sent] = live_with(json{{"audience", "everyone"}});
  CHECK(sent == 3);
  CHECK(db_count(server, "SELECT COUNT(*) FROM notifications WHERE stream_id = ?", id) == 3);
  for (const auto* u : {&f1, &f2, &near}) {
    CHECK(db_count(server, "SELECT COUNT(*) FROM notifications WHERE user_id = ?", u->id) >= 1);
  }
  CHECK(db_count(server, "SELECT COUNT(*) FROM notifications WHERE user_id = ?", far.id) == 0);
  CHECK(client.get(api_path("/streams/" + id)).body["data"]["notificationsSent"] == 3);

  // The audience narrows who may be told.
  CHECK(live_with(json{{"audience", "followers"}}).second == 2);
  CHECK(live_with(json{{"audience", "neighborhood"}}).second == 1);
  CHECK(live_with(json{{"notify_neighborhood", false}}).second == 2);
  CHECK(live_with(json{{"notify_followers", false}}).second == 1);
}

TEST_CASE("streams: discovery with filters and cursor pagination") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());
  const auto a = client.register_user("seller");
  const auto b = client.register_user("seller");
  const auto pa = create_product(client, a);
  std::vector<std::string> a_streams;
  for (int i = 0; i < 5; ++i) a_streams.push_back(create_stream(client, a, {pa}));
  const auto b_stream = create_stream(client, b, {});
  REQUIRE_STATUS(go_live(client, a_streams[1], a), 200);

  // Page through a's streams two at a time: newest first, each once.
  std::vector<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 5; ++page) {
    auto path = api_path("/streams?seller_id=" + a.id + "&limit=2");
    if (!cursor.empty()) path += "&cursor=" + cursor;
    const auto r = client.get(path);
    REQUIRE_STATUS(r, 200);
    for (const auto& s : r.body["data"]["streams"]) {
      CHECK(s["seller"]["id"] == a.id);
      seen.push_back(s["streamId"]);
    }
    if (r.body["data"]["nextCursor"].is_null()) break;
    cursor = r.body["data"]["nextCursor"];
  }
  CHECK(seen == std::vector<std::string>(a_streams.rbegin(), a_streams.rend()));

  const auto live = client.get(api_path("/streams?status=live&seller_id=" + a.id));
  REQUIRE_STATUS(live, 200);
  REQUIRE(live.body["data"]["streams"].size() == 1);
  CHECK(live.body["data"]["streams"][0]["streamId"] == a_streams[1]);
  CHECK(live.body["data"]["streams"][0]["productCount"] == 1);

  const auto all = client.get(api_path("/streams?limit=100"));
  REQUIRE_STATUS(all, 200);
  std::set<std::string> ids;
  for (const auto& s : all.body["data"]["streams"]) ids.insert(s["streamId"].get<std::string>());
  CHECK(ids.count(b_stream) == 1);

  CHECK_FIELD_ERROR(client.get(api_path("/streams?status=paused")), 422, "invalid_value", "status");
  CHECK_FIELD_ERROR(client.get(api_path("/streams?limit=0")), 422, "invalid_value", "limit");
  CHECK_FIELD_ERROR(client.get(api_path("/streams?limit=abc")), 422, "invalid_value", "limit");
  CHECK_FIELD_ERROR(client.get(api_path("/streams?limit=101")), 422, "invalid_value", "limit");
  CHECK_FIELD_ERROR(client.get(api_path("/streams?cursor=bogus")), 422, "invalid_value", "cursor");
  CHECK_FIELD_ERROR(client.get(api_path("/streams?seller_id=me")), 422, "invalid_value", "seller_id");
  CHECK_ERROR(client.get(api_path("/streams?status=%zz")), 400, "bad_request");
}

// ---- concurrent state changes ---------------------------------------------------

namespace {

// Runs a() and b() on two threads released at the same instant (a latch), and
// returns both results. Each side should have its connection open already.
template <class A, class B>
auto at_once(A a, B b) {
  std::latch start(3);
  auto fa = std::async(std::launch::async, [&] {
    start.arrive_and_wait();
    return a();
  });
  auto fb = std::async(std::launch::async, [&] {
    start.arrive_and_wait();
    return b();
  });
  start.arrive_and_wait();
  return std::make_pair(fa.get(), fb.get());
}

// A keep-alive client whose connection is already open.
std::unique_ptr<ApiClient> connected_client(const ServerProcess& server) {
  auto c = std::make_unique<ApiClient>(server.http_port(), /*keep_alive=*/true);
  REQUIRE_STATUS(c->get("/healthz"), 200);
  return c;
}

// Webhook events written for the stream (the outbox row is written in the same
// transaction as the change it announces, so this counts the changes).
std::int64_t events_of(const ServerProcess& server, const std::string& type, const std::string& id) {
  return db_count(server,
                  "SELECT COUNT(*) FROM webhook_deliveries WHERE event_type = '" + type +
                      "' AND stream_id = ?",
                  id);
}

// Lines of the server log with `what` and the stream's id.
int log_lines(const ServerProcess& server, const std::string& what, const std::string& id) {
  int n = 0;
  std::istringstream in(server.log_text());
  for (std::string line; std::getline(in, line);) {
    if (line.find(what) != std::string::npos && line.find("stream_id=" + id) != std::string::npos) ++n;
  }
  return n;
}

// A server whose webhook outbox records every stream event (the receiver is a
// closed port: deliveries stay pending or fail, the rows remain).
ServerOptions with_event_outbox(std::vector<std::string> extra = {}) {
  ServerOptions options;
  options.extra_args = {"--webhook-urls", "http://127.0.0.1:" + std::to_string(free_port()) + "/hook",
                        "--webhook-max-attempts", "1"};
  options.env = {{"SOUK_WEBHOOK_SECRET", "race-test-secret-0123456789abcdef"}};
  options.extra_args.insert(options.extra_args.end(), extra.begin(), extra.end());
  return options;
}

}  // namespace

TEST_CASE("streams: two go-lives at once, then two ends at once: exactly one of each wins") {
  ServerProcess server(with_event_outbox());
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto follower = client.register_user("buyer");
  REQUIRE_STATUS(client.post(api_path("/users/" + seller.id + "/follow"), json::object(), follower.token), 200);
  auto left = connected_client(server);
  auto right = connected_client(server);

  constexpr int rounds = 20;
  for (int round = 0; round < rounds; ++round) {
    CAPTURE(round);
    const auto id = client.create_stream(seller);
    const auto go_live_path = api_path("/streams/" + id + "/go-live");
    const auto [a, b] = at_once([&] { return left->post(go_live_path, checklist, seller.token); },
                                [&] { return right->post(go_live_path, checklist, seller.token); });
    INFO("go-live answers: " << a.describe() << " / " << b.describe());
    REQUIRE(((a.status == 200) != (b.status == 200)));
    const auto& lost = a.status == 200 ? b : a;
    const auto& won = a.status == 200 ? a : b;
    CHECK_ERROR(lost, 409, "stream_already_live");
    // The winner's key is the stream's: it publishes (checked by hash in the
    // database: the loser wrote no key of its own).
    CHECK(won.body["data"]["streamKey"].is_string());
    CHECK(client.stream_details(id)["status"] == "live");
    CHECK(events_of(server, "stream.live", id) == 1);
    CHECK(db_count(server, "SELECT COUNT(*) FROM notifications WHERE stream_id = ?", id) == 1);
    CHECK(log_lines(server, "stream live", id) == 1);

    const auto end_path = api_path("/streams/" + id + "/end");
    const auto [c, d] = at_once([&] { return left->post(end_path, json::object(), seller.token); },
                                [&] { return right->post(end_path, json::object(), seller.token); });
    INFO("end answers: " << c.describe() << " / " << d.describe());
    REQUIRE(((c.status == 200) != (d.status == 200)));
    CHECK_ERROR(c.status == 200 ? d : c, 409, "stream_not_live");
    const auto details = client.stream_details(id);
    CHECK(details["status"] == "ended");
    CHECK(details["endedAt"] == (c.status == 200 ? c : d).body["data"]["endedAt"]);
    CHECK(events_of(server, "stream.ended", id) == 1);
    CHECK(server.wait_for_log("stream ended stream_id=" + id));
    CHECK(log_lines(server, "stream ended", id) == 1);
  }
}

TEST_CASE("streams: /end racing the idle timeout ends each stream once, by one of them") {
  // --idle-timeout 1: a stream without a publisher is ended 1 s after go-live, by
  // a sweep every 250 ms. The owner's /end is sent around that moment, spread
  // over a sweep's period, so it lands before, during and after the sweep's end.
  ServerProcess server(with_event_outbox({"--idle-timeout", "1"}));
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  auto owner = connected_client(server);

  constexpr int rounds = 20;
  int by_owner = 0;
  for (int round = 0; round < rounds; ++round) {
    CAPTURE(round);
    const auto live = client.go_live(seller);
    const auto went_live = std::chrono::steady_clock::now();
    // A deliberate offset into the race window, not a wait for something.
    std::this_thread::sleep_until(went_live + std::chrono::milliseconds(900 + 25 * (round % 12)));
    const auto ended = owner->post(api_path("/streams/" + live.id + "/end"), json::object(), seller.token);
    INFO("end answer: " << ended.describe());
    if (ended.status == 200) {
      ++by_owner;
    } else {
      CHECK_ERROR(ended, 409, "stream_not_live");
    }
    const auto d = client.wait_stream_details(
        live.id, [](const json& s) { return s["status"] == "ended"; }, scaled(std::chrono::seconds(5)));
    CHECK(d["status"] == "ended");
    CHECK(events_of(server, "stream.ended", live.id) == 1);
    REQUIRE(server.wait_for_log("stream ended stream_id=" + live.id));
    CHECK(log_lines(server, "stream ended", live.id) == 1);
    const std::string reason = ended.status == 200 ? "the owner ended it" : "no publisher within the idle timeout";
    CHECK(log_lines(server, reason, live.id) == 1);
  }
  MESSAGE("ended by the owner in " << by_owner << " of " << rounds << " rounds, by the idle sweep in the others");
}

TEST_CASE("streams: /end racing `souk-live stream end` ends the stream once") {
  ServerProcess server(with_event_outbox());
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  auto owner = connected_client(server);

  constexpr int rounds = 6;
  int cli_first = 0;
  for (int round = 0; round < rounds; ++round) {
    CAPTURE(round);
    const auto live = client.go_live(seller);
    const auto end_path = api_path("/streams/" + live.id + "/end");
    // The CLI needs a few milliseconds to start and open the database: the
    // owner's request leaves a little later each round, to cross that window.
    const auto offset = std::chrono::milliseconds(8 * round);
    const auto [cli, http] = at_once(
        [&] {
          return run_binary({"stream", "end", live.id, "--data-dir", server.data_dir().string(), "--wait",
                             std::to_string(static_cast<double>(scaled(std::chrono::seconds(5)).count()) / 1000)},
                            {}, scaled(std::chrono::seconds(20)));
        },
        [&] {
          std::this_thread::sleep_for(offset);
          return owner->post(end_path, json::object(), seller.token);
        });
    INFO("cli: exit " << cli.exit_code << " [" << cli.out << "] [" << cli.err << "]; /end: " << http.describe());
    CHECK_FALSE(cli.timed_out);
    if (cli.exit_code == 0) {
      // The operator's request was recorded while the stream was live: ended
      // by whichever came first, the sweep or the owner.
      ++cli_first;
      CHECK(cli.out.find("ended at") != std::string::npos);
      if (http.status != 200) CHECK_ERROR(http, 409, "stream_not_live");
    } else {
      // The owner ended it before the CLI looked.
      CHECK(cli.exit_code == 1);
      CHECK(cli.err.find("not live") != std::string::npos);
      CHECK_STATUS(http, 200);
    }
    CHECK(client.stream_details(live.id)["status"] == "ended");
    CHECK(events_of(server, "stream.ended", live.id) == 1);
    REQUIRE(server.wait_for_log("stream ended stream_id=" + live.id));
    CHECK(log_lines(server, "stream ended", live.id) == 1);
  }
  MESSAGE("the CLI recorded its request first in " << cli_first << " of " << rounds
                                                   << " rounds, the owner's /end came first in the others");
}
