// The realtime facade over its parts, through Realtime::polling: the CORS
// headers every polling answer carries (issue 19: an allow-list got none).
#include "souk/api/realtime/realtime.hpp"

#include "realtime_fakes.hpp"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

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
