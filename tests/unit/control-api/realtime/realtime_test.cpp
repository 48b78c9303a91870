// The realtime facade over its parts, through Realtime::polling: the CORS
// headers every polling answer carries (issue 19: an allow-list got none).
#include "souk/api/realtime/realtime.hpp"

#include "realtime_fakes.hpp"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <nlohmann/json.hpp>

#include <future>

using namespace souk::api;
using namespace souk::api::test;

namespace {

HttpRequest polling_request(std::string method, std::string query, std::string origin) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = "/socket.io/";
  r.query = std::move(query);
  r.target = r.path + "?" + r.query;
  if (!origin.empty()) r.headers["origin"] = std::move(origin);
  return r;
}

HttpResponse poll(Realtime& realtime, const HttpRequest& request) {
  std::promise<HttpResponse> answer;
  auto done = answer.get_future();
  realtime.polling(request, [&answer](HttpResponse res) { answer.set_value(std::move(res)); });
  REQUIRE(done.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  return done.get();
}

// As in app/: the store outlives the pool, and the pool the io_context (whose
// handlers, destroyed with it, may hold strands of the pool).
struct Fixture {
  FakeStore store;
  boost::asio::thread_pool blocking{1};
  boost::asio::io_context ioc;

  ~Fixture() { blocking.join(); }
};

}  // namespace

TEST_CASE_FIXTURE(Fixture, "realtime: polling answers echo an allowed origin (issue 19)") {
  RealtimeOptions options;
  options.cors_origins = {"https://shop.example"};
  Realtime realtime(ioc, blocking, store, options);

  const auto open =
      poll(realtime, polling_request("GET", "EIO=4&transport=polling", "https://shop.example"));
  CHECK(open.status == 200);
  CHECK(open.body.rfind("0{", 0) == 0);
  CHECK(open.header("Access-Control-Allow-Origin") == "https://shop.example");
  CHECK(open.header("Vary") == "Origin");

  const auto error =
      poll(realtime, polling_request("GET", "EIO=3&transport=polling", "https://shop.example"));
  CHECK(error.status == 400);
  CHECK(error.header("Access-Control-Allow-Origin") == "https://shop.example");

  const auto preflight =
      poll(realtime, polling_request("OPTIONS", "EIO=4&transport=polling", "https://shop.example"));
  CHECK(preflight.status == 204);
  CHECK(preflight.header("Access-Control-Allow-Origin") == "https://shop.example");
  CHECK(preflight.header("Access-Control-Allow-Methods") == "GET, POST, OPTIONS");
  CHECK(preflight.header("Access-Control-Allow-Headers") == "Content-Type");

  const auto other =
      poll(realtime, polling_request("GET", "EIO=4&transport=polling", "https://evil.example"));
  CHECK(other.header("Access-Control-Allow-Origin").empty());
  CHECK(other.header("Vary") == "Origin");
  realtime.stop();
}

TEST_CASE_FIXTURE(Fixture, "realtime: with the default origins, polling answers allow every page") {
  Realtime realtime(ioc, blocking, store, RealtimeOptions{});
  const auto open =
      poll(realtime, polling_request("GET", "EIO=4&transport=polling", "https://shop.example"));
  CHECK(open.header("Access-Control-Allow-Origin") == "*");
  CHECK(open.header("Vary").empty());
  CHECK(realtime.client_count() == 1);
  realtime.stop();
  CHECK(realtime.client_count() == 0);
}

namespace {

HttpRequest from(HttpRequest r, std::string address) {
  r.client_address = std::move(address);
  return r;
}

HttpRequest upgrade_request(std::string query, std::string origin) {
  auto r = polling_request("GET", std::move(query), std::move(origin));
  r.headers["upgrade"] = "websocket";
  r.client_address = "127.0.0.1";
  return r;
}

}  // namespace

// Issue 21: a page on any site could open a WebSocket to the server whatever
// --cors-origins said (the same-origin policy does not cover WebSockets).
TEST_CASE_FIXTURE(Fixture, "realtime: a WebSocket upgrade from an origin not listed is 403") {
  RealtimeOptions options;
  options.cors_origins = {"https://shop.example", "https://admin.example"};
  Realtime realtime(ioc, blocking, store, options);
  const std::string ws = "EIO=4&transport=websocket";
  const auto refused = realtime.check_upgrade(upgrade_request(ws, "https://evil.example"));
  REQUIRE(refused);
  CHECK(refused->status == 403);
  CHECK(refused->body == R"({"code":4,"message":"Forbidden: origin not allowed"})");
  CHECK(realtime.check_upgrade(upgrade_request(ws + "&sid=abc", "https://evil.example"))->status ==
        403);  // an upgrade of a polling session too
  CHECK_FALSE(realtime.check_upgrade(upgrade_request(ws, "https://shop.example")));
  CHECK_FALSE(realtime.check_upgrade(upgrade_request(ws, "https://admin.example")));
  CHECK_FALSE(realtime.check_upgrade(upgrade_request(ws, "")));  // not a browser

  Realtime open_to_all(ioc, blocking, store, RealtimeOptions{});
  CHECK_FALSE(open_to_all.check_upgrade(upgrade_request(ws, "https://evil.example")));
  realtime.stop();
  open_to_all.stop();
}

