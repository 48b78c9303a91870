// HLS and VOD against the real binary: ffmpeg publishes, ffprobe and ffmpeg read
// what the server packaged, and the playlist is checked against RFC 8216.
#include "api_client.hpp"
#include "media_fixtures.hpp"
#include "publishers.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

using namespace souk_it;
using namespace std::chrono_literals;

namespace {

Live go_live(ApiClient& client) { return client.go_live(client.register_user("seller")); }

void publish_whole_fixture(const std::string& url) {
  const auto r = run_process(ffmpeg_publish(url), scaled(30s));
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
                             scaled(20s));
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

// What ffprobe counts in a file or URL: each stream's packets by codec name
// (-count_packets reads them all, decoding nothing) and the format's duration.
struct PacketCounts {
  double duration = -1;
  std::map<std::string, long> packets;
  std::map<std::string, double> start;  // each stream's first timestamp, seconds
};

// "aac 283, h264 180; 6.021 s" for failure messages.
std::string describe(const PacketCounts& c) {
  std::ostringstream s;
  for (const auto& [codec, n] : c.packets) s << codec << " " << n << ", ";
  s << c.duration << " s";
  return s.str();
}

PacketCounts count_packets(const std::string& target) {
  const auto r = run_process({ffprobe_binary(), "-v", "error", "-count_packets", "-show_entries",
                              "stream=codec_name,nb_read_packets,start_time:format=duration", "-of", "json",
                              target},
                             scaled(20s));
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  const auto j = json::parse(r.out, nullptr, false);
  REQUIRE(j.is_object());
  PacketCounts c;
  c.duration = std::stod(j["format"].value("duration", "-1"));
  for (const auto& st : j["streams"]) {
    c.packets[st.value("codec_name", "")] += std::stol(st.value("nb_read_packets", "0"));
    c.start[st.value("codec_name", "")] = std::stod(st.value("start_time", "-1"));
  }
  return c;
}

// The number of the last segment the playlist at `path` lists (seg-000004.ts:
// 4), -1 while it lists none.
long last_listed_segment(ApiClient& client, const std::string& path) {
  const auto r = client.get(path);
  if (r.status != 200) return -1;
  const auto at = r.raw.rfind("seg-");
  return at == std::string::npos ? -1 : std::stol(r.raw.substr(at + 4));
}

// Waits until the playlist lists a segment after `after` (at most `timeout`);
// the last one listed then.
long wait_segment_after(ApiClient& client, const std::string& path, long after,
                        std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  long last = last_listed_segment(client, path);
  while (last <= after && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    last = last_listed_segment(client, path);
  }
  return last;
}

json wait_for_vod(ApiClient& client, const std::string& id) {
  const auto d = client.wait_stream_details(id, vod_ready, scaled(10s));
  if (!vod_ready(d)) FAIL("the VOD did not become ready within " << scaled(10s).count() << " ms");
  return d;
}

// Waits until ingest says the publisher's media arrives (a publisher takes a
// while to start on a busy machine).
void wait_receiving(ApiClient& client, const std::string& id) {
  const auto receiving = ingest_state_is("receiving");
  if (!receiving(client.wait_stream_details(id, receiving, scaled(10s)))) {
    FAIL("the publisher's media did not arrive within " << scaled(10s).count() << " ms");
  }
}

// Waits until ingest says the publisher left, and so the hub has let it go: the
// key takes a new publisher at once.
void wait_interrupted(ApiClient& client, const std::string& id) {
  const auto interrupted = ingest_state_is("interrupted");
  const auto d = client.wait_stream_details(id, interrupted, scaled(5s));
  if (!interrupted(d)) FAIL("the publisher was not reported gone: " << d.dump());
}

// The fixture's video frame, 1/30 s: ffprobe's durations of what was cut from it
// (segments, recordings) can differ from their nominal length by the audio
// around a cut, which is less.
constexpr double video_frame = 1.0 / 30;

}  // namespace

