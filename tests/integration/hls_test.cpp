// HLS and VOD against the real binary: ffmpeg publishes, ffprobe and ffmpeg read
// what the server packaged, and the playlist is checked against RFC 8216.
#include "api_client.hpp"
#include "media_fixtures.hpp"
#include "publishers.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <regex>
#include <sstream>
#include <thread>

using namespace souk_it;
using namespace std::chrono_literals;

namespace {

Live go_live(ApiClient& client) { return client.go_live(client.register_user("seller")); }

void publish_whole_fixture(const std::string& url) {
  const auto r = run_process(ffmpeg_publish(url), 30s);
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
}

std::string get_text(ApiClient& client, const std::string& url) {
  const auto path = url.substr(url.find('/', std::string("http://").size()));
  const auto r = client.get(path);
  REQUIRE_STATUS(r, 200);
  return r.raw;
}

struct PlaylistEntry {
  double duration = 0;
  std::string uri;
  std::string pdt;
  bool discontinuity = false;
};

struct Playlist {
  int target = -1;
  long media_sequence = -1;
  bool endlist = false;
  std::vector<PlaylistEntry> entries;
};

// Parses a media playlist, checking RFC 8216's rules as it goes.
Playlist parse_playlist(const std::string& text) {
  Playlist p;
  std::istringstream in(text);
  std::string line;
  REQUIRE(std::getline(in, line));
  CHECK(line == "#EXTM3U");
  PlaylistEntry next;
  bool have_extinf = false;
  while (std::getline(in, line)) {
    if (line.rfind("#EXT-X-TARGETDURATION:", 0) == 0) {
      p.target = std::stoi(line.substr(22));
    } else if (line.rfind("#EXT-X-MEDIA-SEQUENCE:", 0) == 0) {
      p.media_sequence = std::stol(line.substr(22));
    } else if (line == "#EXT-X-DISCONTINUITY") {
      next.discontinuity = true;
    } else if (line.rfind("#EXT-X-PROGRAM-DATE-TIME:", 0) == 0) {
      next.pdt = line.substr(25);
    } else if (line.rfind("#EXTINF:", 0) == 0) {
      next.duration = std::stod(line.substr(8));
      have_extinf = true;
    } else if (line == "#EXT-X-ENDLIST") {
      p.endlist = true;
    } else if (!line.empty() && line[0] != '#') {
      CHECK(have_extinf);  // every URI follows an EXTINF
      next.uri = line;
      p.entries.push_back(next);
      next = {};
      have_extinf = false;
    }
  }
  CHECK(p.target > 0);
  CHECK(p.media_sequence >= 0);
  for (const auto& e : p.entries) {
    CAPTURE(e.uri);
    CHECK(std::lround(e.duration) <= p.target);  // 4.3.3.1
    CHECK(is_iso_millis_utc(e.pdt));             // PDT on every segment
  }
  for (std::size_t i = 1; i < p.entries.size(); ++i) CHECK(p.entries[i - 1].pdt <= p.entries[i].pdt);
  return p;
}

// ffprobe's format duration and codec names of a file or URL.
std::pair<double, std::string> probe(const std::string& target) {
  const auto r = run_process({ffprobe_binary(), "-v", "error", "-show_entries",
                              "format=duration:stream=codec_name", "-of", "csv=p=0", target},
                             20s);
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  std::istringstream in(r.out);
  std::string line, codecs;
  double duration = -1;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (std::isdigit(static_cast<unsigned char>(line[0]))) {
      duration = std::stod(line);
    } else if (codecs.find(line) == std::string::npos) {
      // MPEG-TS lists each stream twice (under its program too).
      codecs += (codecs.empty() ? "" : ",") + line;
    }
  }
  return {duration, codecs};
}

json wait_for_vod(ApiClient& client, const std::string& id) {
  const auto d = client.wait_stream_details(id, vod_ready, 10s);
  if (!vod_ready(d)) FAIL("the VOD did not become ready within 10 s");
  return d;
}

// Waits until ingest says the publisher's media arrives (a publisher takes a
// while to start on a busy machine).
void wait_receiving(ApiClient& client, const std::string& id) {
  const auto receiving = ingest_state_is("receiving");
  if (!receiving(client.wait_stream_details(id, receiving, 10s))) {
    FAIL("the publisher's media did not arrive within 10 s");
  }
}

}  // namespace

