#include "souk/api/http/http_metrics.hpp"

#include <doctest/doctest.h>

#include <deque>
#include <string>

using souk::api::HttpMetrics;
using souk::metrics::Registry;

namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("http metrics: counted by route template, method and status, with the latency by route") {
  Registry registry;
  HttpMetrics m(registry);
  static constexpr std::string_view stream = "/api/v1/streams/{id}";
  m.observe("GET", stream, 200, 0.002);
  m.observe("GET", stream, 200, 0.02);
  m.observe("GET", stream, 404, 0.0001);
  m.observe("BREW", stream, 405, 0.0001);  // methods outside the set are "other"
  m.observe("GET", {}, 404, 0.0001);       // no route: "unmatched"
  const auto text = registry.render();
  CAPTURE(text);
  CHECK(has_line(text, R"(souk_http_requests_total{route="/api/v1/streams/{id}",method="GET",status="200"} 2)"));
  CHECK(has_line(text, R"(souk_http_requests_total{route="/api/v1/streams/{id}",method="GET",status="404"} 1)"));
  CHECK(has_line(text, R"(souk_http_requests_total{route="/api/v1/streams/{id}",method="other",status="405"} 1)"));
  CHECK(has_line(text, R"(souk_http_requests_total{route="unmatched",method="GET",status="404"} 1)"));
  CHECK(has_line(text, R"(souk_http_request_duration_seconds_bucket{route="/api/v1/streams/{id}",le="0.001"} 2)"));
  CHECK(has_line(text, R"(souk_http_request_duration_seconds_bucket{route="/api/v1/streams/{id}",le="0.0025"} 3)"));
  CHECK(has_line(text, R"(souk_http_request_duration_seconds_count{route="/api/v1/streams/{id}"} 4)"));
}

TEST_CASE("http metrics: more route templates than the caps allow end in the \"other\" series") {
  Registry registry;
  HttpMetrics m(registry);
  std::deque<std::string> routes;  // stable addresses, as router patterns are
  for (int i = 0; i < 700; ++i) routes.push_back("/r" + std::to_string(i));
  for (const auto& r : routes) m.observe("GET", r, 200, 0.001);
  for (const auto& r : routes) m.observe("GET", r, 200, 0.001);  // the lock-free path
  const auto text = registry.render();
  CHECK(has_line(text, R"(souk_http_requests_total{route="/r0",method="GET",status="200"} 2)"));
  // 500 label sets of requests, 100 routes of latency; the rest share "other".
  CHECK(has_line(text, R"(souk_http_requests_total{route="other",method="other",status="other"} 400)"));
  CHECK(has_line(text, R"(souk_http_request_duration_seconds_count{route="other"} 1200)"));
}
