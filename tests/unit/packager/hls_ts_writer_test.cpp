// HlsTsWriter: segments cut at keyframes, the playlist on disk, reconnects,
// restarts, and writes that fail.
#include "souk/packager/hls_ts_writer.hpp"

#include "packager_fixtures.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace souk;
using namespace souk::packager;
using namespace souk::packager::test;
namespace fs = std::filesystem;

namespace {

// Video only, 30 fps with a keyframe every 2 s, into a writer with a 2 s target
// and a window of 3; the publisher's clock starts at 0 for each publish.
struct Stream {
  explicit Stream(const fs::path& data) : options(make_options(data)), writer("s", options) {
    REQUIRE(tracks.add_sequence_header(video(0, true, avcc, true)));
  }

  static PackagerOptions make_options(const fs::path& data) {
    PackagerOptions o;
    o.data_dir = data;
    o.segment_seconds = 2;
    o.playlist_window = 3;
    return o;
  }

  void publish() {
    writer.publish_started();
    frames = 0;
  }
  void seconds(int n) {
    for (int i = 0; i < n * 30; ++i, ++frames) {
      const bool keyframe = frames % 60 == 0;
      writer.frame(video(frames * 100 / 3, keyframe, picture(keyframe, 500)), tracks, 1000);
    }
  }
  fs::path dir() const { return hls_dir(options, "s"); }
  std::string playlist_file() const { return contents(dir() / "index.m3u8"); }

  PackagerOptions options;
  MediaTracks tracks;
  HlsTsWriter writer;
  std::int64_t frames = 0;
};

}  // namespace

TEST_CASE(
    "hls ts writer: segments close at the first keyframe past the target, listed once whole") {
  const auto data = fresh_dir("souk-ts-cut");
  Stream s(data);
  s.publish();
  s.seconds(7);  // keyframes at 0, 2, 4, 6 s: three segments closed, the fourth being written
  const auto& segments = s.writer.playlist().segments();
  REQUIRE(segments.size() == 3);
  for (std::size_t i = 0; i < segments.size(); ++i) {
    CAPTURE(i);
    CHECK(segments[i].uri == segment_name(i));
    CHECK(segments[i].duration == doctest::Approx(2.0));
    CHECK(segments[i].wall_clock_ms == 1000);
    CHECK_FALSE(segments[i].discontinuity);
    const auto bytes = contents(s.dir() / segments[i].uri);
    CHECK(bytes.size() % 188 == 0);  // whole TS packets
    CHECK(bytes[0] == 0x47);
  }
  CHECK(fs::exists(s.dir() / "seg-000003.ts"));  // written, not listed
  CHECK(s.playlist_file() == s.writer.playlist().render());
  CHECK(s.playlist_file().find("seg-000003.ts") == std::string::npos);

  // The publisher leaves: the segment in progress is listed, ending one
  // millisecond after its last frame; the stream has not ended.
  s.writer.publish_stopped();
  REQUIRE(segments.size() == 3);  // the window of 3
  CHECK(segments.back().uri == "seg-000003.ts");
  CHECK(segments.back().duration == doctest::Approx((6966 - 6000 + 1) / 1000.0));
  CHECK(s.playlist_file().find("#EXT-X-ENDLIST") == std::string::npos);
  s.writer.end();
  CHECK(s.playlist_file().ends_with("seg-000003.ts\n#EXT-X-ENDLIST\n"));
  fs::remove_all(data);
}

TEST_CASE("hls ts writer: a second publisher continues the playlist after a discontinuity") {
  const auto data = fresh_dir("souk-ts-reconnect");
  Stream s(data);
  s.publish();
  s.seconds(3);
  s.writer.publish_stopped();
  s.publish();  // its clock starts at 0 again
  s.seconds(3);
  const auto& segments = s.writer.playlist().segments();
  REQUIRE(segments.size() == 3);
  CHECK_FALSE(segments[1].discontinuity);
  CHECK(segments[2].uri == "seg-000002.ts");
  CHECK(segments[2].discontinuity);
  CHECK(s.playlist_file().find("#EXT-X-DISCONTINUITY\n") != std::string::npos);
  fs::remove_all(data);
}

TEST_CASE("hls ts writer: after a restart the stream continues its playlist and numbering") {
  const auto data = fresh_dir("souk-ts-restart");
  {
    Stream before(data);
    before.publish();
    before.seconds(5);  // segments 0 and 1 listed; the process stops
  }
  Stream after(data);
  REQUIRE(after.writer.playlist().segments().size() == 2);
  CHECK(after.writer.playlist().next_sequence() == 2);
  after.publish();
  after.seconds(3);
  const auto& segments = after.writer.playlist().segments();
  REQUIRE(segments.size() == 3);
  CHECK(segments.back().uri == "seg-000002.ts");
  CHECK(segments.back().discontinuity);
  fs::remove_all(data);
}

