// GET /metrics against the real binary: API calls, an ffmpeg publisher and HLS
// reads move the numbers they should, and promtool accepts every scrape.
#include "api_client.hpp"
#include "media_fixtures.hpp"
#include "publishers.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

using namespace souk_it;
using namespace std::chrono_literals;

namespace {

constexpr const char* promtool = "/usr/bin/promtool";

// One scrape: each sample line's series (name and labels as written) -> value.
struct Scrape {
  std::string text;
  std::map<std::string, double> samples;

  // The value of a series, 0 when absent (a labeled series appears on first use).
  double operator[](const std::string& series) const {
    auto it = samples.find(series);
    return it == samples.end() ? 0 : it->second;
  }
  bool has(const std::string& series) const { return samples.count(series) > 0; }
};

Scrape scrape(ApiClient& client) {
  const auto r = client.get("/metrics");
  REQUIRE_STATUS(r, 200);
  CHECK(r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  Scrape s;
  s.text = r.raw;
  std::istringstream in(r.raw);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    if (space == std::string::npos) {
      FAIL_CHECK("a sample line without a value: " << line);
      continue;
    }
    s.samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return s;
}

// promtool reads the exposition from stdin; it prints nothing when all is well.
void check_with_promtool(const ServerProcess& server, const Scrape& s) {
  const auto path = server.dir() / "scrape.txt";
  std::ofstream(path) << s.text;
  const auto r = run_process({"/bin/sh", "-c", std::string("exec ") + promtool + " check metrics < \"$0\"",
                              path.string()},
                             scaled(20s));
  INFO(r.describe());
  INFO("scrape:\n" << s.text);
  CHECK(r.exit_code == 0);
  CHECK(r.out.empty());
  CHECK(r.err.empty());
}

// A histogram series' buckets are cumulative and end at _count.
void check_histogram(const Scrape& s, const std::string& name, const std::string& labels) {
  CAPTURE(name);
  CAPTURE(labels);
  const std::string prefix = name + "_bucket{" + (labels.empty() ? "" : labels + ",") + "le=\"";
  std::map<double, double> buckets;  // upper bound -> cumulative count
  for (const auto& [series, value] : s.samples) {
    if (!series.starts_with(prefix) || series.ends_with("le=\"+Inf\"}")) continue;
    buckets[std::stod(series.substr(prefix.size()))] = value;
  }
  REQUIRE(buckets.size() > 1);
  double previous = 0;
  for (const auto& [bound, count] : buckets) {
    CAPTURE(bound);
    CHECK(count >= previous);
    previous = count;
  }
  const std::string suffix = labels.empty() ? "" : "{" + labels + "}";
  const double inf = s[prefix + "+Inf\"}"];
  CHECK(inf >= previous);
  CHECK(inf == s[name + "_count" + suffix]);
  CHECK(s.has(name + "_sum" + suffix));
}

// Scrapes until `done` holds (at most `timeout`); returns the last scrape.
template <class Pred>
Scrape scrape_until(ApiClient& client, Pred done, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
  Scrape s = scrape(client);
  while (!done(s) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    s = scrape(client);
  }
  return s;
}

std::string requests(const std::string& route, const std::string& method, int status) {
  return "souk_http_requests_total{route=\"" + route + "\",method=\"" + method + "\",status=\"" +
         std::to_string(status) + "\"}";
}

}  // namespace

TEST_CASE("metrics: requests by route template, ingest, HLS, recordings, DB; promtool accepts them") {
  ServerProcess server;
  ApiClient client(server.http_port());

  const auto first = scrape(client);
  check_with_promtool(server, first);
  for (const char* series : {"souk_live_streams", "souk_ingest_publishers", "process_cpu_seconds_total",
                             "process_resident_memory_bytes", "process_open_fds",
                             "process_start_time_seconds"}) {
    CAPTURE(series);
    CHECK(first.has(series));
  }
  CHECK(first["souk_live_streams"] == 0);
  CHECK(first["souk_ingest_publishers"] == 0);
  CHECK(first["process_resident_memory_bytes"] > 0);

  // API calls count under their route template, whatever the id, with the status.
  const auto live = client.go_live(client.register_user("seller"));
  const std::string stream_route = "/api/v1/streams/{id}";
  const auto before = scrape(client);
  REQUIRE_STATUS(client.get(api_path("/streams/" + live.id)), 200);
  REQUIRE_STATUS(client.get(api_path("/streams/" + live.id)), 200);
  REQUIRE_STATUS(client.get(api_path("/streams/00000000-0000-4000-8000-000000000000")), 404);
  REQUIRE_STATUS(client.get("/no/such/path/" + live.id), 404);
  REQUIRE_STATUS(client.request("DELETE", api_path("/streams/" + live.id)), 405);
  const auto after = scrape(client);
  CHECK(after[requests(stream_route, "GET", 200)] - before[requests(stream_route, "GET", 200)] == 2);
  CHECK(after[requests(stream_route, "GET", 404)] - before[requests(stream_route, "GET", 404)] == 1);
  CHECK(after[requests(stream_route, "DELETE", 405)] - before[requests(stream_route, "DELETE", 405)] == 1);
  CHECK(after[requests("unmatched", "GET", 404)] - before[requests("unmatched", "GET", 404)] == 1);
  CHECK(after[requests("/api/v1/streams/{id}/go-live", "POST", 200)] == 1);
  CHECK(after["souk_live_streams"] == 1);
  // Ids never become labels.
  CHECK(after.text.find(live.id) == std::string::npos);
  // Each scrape is counted too, and its latency observed.
  CHECK(after[requests("/metrics", "GET", 200)] >= 2);
  check_histogram(after, "souk_http_request_duration_seconds", "route=\"/api/v1/streams/{id}\"");
  const double db_queries = after["souk_db_query_duration_seconds_count{kind=\"read\"}"] +
                            after["souk_db_query_duration_seconds_count{kind=\"write\"}"];
  CHECK(db_queries > 0);
  check_histogram(after, "souk_db_query_duration_seconds", "kind=\"write\"");

  // One publisher while ffmpeg sends, none after; segments written and listed.
  const auto hls_path = live.hls_url.substr(live.hls_url.find("/hls/"));
  ChildProcess publisher(ffmpeg_publish(live.publish_url));
  const auto publishing = scrape_until(client, [](const Scrape& s) {
    return s["souk_ingest_publishers"] == 1 && s["souk_hls_segments_written_total"] >= 1 &&
           s["souk_ingest_media_bytes_per_second"] > 0;
  });
  CHECK(publishing["souk_ingest_publishers"] == 1);
  CHECK(publishing["souk_hls_segments_written_total"] >= 1);
  check_with_promtool(server, publishing);
  // Playlist reads: answered from memory on the network thread, still counted.
  const auto hls_before = publishing[requests("/hls/{id}/{file}", "GET", 200)];
  REQUIRE_STATUS(client.get(hls_path), 200);
  REQUIRE_STATUS(client.get(hls_path), 200);
  const auto done = publisher.wait(scaled(30s));
  INFO(done.describe());
  REQUIRE(done.exit_code == 0);

  // The last segment is closed when the packager (on its own threads) learns that
  // the publisher left.
  const auto stopped = scrape_until(client, [](const Scrape& s) {
    return s["souk_ingest_publishers"] == 0 && s["souk_hls_segments_written_total"] >= 3;
  });
  CHECK(stopped["souk_ingest_publishers"] == 0);
  // The rate of media while sending is the fixture's: its bytes over its
  // duration (FLV's tag headers are under 1 % of them). ±25 %: a second of the
  // fixture holds 246 to 267 kB (±5 % about its mean), and the server measures
  // over wall-clock windows of at least a second, into which a loaded machine
  // can crowd a late ffmpeg's 200 ms more.
  const auto& media = media_fixtures();
  const double fixture_rate = static_cast<double>(std::filesystem::file_size(media.flv)) / media.seconds;
  CAPTURE(fixture_rate);
  CHECK(publishing["souk_ingest_media_bytes_per_second"] >= 0.75 * fixture_rate);
  CHECK(publishing["souk_ingest_media_bytes_per_second"] <= 1.25 * fixture_rate);
  CHECK(stopped["souk_ingest_media_bytes_per_second"] == 0);  // nobody sends
  CHECK(stopped[requests("/hls/{id}/{file}", "GET", 200)] - hls_before >= 2);
  // 6 s in 2 s segments: two closed at keyframes, the last when the publisher left.
  CHECK(stopped["souk_hls_segments_written_total"] >= 3);
  CHECK(stopped["souk_hls_segment_availability_seconds_count"] >= 2);
  CHECK(stopped["souk_hls_segment_availability_seconds_count"] < stopped["souk_hls_segments_written_total"]);
  CHECK(stopped["souk_hls_segment_availability_seconds_sum"] >= 0);
  check_histogram(stopped, "souk_hls_segment_availability_seconds", "");
  // Read from RTMP: the fixture's media (its FLV less tag headers, under 1 %)
  // plus the handshake (3 kB) and chunk headers (a byte or so per chunk).
  const double fixture_bytes = static_cast<double>(std::filesystem::file_size(media.flv));
  CHECK(stopped["souk_ingest_received_bytes_total"] >= 0.99 * fixture_bytes);
  CHECK(stopped["souk_ingest_received_bytes_total"] <= 1.05 * fixture_bytes);
  // A stream in real time on an idle machine never falls behind the live edge.
  REQUIRE(stopped.has("souk_packager_dropped_frames_total"));
  CHECK(stopped["souk_packager_dropped_frames_total"] == 0);

  // Ending the stream finalizes its recording.
  REQUIRE_STATUS(client.post(api_path("/streams/" + live.id + "/end"), Body(), live.token), 200);
  const auto ended = scrape_until(client, [](const Scrape& s) {
    return s["souk_recordings_finalized_total{result=\"ok\"}"] == 1;
  });
  CHECK(ended["souk_recordings_finalized_total{result=\"ok\"}"] == 1);
  CHECK(ended["souk_recordings_finalized_total{result=\"failed\"}"] == 0);
  CHECK(ended["souk_live_streams"] == 0);
  check_with_promtool(server, ended);
}

TEST_CASE("metrics: socket.io requests count under one route template") {
  ServerProcess server;
  ApiClient client(server.http_port());
  // An Engine.IO handshake over polling opens a session.
  const auto open = client.get("/socket.io/?EIO=4&transport=polling");
  REQUIRE_STATUS(open, 200);
  const auto s = scrape(client);
  CHECK(s[requests("/socket.io/", "GET", 200)] == 1);
  CHECK(s["souk_realtime_sessions{transport=\"polling\"}"] == 1);
  CHECK(s["souk_realtime_sessions{transport=\"websocket\"}"] == 0);
  check_with_promtool(server, s);
}
