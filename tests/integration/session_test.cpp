// A live session's edges against the real binary: the idle timeout ends a stream
// whose publisher is gone (or never came) as /end would.
#include "api_client.hpp"
#include "media_fixtures.hpp"
#include "publishers.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <thread>

using namespace souk_it;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

Live go_live(ApiClient& client, const Account& seller) { return client.go_live(seller); }

// Polls until the stream has ended (at most `limit`); the seconds it took, or -1.
double wait_ended(ApiClient& client, const std::string& id, std::chrono::milliseconds limit) {
  const auto start = Clock::now();
  while (true) {
    if (client.stream_details(id)["status"] == "ended") {
      return std::chrono::duration<double>(Clock::now() - start).count();
    }
    if (Clock::now() - start >= limit) return -1;
    std::this_thread::sleep_for(100ms);
  }
}

// Waits until ingest says the publisher's media arrives; false after `limit`.
bool wait_receiving(ApiClient& client, const std::string& id, std::chrono::milliseconds limit) {
  const auto receiving = ingest_state_is("receiving");
  return receiving(client.wait_stream_details(id, receiving, limit));
}

// The stream's playlist once it has its ENDLIST: the packager writes it just
// after the stream ends (asynchronously), so a player's next refresh sees it.
std::string ended_playlist(ApiClient& client, const std::string& id) {
  std::string text;
  const auto deadline = Clock::now() + scaled(5s);
  while (true) {
    const auto r = client.get("/hls/" + id + "/index.m3u8");
    REQUIRE_STATUS(r, 200);
    text = r.raw;
    if (text.find("#EXT-X-ENDLIST") != std::string::npos || Clock::now() >= deadline) break;
    std::this_thread::sleep_for(100ms);
  }
  return text;
}

std::int64_t system_millis_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The idle reaper looks every min(timeout / 4, 1 s) (app/src/idle_reaper.cpp); a
// stream ends within that of its timeout, plus the end itself (a few writes) on
// a loaded machine.
std::chrono::milliseconds idle_end_margin(std::chrono::seconds timeout) {
  return std::min<std::chrono::milliseconds>(std::chrono::milliseconds(timeout) / 4, 1s) +
         scaled(2s);
}

// A time in the stream's details (startedAt, endedAt) in Unix milliseconds, -1
// when it is not set.
std::int64_t millis_at(const json& details, const char* name) {
  return details.contains(name) && details[name].is_string() ? unix_millis(details[name]) : -1;
}

}  // namespace

TEST_CASE("session: the idle timeout ends a stream that never had a publisher, at the timeout") {
  constexpr auto timeout = 2s;
  ServerOptions options;
  options.extra_args = {"--idle-timeout", std::to_string(timeout.count())};
  ServerProcess server(options);
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");

  const auto s = go_live(client, seller);
  const auto took = wait_ended(client, s.id, timeout + idle_end_margin(timeout) + scaled(2s));
  REQUIRE(took >= 0);
  const auto d = client.stream_details(s.id);
  INFO("stream details: " << d.dump());
  CHECK(d["ingest"]["state"] == "finished");
  // The server's own clock: not before the timeout, and within a sweep (and the
  // end's work) after it.
  const auto live_ms = millis_at(d, "endedAt") - millis_at(d, "startedAt");
  CHECK(live_ms >= std::chrono::milliseconds(timeout).count());
  CHECK(live_ms <= (timeout + idle_end_margin(timeout)).count());
  CHECK(d["durationSeconds"].get<int>() >= timeout.count());
  // The owner's /end now finds it ended.
  CHECK_ERROR(client.end_stream(s), 409, "stream_not_live");
}

TEST_CASE("session: a publisher keeps a stream live past the idle timeout; once it leaves, the timeout ends it with ENDLIST and the VOD") {
  // Long enough that ffmpeg connects well within it on a loaded machine (the
  // clock runs from go-live until then); what is measured is the timeout after
  // the publisher leaves, and it is measured against this value.
  const auto timeout = std::chrono::duration_cast<std::chrono::seconds>(scaled(5s));
  ServerOptions options;
  options.extra_args = {"--idle-timeout", std::to_string(timeout.count())};
  ServerProcess server(options);
  ApiClient client(server.http_port());
  const auto s = go_live(client, client.register_user("seller"));
  const auto went_live = Clock::now();
  ChildProcess publisher(ffmpeg_publish(s.publish_url, {.loop_forever = true}));
  REQUIRE_MESSAGE(wait_receiving(client, s.id, timeout),
                  "ffmpeg's media did not arrive within the idle timeout");

  // Past the moment a stream without a publisher would have ended, it is live
  // and receiving at every look.
  const auto past_timeout = went_live + timeout + idle_end_margin(timeout);
  while (Clock::now() < past_timeout) {
    const auto d = client.stream_details(s.id);
    INFO("stream details: " << d.dump());
    REQUIRE(d["status"] == "live");
    REQUIRE(d["ingest"]["state"] == "receiving");
    std::this_thread::sleep_for(200ms);
  }

  // The publisher vanishes; the timeout counts from then.
  const auto left_ms = system_millis_now();
  publisher.send_signal(SIGKILL);
  publisher.wait(scaled(5s));
  REQUIRE(wait_ended(client, s.id, timeout + idle_end_margin(timeout) + scaled(2s)) >= 0);
  const auto d = client.stream_details(s.id);
  INFO("stream details: " << d.dump());
  const auto ended_ms = millis_at(d, "endedAt");
  CHECK(ended_ms - left_ms >= std::chrono::milliseconds(timeout).count());
  CHECK(ended_ms - left_ms <= (timeout + idle_end_margin(timeout)).count());

  CHECK(ended_playlist(client, s.id).find("#EXT-X-ENDLIST") != std::string::npos);
  const bool vod = vod_ready(client.wait_stream_details(s.id, vod_ready, scaled(10s)));
  CHECK(vod);
  CHECK(server.log_text().find("no publisher within the idle timeout") != std::string::npos);
}

