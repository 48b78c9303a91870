// A live session's edges against the real binary: the idle timeout ends a stream
// whose publisher is gone (or never came) as /end would.
#include "api_client.hpp"
#include "media_fixtures.hpp"
#include "publishers.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <thread>

using namespace souk_it;
using namespace std::chrono_literals;

namespace {

Live go_live(ApiClient& client, const Account& seller) { return client.go_live(seller); }

// Polls until the stream has ended; returns the seconds it took.
double wait_ended(ApiClient& client, const std::string& id, std::chrono::seconds limit) {
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < limit) {
    if (client.stream_details(id)["status"] == "ended") {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    std::this_thread::sleep_for(100ms);
  }
  return -1;
}

// The stream's playlist once it has its ENDLIST: the packager writes it just
// after the stream ends (asynchronously), so a player's next refresh sees it.
std::string ended_playlist(ApiClient& client, const std::string& id) {
  std::string text;
  for (int i = 0; i < 50; ++i) {
    const auto r = client.get("/hls/" + id + "/index.m3u8");
    REQUIRE_STATUS(r, 200);
    text = r.raw;
    if (text.find("#EXT-X-ENDLIST") != std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  return text;
}

}  // namespace

TEST_CASE("session: the idle timeout ends a stream whose publisher never came or left") {
  ServerOptions options;
  options.extra_args = {"--idle-timeout", "2"};
  ServerProcess server(options);
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");

  SUBCASE("never published: ended about the timeout after go-live") {
    const auto s = go_live(client, seller);
    const auto took = wait_ended(client, s.id, 8s);
    CHECK(took >= 1.0);  // not before the timeout (2 s after go-live)
    const auto d = client.stream_details(s.id);
    CHECK(d["ingest"]["state"] == "finished");
    CHECK(d["durationSeconds"].get<int>() >= 2);
    // The owner's /end now finds it ended.
    CHECK_ERROR(client.end_stream(s), 409, "stream_not_live");
  }

  SUBCASE("a publisher keeps it live; once it leaves, the timeout ends it with ENDLIST and the VOD") {
    const auto s = go_live(client, seller);
    ChildProcess publisher(ffmpeg_publish(s.publish_url));
    std::this_thread::sleep_for(4s);  // longer than the timeout, but media flows
    CHECK(client.stream_details(s.id)["status"] == "live");
    const auto done = publisher.wait(20s);
    INFO(done.describe());
    REQUIRE(done.exit_code == 0);
    CHECK(wait_ended(client, s.id, 8s) > 0);

    CHECK(ended_playlist(client, s.id).find("#EXT-X-ENDLIST") != std::string::npos);
    const bool vod = vod_ready(client.wait_stream_details(s.id, vod_ready, 5s));
    CHECK(vod);
    CHECK(server.log_text().find("no publisher within the idle timeout") != std::string::npos);
  }
}

TEST_CASE("session: killed while live, the restarted server continues the playlist and the recording") {
  ServerProcess server;
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto s = go_live(client, seller);
  {
    ChildProcess publisher(ffmpeg_publish(s.publish_url, {.loop_forever = true}));
    std::this_thread::sleep_for(5s);
    REQUIRE(::kill(server.pid(), SIGKILL) == 0);
    publisher.wait(10s);
  }
  server.restart();
  ApiClient again(server.http_port());
  CHECK(again.stream_details(s.id)["status"] == "live");
  CHECK(again.stream_details(s.id)["ingest"]["state"] == "interrupted");

  // The same key publishes again after the restart.
  const auto second = run_process(ffmpeg_publish(s.publish_url), 30s);
  INFO(second.describe());
  REQUIRE(second.exit_code == 0);
  const auto ended = again.end_stream(s);
  REQUIRE_STATUS(ended, 200);
  CHECK(ended.body["data"]["vodUrl"].is_string());

  // One playlist: the first run's segments, then a discontinuity, then the second's.
  const auto text = ended_playlist(again, s.id);
  CHECK(text.find("#EXT-X-MEDIA-SEQUENCE:") != std::string::npos);
  CHECK(text.find("#EXT-X-DISCONTINUITY\n") != std::string::npos);
  CHECK(text.find("#EXT-X-ENDLIST") != std::string::npos);
  CHECK(text.find("seg-000000.ts") < text.find("#EXT-X-DISCONTINUITY\n"));

  // One recording: about 5 s (less at most a fragment) plus 6 s.
  const bool ready = vod_ready(again.wait_stream_details(s.id, vod_ready, 10s));
  REQUIRE(ready);
  const auto probe = run_process({ffprobe_binary(), "-v", "error", "-show_entries", "format=duration",
                                  "-of", "csv=p=0", (server.data_dir() / "vod" / (s.id + ".mp4")).string()},
                                 20s);
  REQUIRE(probe.exit_code == 0);
  const double duration = std::stod(probe.out);
  CHECK(duration >= 6.0 + 2.5);
  CHECK(duration <= 6.0 + 6.0);
}

TEST_CASE("session: /end racing the publisher's own disconnect ends cleanly, once") {
  ServerProcess server;
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto s = go_live(client, seller);
  ChildProcess publisher(ffmpeg_publish(s.publish_url, {.loop_forever = true}));
  std::this_thread::sleep_for(3s);
  // The publisher vanishes at the moment the owner ends the stream.
  publisher.send_signal(SIGKILL);
  const auto ended = client.end_stream(s);
  REQUIRE_STATUS(ended, 200);
  CHECK_ERROR(client.end_stream(s), 409, "stream_not_live");

  const bool ready = vod_ready(client.wait_stream_details(s.id, vod_ready, 10s));
  CHECK(ready);
  const auto d = client.stream_details(s.id);
  CHECK(d["status"] == "ended");
  CHECK(d["ingest"]["state"] == "finished");
  CHECK(ended_playlist(client, s.id).find("#EXT-X-ENDLIST") != std::string::npos);
  CHECK_STATUS(client.get("/healthz"), 200);
}

TEST_CASE("session: a restart past the idle timeout ends the stream as /end would") {
  ServerOptions options;
  options.extra_args = {"--idle-timeout", "3"};
  ServerProcess server(options);
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto s = go_live(client, seller);
  const auto started = std::chrono::steady_clock::now();
  const auto published = run_process(ffmpeg_publish(s.publish_url), 30s);
  REQUIRE(published.exit_code == 0);
  // Down before the timeout ran out, up again after it did.
  REQUIRE(::kill(server.pid(), SIGKILL) == 0);
  std::this_thread::sleep_for(4s);
  server.restart();
  ApiClient again(server.http_port());
  CHECK(wait_ended(again, s.id, 8s) >= 0);
  const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const auto d = again.stream_details(s.id);
  CHECK(d["status"] == "ended");
  CHECK(d["durationSeconds"].get<double>() <= elapsed + 1);
  CHECK(d["durationSeconds"].get<double>() >= 6.0 + 3.0);  // at least the media and the timeout
  CHECK(d["peakViewers"] == 0);
  const bool vod = vod_ready(again.wait_stream_details(s.id, vod_ready, 10s));
  CHECK(vod);
  CHECK(ended_playlist(again, s.id).find("#EXT-X-ENDLIST") != std::string::npos);
}