TEST_CASE("hls: live segments and playlist, playback, ENDLIST and a seekable VOD") {
  ServerProcess server;
  ApiClient client(server.http_port());
  const auto live = go_live(client);
  const auto hls_path = live.hls_url.substr(live.hls_url.find("/hls/"));

  ChildProcess publisher(ffmpeg_publish(live.publish_url));
  // While publishing, the playlist appears and fills.
  bool seen = false;
  const auto deadline = std::chrono::steady_clock::now() + scaled(15s);
  while (!seen && publisher.running() && std::chrono::steady_clock::now() < deadline) {
    const auto r = client.get(hls_path);
    seen = r.status == 200 && r.raw.find(".ts") != std::string::npos;
    if (seen) {
      CHECK(r.header("Content-Type") == "application/vnd.apple.mpegurl");
      CHECK_FALSE(parse_playlist(r.raw).endlist);
    } else {
      std::this_thread::sleep_for(100ms);
    }
  }
  CHECK(seen);
  const auto done = publisher.wait(scaled(30s));
  INFO(done.describe());
  REQUIRE(done.exit_code == 0);

  // The last segment is closed when the packager has the publisher's end, just
  // after the publisher is gone (frames reach it in batches): 6 s in 2 s
  // segments is segments 0, 1 and 2.
  CHECK(wait_segment_after(client, hls_path, 1, scaled(5s)) == 2);
  const auto playlist = parse_playlist(get_text(client, live.hls_url));
  CHECK(playlist.target == 2);
  REQUIRE(playlist.entries.size() == 3);
  // Cut at each keyframe: GOP 60 at 30 fps is 2000 ms of FLV timestamps. The
  // first segment starts with the first frame, audio, which precedes the first
  // keyframe by the AAC encoder's delay (21 ms in ffmpeg's FLV).
  const auto sent = count_packets(media_fixtures().flv.string());
  const double first_segment = 2.0 + sent.start.at("h264") - sent.start.at("aac");
  for (std::size_t i = 0; i < playlist.entries.size(); ++i) {
    const auto& e = playlist.entries[i];
    const auto [duration, codecs] = probe(live.hls_url.substr(0, live.hls_url.rfind('/') + 1) + e.uri);
    CAPTURE(e.uri);
    CAPTURE(e.duration);
    CHECK(codecs == "h264,aac");
    if (i + 1 < playlist.entries.size()) {
      // EXTINF is written with three decimals, the FLV's milliseconds.
      CHECK(std::abs(e.duration - (i == 0 ? first_segment : 2.0)) <= 0.0005);
      CHECK(std::abs(duration - e.duration) <= video_frame);
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
                                scaled(30s));
  INFO(play.describe());
  CHECK(play.exit_code == 0);
  CHECK(play.err.empty());

  const auto [vod_duration, vod_codecs] = probe(vod_url);
  CHECK(vod_codecs == "h264,aac");
  // Every packet sent is in the recording, and it lasts as long as the file sent.
  const auto recorded = count_packets(vod_url);
  INFO("sent: " << describe(sent) << "; recorded: " << describe(recorded));
  CHECK(recorded.packets == sent.packets);
  CHECK(std::abs(vod_duration - sent.duration) <= video_frame);
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
  wait_interrupted(client, live.id);
  publish_whole_fixture(live.publish_url);
  wait_interrupted(client, live.id);

  const auto playlist = parse_playlist(get_text(client, live.hls_url));
  std::size_t discontinuities = 0;
  for (const auto& e : playlist.entries) discontinuities += e.discontinuity;
  CHECK(discontinuities == 1);
  CHECK_FALSE(playlist.entries.front().discontinuity);

  REQUIRE_STATUS(client.end_stream(live), 200);
  const auto details = wait_for_vod(client, live.id);
  const auto [duration, codecs] = probe(details["vodUrl"]);
  CHECK(codecs == "h264,aac");
  // Both publications in one file: every packet of both, the second one video
  // frame after the first.
  const auto sent = count_packets(media_fixtures().flv.string());
  const auto recorded = count_packets(details["vodUrl"]);
  INFO("sent (once): " << describe(sent) << "; recorded: " << describe(recorded));
  for (const auto& [codec, packets] : sent.packets) {
    CAPTURE(codec);
    CHECK(recorded.packets.count(codec) == 1);
    if (recorded.packets.count(codec) == 1) CHECK(recorded.packets.at(codec) == 2 * packets);
  }
  CHECK(recorded.packets.size() == sent.packets.size());
  CAPTURE(sent.duration);
  CHECK(std::abs(duration - (2 * sent.duration + video_frame)) <= video_frame);
}

TEST_CASE("hls: after SIGKILL mid-recording, the restart finalizes what was recorded") {
  ServerProcess server;
  ApiClient client(server.http_port());
  const auto live = go_live(client);
  const auto recording = server.data_dir() / "vod" / (live.id + ".rec.mp4");
  ChildProcess publisher(ffmpeg_publish(live.publish_url, {.loop_forever = true}));
  wait_receiving(client, live.id);
  // Killed once the recording holds two whole fragments (2 s GOPs).
  const double on_disk = wait_recorded(recording, 4.0, scaled(15s));
  REQUIRE(on_disk >= 4.0);
  REQUIRE(::kill(server.pid(), SIGKILL) == 0);
  publisher.wait(scaled(10s));  // the publisher loses its server

  server.restart();
  const auto vod = server.data_dir() / "vod" / (live.id + ".mp4");
  REQUIRE(std::filesystem::exists(vod));
  CHECK_FALSE(std::filesystem::exists(recording));
  const auto [duration, codecs] = probe(vod.string());
  CHECK(codecs == "h264,aac");
  // What was on disk is kept; at most one more fragment was written before the
  // kill landed.
  CAPTURE(on_disk);
  CHECK(duration >= on_disk);
  CHECK(duration <= on_disk + 2.0 + video_frame);
  CHECK(server.log_text().find("recording finalized after restart") != std::string::npos);
}

TEST_CASE("hls: an audio-only and a video-only publisher reach HLS and the VOD with their one track") {
  struct Kind {
    const char* what;
    bool video;
    const char* codec;
    double frame;  // one frame's duration
  };
  const std::vector<Kind> kinds = {{"audio only (AAC 48 kHz)", false, "aac", 1024.0 / 48000},
                                   {"video only (H.264 30 fps)", true, "h264", video_frame}};
  for (const auto& kind : kinds) {
    SUBCASE(kind.what) {
      // The file sent, made first, so what arrives can be compared packet by packet.
      const TempDir dir;
      const auto flv = dir.path() / "one-track.flv";
      const auto made = run_process(
          ffmpeg_encode_test_pattern(flv.string(), {.realtime = false,
                                                    .video = kind.video,
                                                    .audio = !kind.video}),
          scaled(60s));
      INFO(made.describe());
      REQUIRE(made.exit_code == 0);
      const auto sent = count_packets(flv.string());
      REQUIRE(sent.packets.size() == 1);
      REQUIRE(sent.packets.count(kind.codec) == 1);

      auto& server = test_case_server();
      ApiClient client(server.http_port());
      const auto live = go_live(client);
      const auto hls_path = live.hls_url.substr(live.hls_url.find("/hls/"));
      ChildProcess publisher(ffmpeg_publish(live.publish_url, {.input = flv}));

      // The playlist advances while the publisher sends: a first segment, then the next.
      const long first = wait_segment_after(client, hls_path, -1, scaled(15s));
      CHECK(first == 0);
      CHECK(wait_segment_after(client, hls_path, first, scaled(10s)) > first);
      CHECK(publisher.running());
      const auto done = publisher.wait(scaled(30s));
      INFO(done.describe());
      REQUIRE(done.exit_code == 0);
      const auto playlist = parse_playlist(get_text(client, live.hls_url));
      REQUIRE_FALSE(playlist.entries.empty());
      const auto base = live.hls_url.substr(0, live.hls_url.rfind('/') + 1);
      for (const auto& e : playlist.entries) {
        CAPTURE(e.uri);
        CHECK(probe(base + e.uri).second == kind.codec);
      }

      // The VOD: that one track, every packet sent, as long as the file sent.
      REQUIRE_STATUS(client.end_stream(live), 200);
      const auto details = wait_for_vod(client, live.id);
      const auto recorded = count_packets(details["vodUrl"]);
      INFO("sent: " << describe(sent) << "; recorded: " << describe(recorded));
      CHECK(recorded.packets == sent.packets);
      CHECK(std::abs(recorded.duration - sent.duration) <= kind.frame);
      CHECK(parse_playlist(get_text(client, live.hls_url)).endlist);
    }
  }
}
