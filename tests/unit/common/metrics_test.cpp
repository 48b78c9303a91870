#include "souk/metrics.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace souk::metrics;

TEST_CASE("a counter and a gauge render with HELP, TYPE and their value") {
  Registry r;
  r.counter("souk_test_events_total", "Events seen.").get().inc(3);
  auto& g = r.gauge("souk_test_open", "Things open.").get();
  g.inc();
  g.inc();
  g.dec();
  g.add(0.5);
  CHECK(r.render() ==
        "# HELP souk_test_events_total Events seen.\n"
        "# TYPE souk_test_events_total counter\n"
        "souk_test_events_total 3\n"
        "# HELP souk_test_open Things open.\n"
        "# TYPE souk_test_open gauge\n"
        "souk_test_open 1.5\n");
}

TEST_CASE("label values are escaped; HELP escapes backslash and newline") {
  Registry r;
  auto& f = r.counter("souk_test_total", "Line one\nback\\slash \"quoted\".", {"path"}, 10);
  f.with({"a\\b\"c\nd"}).inc();
  CHECK(r.render() ==
        "# HELP souk_test_total Line one\\nback\\\\slash \"quoted\".\n"
        "# TYPE souk_test_total counter\n"
        "souk_test_total{path=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST_CASE("a histogram renders cumulative buckets, +Inf, _sum and _count per label set") {
  Registry r;
  auto& f = r.histogram("souk_test_seconds", "Latency.", {0.25, 1}, {"route"}, 10);
  auto& a = f.with({"/a/{id}"});
  a.observe(0.125);
  a.observe(0.25);  // on a bound: counted in that bucket (le is "less or equal")
  a.observe(0.5);
  a.observe(7);
  f.with({"/b"}).observe(2);
  CHECK(r.render() ==
        "# HELP souk_test_seconds Latency.\n"
        "# TYPE souk_test_seconds histogram\n"
        "souk_test_seconds_bucket{route=\"/a/{id}\",le=\"0.25\"} 2\n"
        "souk_test_seconds_bucket{route=\"/a/{id}\",le=\"1\"} 3\n"
        "souk_test_seconds_bucket{route=\"/a/{id}\",le=\"+Inf\"} 4\n"
        "souk_test_seconds_sum{route=\"/a/{id}\"} 7.875\n"
        "souk_test_seconds_count{route=\"/a/{id}\"} 4\n"
        "souk_test_seconds_bucket{route=\"/b\",le=\"0.25\"} 0\n"
        "souk_test_seconds_bucket{route=\"/b\",le=\"1\"} 0\n"
        "souk_test_seconds_bucket{route=\"/b\",le=\"+Inf\"} 1\n"
        "souk_test_seconds_sum{route=\"/b\"} 2\n"
        "souk_test_seconds_count{route=\"/b\"} 1\n");
}

TEST_CASE("an unlabeled histogram has only le") {
  Registry r;
  r.histogram("souk_test_seconds", "Latency.", {0.5}).get().observe(0.25);
  CHECK(r.render() ==
        "# HELP souk_test_seconds Latency.\n"
        "# TYPE souk_test_seconds histogram\n"
        "souk_test_seconds_bucket{le=\"0.5\"} 1\n"
        "souk_test_seconds_bucket{le=\"+Inf\"} 1\n"
        "souk_test_seconds_sum 0.25\n"
        "souk_test_seconds_count 1\n");
}

TEST_CASE("beyond the cap, new label sets share one \"other\" series") {
  Registry r;
  auto& f = r.counter("souk_test_total", "Capped.", {"stream", "kind"}, 2);
  auto& a = f.with({"a", "x"});
  f.with({"b", "x"}).inc();
  auto& c = f.with({"c", "x"});
  auto& d = f.with({"d", "y"});
  CHECK(&c == &d);
  CHECK(&f.with({"a", "x"}) == &a);  // existing sets keep their own series
  a.inc();
  c.inc(5);
  CHECK(r.render() ==
        "# HELP souk_test_total Capped.\n"
        "# TYPE souk_test_total counter\n"
        "souk_test_total{stream=\"a\",kind=\"x\"} 1\n"
        "souk_test_total{stream=\"b\",kind=\"x\"} 1\n"
        "souk_test_total{stream=\"other\",kind=\"other\"} 5\n");
}

TEST_CASE("families are rendered sorted by name; registering again returns the same family") {
  Registry r;
  auto& b = r.counter("souk_b_total", "B.");
  r.gauge("souk_a", "A.");
  CHECK(&r.counter("souk_b_total", "B.") == &b);
  const auto text = r.render();
  CHECK(text.find("souk_a") < text.find("souk_b_total"));
  CHECK_THROWS_AS(r.gauge("souk_b_total", "B."), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("souk_b_total", "B.", {"x"}, 2), std::invalid_argument);
}

TEST_CASE("names, labels and buckets are checked at registration") {
  Registry r;
  CHECK_THROWS_AS(r.counter("2bad", "x"), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("bad-name", "x"), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("souk_ok_total", "x", {"__reserved"}, 2), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("souk_ok2_total", "x", {"bad label"}, 2), std::invalid_argument);
  CHECK_THROWS_AS(r.histogram("souk_h1", "x", {0.1}, {"le"}, 2), std::invalid_argument);
  CHECK_THROWS_AS(r.histogram("souk_h2", "x", {1, 0.5}), std::invalid_argument);
  CHECK_THROWS_AS(r.histogram("souk_h3", "x", {}), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("souk_c_total", "x", {"a"}, 2).with({"1", "2"}), std::invalid_argument);
  CHECK(valid_metric_name("souk:rule_total"));
  CHECK(valid_label_name("route"));
  CHECK_FALSE(valid_label_name("9x"));
}

TEST_CASE("sample values as Prometheus parses them") {
  CHECK(format_value(0) == "0");
  CHECK(format_value(0.001) == "0.001");
  CHECK(format_value(2.5) == "2.5");
  CHECK(format_value(1e21) == "1e+21");
  CHECK(format_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(format_value(std::nan("")) == "NaN");
}

TEST_CASE("concurrent updates are all counted") {
  Registry r;
  auto& c = r.counter("souk_test_total", "x").get();
  auto& h = r.histogram("souk_test_seconds", "x", {1}).get();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(c.value() == 40000);
  const auto snap = h.snapshot();
  CHECK(snap.count() == 40000);
  CHECK(snap.cumulative[0] == 40000);
  CHECK(snap.sum == doctest::Approx(20000));
}

TEST_CASE("process metrics come from /proc") {
  const auto text = render_process_metrics();
  for (const char* name : {"process_cpu_seconds_total ", "process_resident_memory_bytes ",
                           "process_open_fds ", "process_start_time_seconds ", "process_max_fds "}) {
    CAPTURE(name);
    CHECK(text.find(std::string("\n") + name) != std::string::npos);
  }
  CHECK(text.find("# TYPE process_cpu_seconds_total counter\n") != std::string::npos);
}