TEST_CASE("session: killed while live, the restarted server continues the playlist and the recording") {
  ServerProcess server;
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto s = go_live(client, seller);
  const auto recording = server.data_dir() / "vod" / (s.id + ".rec.mp4");
  double recorded = -1;
  {
    const auto started = Clock::now();
    ChildProcess publisher(ffmpeg_publish(s.publish_url, {.loop_forever = true}));
    REQUIRE(wait_receiving(client, s.id, scaled(10s)));
    // Killed once the recording holds two whole fragments (GOPs of 2 s): what is
    // on disk then is what the restart must keep.
    recorded = wait_recorded(recording, 4.0, scaled(15s));
    REQUIRE(recorded >= 4.0);
    REQUIRE(::kill(server.pid(), SIGKILL) == 0);
    publisher.wait(scaled(10s));
    // ffmpeg sends in real time (-re): no more than this much media went out.
    const double sent = std::chrono::duration<double>(Clock::now() - started).count();
    CHECK(recorded <= sent);
  }
  server.restart();
  ApiClient again(server.http_port());
  CHECK(again.stream_details(s.id)["status"] == "live");
  CHECK(again.stream_details(s.id)["ingest"]["state"] == "interrupted");

  // The same key publishes again after the restart.
  const auto second = run_process(ffmpeg_publish(s.publish_url), scaled(30s));
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

  // One recording: what the first run had on disk when it was killed (that much
  // at least: it may have written a fragment more before it died), then the
  // whole fixture, one video frame after it.
  const bool ready = vod_ready(again.wait_stream_details(s.id, vod_ready, scaled(10s)));
  REQUIRE(ready);
  const double duration = probed_duration((server.data_dir() / "vod" / (s.id + ".mp4")).string());
  const double fixture = media_fixtures().seconds;
  const double frame = 1.0 / 30;
  CAPTURE(recorded);
  CAPTURE(fixture);
  CHECK(duration >= recorded + fixture - frame);
  CHECK(duration <= recorded + 2.0 + frame + fixture + frame);
}

TEST_CASE("session: /end racing the publisher's own disconnect ends cleanly, once") {
  ServerProcess server;
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto s = go_live(client, seller);
  ChildProcess publisher(ffmpeg_publish(s.publish_url, {.loop_forever = true}));
  REQUIRE(wait_receiving(client, s.id, scaled(10s)));
  // Ingest says "receiving" from the publish command on, before any media: wait
  // until some is recorded (a whole fragment), or there is no VOD to make.
  const auto recording = server.data_dir() / "vod" / (s.id + ".rec.mp4");
  REQUIRE(wait_recorded(recording, 2.0, scaled(10s)) >= 2.0);
  // The publisher vanishes at the moment the owner ends the stream.
  publisher.send_signal(SIGKILL);
  const auto ended = client.end_stream(s);
  REQUIRE_STATUS(ended, 200);
  CHECK_ERROR(client.end_stream(s), 409, "stream_not_live");

  const bool ready = vod_ready(client.wait_stream_details(s.id, vod_ready, scaled(10s)));
  CHECK(ready);
  const auto d = client.stream_details(s.id);
  CHECK(d["status"] == "ended");
  CHECK(d["ingest"]["state"] == "finished");
  CHECK(ended_playlist(client, s.id).find("#EXT-X-ENDLIST") != std::string::npos);
  CHECK_STATUS(client.get("/healthz"), 200);
}

TEST_CASE("session: a restart past the idle timeout ends the stream as /end would") {
  constexpr auto timeout = 3s;
  ServerOptions options;
  options.extra_args = {"--idle-timeout", std::to_string(timeout.count())};
  ServerProcess server(options);
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto s = go_live(client, seller);
  const auto started = Clock::now();
  const auto published = run_process(ffmpeg_publish(s.publish_url), scaled(30s));
  REQUIRE(published.exit_code == 0);
  // Down before the timeout ran out, up again after it did (the time passing is
  // what is tested here, nothing to wait for).
  REQUIRE(::kill(server.pid(), SIGKILL) == 0);
  std::this_thread::sleep_until(published.ended + timeout + 1s);
  server.restart();
  ApiClient again(server.http_port());
  CHECK(wait_ended(again, s.id, timeout + idle_end_margin(timeout) + scaled(2s)) >= 0);
  const auto elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  const auto d = again.stream_details(s.id);
  CHECK(d["status"] == "ended");
  CHECK(d["durationSeconds"].get<double>() <= elapsed + 1);
  CHECK(d["durationSeconds"].get<double>() >= 6.0 + 3.0);  // at least the media and the timeout
  CHECK(d["peakViewers"] == 0);
  const bool vod = vod_ready(again.wait_stream_details(s.id, vod_ready, scaled(10s)));
  CHECK(vod);
  CHECK(ended_playlist(again, s.id).find("#EXT-X-ENDLIST") != std::string::npos);
}
