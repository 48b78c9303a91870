// The stream lifecycle over HTTP against the real binary: every REST item of the
// source document's manual testing checklist, and each error rule of docs/api.md.
#include "api_client.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <fstream>
#include <set>

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