// Issue 21: 16,000 polling sessions opened in 14 s, nothing refused.
TEST_CASE_FIXTURE(Fixture, "realtime: sessions are capped in all (503) and per address (429)") {
  RealtimeOptions options;
  options.max_per_address = 2;
  options.max_connections = 3;
  Realtime realtime(ioc, blocking, store, options);
  const auto open = polling_request("GET", "EIO=4&transport=polling", "");
  CHECK(poll(realtime, from(open, "10.0.0.1")).status == 200);
  const auto second = poll(realtime, from(open, "10.0.0.1"));
  CHECK(second.status == 200);
  const auto third = poll(realtime, from(open, "10.0.0.1"));
  CHECK(third.status == 429);
  CHECK(third.header("Retry-After") == "10");
  CHECK(third.body == R"({"code":4,"message":"too many Socket.IO sessions from this address"})");
  // A WebSocket from the start is a session too: refused before the handshake.
  auto ws = upgrade_request("EIO=4&transport=websocket", "");
  CHECK(realtime.check_upgrade(from(ws, "10.0.0.1"))->status == 429);
  CHECK_FALSE(realtime.check_upgrade(from(ws, "10.0.0.2")));

  CHECK(poll(realtime, from(open, "10.0.0.2")).status == 200);
  CHECK(realtime.client_count() == 3);
  CHECK(poll(realtime, from(open, "10.0.0.3")).status == 503);
  CHECK(realtime.check_upgrade(from(ws, "10.0.0.3"))->status == 503);

  // A session that closes makes room for its address again.
  const auto sid = nlohmann::json::parse(second.body.substr(1))["sid"].get<std::string>();
  auto close = polling_request("POST", "EIO=4&transport=polling&sid=" + sid, "");
  close.body = "1";
  CHECK(poll(realtime, from(close, "10.0.0.1")).status == 200);
  CHECK(realtime.client_count() == 2);
  CHECK(poll(realtime, from(open, "10.0.0.1")).status == 200);
  realtime.stop();
}

// Issue 21: a polling session that stopped polling held 1,003 packets of ~44 KB
// (44 MB): the packet bound (1,024) alone does not bound the bytes.
TEST_CASE_FIXTURE(Fixture, "realtime: a polling client with too many bytes waiting is closed") {
  const std::string live = "11111111-1111-4111-8111-111111111111";
  store.streams[live] = {live, "seller-1", souk::storage::StreamStatus::live, true};
  RealtimeOptions options;
  options.max_queue_bytes = 64 * 1024;
  Realtime realtime(ioc, blocking, store, options);
  const auto open = poll(realtime, polling_request("GET", "EIO=4&transport=polling", ""));
  const auto sid = nlohmann::json::parse(open.body.substr(1))["sid"].get<std::string>();
  const auto session = "EIO=4&transport=polling&sid=" + sid;
  auto post = polling_request("POST", session, "");
  post.body = "40";
  CHECK(poll(realtime, post).status == 200);
  CHECK(poll(realtime, polling_request("GET", session, "")).body.rfind("40{", 0) == 0);
  post.body = "42" + nlohmann::json::array({"stream:join", {{"stream_id", live}}}).dump();
  CHECK(poll(realtime, post).status == 200);
  CHECK(poll(realtime, polling_request("GET", session, "")).body.find("stream:joined") !=
        std::string::npos);

  // The client stops polling; the room goes on: 6 packets of 10 KB wait for it
  // (far from 1,024 packets), and the 7th would pass 64 KiB.
  const nlohmann::json tag = {{"streamId", live}, {"note", std::string(10 * 1024, 'x')}};
  for (int i = 0; i < 6; ++i) realtime.product_tagged(live, tag);
  CHECK(realtime.client_count() == 1);
  realtime.product_tagged(live, tag);
  CHECK(realtime.client_count() == 0);
  realtime.stop();
}