TEST_CASE("hls ts writer: a playlist that cannot be written waits; the next segment lists all") {
  const auto data = fresh_dir("souk-ts-playlist-fails");
  Stream s(data);
  s.publish();
  s.seconds(3);  // segment 0 listed
  const auto listed_before = s.playlist_file();
  // The playlist's temporary name taken by a directory: as on a full disk, it cannot be written.
  fs::remove(s.dir() / "index.m3u8.tmp");
  fs::create_directory(s.dir() / "index.m3u8.tmp");
  s.seconds(2);  // segment 1 closes
  CHECK(s.writer.playlist().segments().size() == 2);
  CHECK(s.playlist_file() == listed_before);  // players keep the one they had
  fs::remove(s.dir() / "index.m3u8.tmp");
  s.seconds(2);  // segment 2 closes
  CHECK(s.playlist_file() == s.writer.playlist().render());
  CHECK(s.playlist_file().find("seg-000002.ts") != std::string::npos);
  fs::remove_all(data);
}

TEST_CASE(
    "hls ts writer: a segment that cannot be opened is skipped until the next keyframe, as a gap") {
  const auto data = fresh_dir("souk-ts-open-fails");
  Stream s(data);
  s.publish();
  s.seconds(1);
  // The next segment's name taken by a directory: opening it fails (as on a full disk).
  fs::create_directory(s.dir() / "seg-000001.ts");
  s.seconds(2);  // at 2 s segment 0 closes, segment 1 cannot open; its directory is removed
  CHECK_FALSE(fs::exists(s.dir() / "seg-000001.ts"));
  REQUIRE(s.writer.playlist().segments().size() == 1);
  s.seconds(4);  // at 4 s the keyframe opens segment 1; at 6 s it closes
  const auto& segments = s.writer.playlist().segments();
  REQUIRE(segments.size() == 2);
  CHECK(segments[1].uri == "seg-000001.ts");
  CHECK(segments[1].discontinuity);  // 2..4 s are missing
  CHECK(segments[1].duration == doctest::Approx(2.0));
  fs::remove_all(data);
}

namespace {

// One 188-byte TS packet's header fields (ISO/IEC 13818-1, 2.4.3.2).
struct TsHeader {
  int pid;
  bool payload;
  int continuity;
  bool discontinuity_flag;  // the adaptation field's discontinuity_indicator
};

std::vector<TsHeader> ts_headers(const std::string& bytes) {
  REQUIRE(bytes.size() % 188 == 0);
  std::vector<TsHeader> out;
  for (std::size_t at = 0; at < bytes.size(); at += 188) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data() + at);
    REQUIRE(p[0] == 0x47);
    const int control = (p[3] >> 4) & 3;
    const bool adaptation = (control & 2) != 0;
    out.push_back({(p[1] & 0x1f) << 8 | p[2], (control & 1) != 0, p[3] & 0x0f,
                   adaptation && p[4] > 0 && (p[5] & 0x80) != 0});
  }
  return out;
}

constexpr int pat_pid = 0;
constexpr int pmt_pid = 0x1000;  // libavformat's first PMT PID

}  // namespace

TEST_CASE(
    "hls ts writer: the segments of a publish are one transport stream (continuity counters run on), "
    "and each starts with PAT and PMT") {
  const auto data = fresh_dir("souk-ts-continuity");
  Stream s(data);
  REQUIRE(s.tracks.add_sequence_header(audio(0, aac_config, true)));
  s.publish();
  // 7 s of 30 fps video and 44.1 kHz AAC (a frame each 1024 samples), in dts order.
  std::int64_t audio_frames = 0;
  for (int v = 0; v < 7 * 30; ++v) {
    const std::int64_t dts = v * 100 / 3;
    for (; audio_frames * 1024 * 1000 / 44100 <= dts; ++audio_frames) {
      s.writer.frame(audio(audio_frames * 1024 * 1000 / 44100, Bytes(300, 0x21)), s.tracks, 1000);
    }
    s.writer.frame(video(dts, v % 60 == 0, picture(v % 60 == 0, 3000)), s.tracks, 1000);
  }
  const auto& segments = s.writer.playlist().segments();
  REQUIRE(segments.size() == 3);

  std::map<int, int> last;  // PID → the continuity counter of its last packet with payload
  std::set<int> media_pids;
  for (const auto& segment : segments) {
    CAPTURE(segment.uri);
    const auto headers = ts_headers(contents(s.dir() / segment.uri));
    // PAT and PMT before the segment's first PES packet, so it decodes alone.
    bool pat = false, pmt = false;
    for (const auto& h : headers) {
      if (h.pid == pat_pid) pat = true;
      if (h.pid == pmt_pid) pmt = true;
      if (h.pid != pat_pid && h.pid != pmt_pid && h.pid != 0x11) {  // 0x11: SDT
        CHECK(pat);
        CHECK(pmt);
        break;
      }
    }
    for (const auto& h : headers) {
      if (!h.payload) continue;  // the counter counts packets with payload only
      if (h.pid != pat_pid && h.pid != pmt_pid && h.pid != 0x11) media_pids.insert(h.pid);
      const auto it = last.find(h.pid);
      if (it != last.end()) {
        CAPTURE(h.pid);
        CHECK_FALSE(h.discontinuity_flag);
        CHECK(h.continuity == (it->second + 1) % 16);
      }
      last[h.pid] = h.continuity;
    }
  }
  CHECK(media_pids.size() == 2);  // video and audio both carried
  fs::remove_all(data);
}