TEST_CASE("hls: live segments and playlist, playback, ENDLIST and a seekable VOD") {
  ServerProcess server;
  ApiClient client(server.http_port());
  const auto live = go_live(client);
  const auto hls_path = live.hls_url.substr(live.hls_url.find("/hls/"));

  ChildProcess publisher(ffmpeg_publish(live.publish_url));
  // While publishing, the playlist appears and fills.
  bool seen = false;
  for (int i = 0; i < 100 && !seen; ++i) {
    std::this_thread::sleep_for(100ms);
    const auto r = client.get(hls_path);
    seen = r.status == 200 && r.raw.find(".ts") != std::string::npos;
    if (seen) {
      CHECK(r.header("Content-Type") == "application/vnd.apple.mpegurl");
      CHECK_FALSE(parse_playlist(r.raw).endlist);
    }
  }
  CHECK(seen);
  const auto done = publisher.wait(30s);
  INFO(done.describe());
  REQUIRE(done.exit_code == 0);

  // The last segment is closed when the packager has the publisher's end, just
  // after the publisher is gone (frames reach it in batches).
  auto playlist = parse_playlist(get_text(client, live.hls_url));
  for (int i = 0; i < 50 && playlist.entries.size() < 3; ++i) {
    std::this_thread::sleep_for(100ms);
    playlist = parse_playlist(get_text(client, live.hls_url));
  }
  CHECK(playlist.target == 2);
  REQUIRE(playlist.entries.size() >= 3);  // 6 s in 2 s segments
  for (std::size_t i = 0; i < playlist.entries.size(); ++i) {
    const auto& e = playlist.entries[i];
    const auto [duration, codecs] = probe(live.hls_url.substr(0, live.hls_url.rfind('/') + 1) + e.uri);
    CAPTURE(e.uri);
    CHECK(codecs == "h264,aac");
    if (i + 1 < playlist.entries.size()) {
      // Cut at each keyframe (GOP 60 at 30 fps = 2 s).
      CHECK(e.duration == doctest::Approx(2.0).epsilon(0.05));
      CHECK(duration == doctest::Approx(e.duration).epsilon(0.05));
    }
  }
  // End: ENDLIST, and the recording becomes a faststart MP4 of the same length.
  const auto ended = client.end_stream(live);
  REQUIRE_STATUS(ended, 200);
  const std::string vod_url = ended.body["data"]["vodUrl"];
  CHECK(vod_url == "http://127.0.0.1:" + std::to_string(server.http_port()) + "/vod/" + live.id + ".mp4");
  const auto details = wait_for_vod(client, live.id);
  CHECK(details["vodUrl"] == vod_url);
  CHECK(parse_playlist(get_text(client, live.hls_url)).endlist);
  // A player reads the whole (now ended) playlist without errors.
  const auto play = run_process({ffmpeg_binary(), "-v", "error", "-i", live.hls_url, "-c", "copy",
                                 "-f", "null", "-"},
                                30s);
  INFO(play.describe());
  CHECK(play.exit_code == 0);
  CHECK(play.err.empty());

  const auto [vod_duration, vod_codecs] = probe(vod_url);
  CHECK(vod_codecs == "h264,aac");
  CHECK(vod_duration == doctest::Approx(media_fixtures().seconds).epsilon(2.0 / 6.0));
  const auto whole = client.get("/vod/" + live.id + ".mp4");
  REQUIRE_STATUS(whole, 200);
  CHECK(whole.raw.find("moov") < whole.raw.find("mdat"));  // the index first
  const auto part = client.get("/vod/" + live.id + ".mp4", "", {{"Range", "bytes=1000-1999"}});
  REQUIRE_STATUS(part, 206);
  CHECK(part.raw == whole.raw.substr(1000, 1000));
}

TEST_CASE("hls: a publisher reconnect continues the playlist with a DISCONTINUITY and one recording") {
  ServerProcess server;
  ApiClient client(server.http_port());
  const auto live = go_live(client);
  publish_whole_fixture(live.publish_url);
  std::this_thread::sleep_for(300ms);
  publish_whole_fixture(live.publish_url);
  std::this_thread::sleep_for(300ms);

  const auto playlist = parse_playlist(get_text(client, live.hls_url));
  std::size_t discontinuities = 0;
  for (const auto& e : playlist.entries) discontinuities += e.discontinuity;
  CHECK(discontinuities == 1);
  CHECK_FALSE(playlist.entries.front().discontinuity);

  REQUIRE_STATUS(client.end_stream(live), 200);
  const auto details = wait_for_vod(client, live.id);
  const auto [duration, codecs] = probe(details["vodUrl"]);
  CHECK(codecs == "h264,aac");
  // Both publications in one file.
  CHECK(duration == doctest::Approx(2 * media_fixtures().seconds).epsilon(2.0 / 12.0));
}

TEST_CASE("hls: after SIGKILL mid-recording, the restart finalizes what was recorded") {
  ServerProcess server;
  ApiClient client(server.http_port());
  const auto live = go_live(client);
  ChildProcess publisher(ffmpeg_publish(live.publish_url, {.loop_forever = true}));
  wait_receiving(client, live.id);
  std::this_thread::sleep_for(5s);
  REQUIRE(::kill(server.pid(), SIGKILL) == 0);
  publisher.wait(10s);  // the publisher loses its server

  server.restart();
  const auto vod = server.data_dir() / "vod" / (live.id + ".mp4");
  REQUIRE(std::filesystem::exists(vod));
  CHECK_FALSE(std::filesystem::exists(server.data_dir() / "vod" / (live.id + ".rec.mp4")));
  const auto [duration, codecs] = probe(vod.string());
  CHECK(codecs == "h264,aac");
  // About 5 s were published; at most the fragment being written (2 s) is lost.
  CHECK(duration >= 2.5);
  CHECK(duration <= 6.0);
  CHECK(server.log_text().find("recording finalized after restart") != std::string::npos);
}
