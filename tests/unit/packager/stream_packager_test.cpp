// StreamPackager: the codecs' wait, the hand-off to the HLS writer and the
// recorder, and segment files as a publisher sees them end to end.
#include "souk/packager/stream_packager.hpp"

#include "packager_fixtures.hpp"
#include "souk/file_cache.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <vector>

using namespace souk;
using namespace souk::packager;
using namespace souk::packager::test;
namespace fs = std::filesystem;

namespace {

// Video only, 30 fps with a keyframe every 2 s, into a packager with a 2 s
// target and a window of 3.
struct Publisher {
  PackagerOptions options;
  StreamPackager packager;
  std::int64_t frames = 0;

  Publisher(const fs::path& data_dir, FileCache& cache)
      : options(make_options(data_dir, cache)), packager("s", options, false) {
    packager.publish_started();
    packager.frame(video(0, true, avcc, true), 0);
  }

  static PackagerOptions make_options(const fs::path& data_dir, FileCache& cache) {
    PackagerOptions o;
    o.data_dir = data_dir;
    o.segment_seconds = 2;
    o.playlist_window = 3;
    o.cache = &cache;
    return o;
  }

  fs::path dir() const { return hls_dir(options, "s"); }

  void seconds(int n, std::size_t frame_bytes) {
    for (int i = 0; i < n * 30; ++i, ++frames) {
      const bool keyframe = frames % 60 == 0;
      packager.frame(video(frames * 100 / 3, keyframe, picture(keyframe, frame_bytes)), 0);
    }
  }
};

// A descriptor opened on a file directly, as a process reading the disk would.
struct RawReader {
  explicit RawReader(const fs::path& path) : fd(::open(path.c_str(), O_RDONLY)) { REQUIRE(fd >= 0); }
  ~RawReader() { ::close(fd); }
  struct stat status() const {
    struct stat st {};
    REQUIRE(::fstat(fd, &st) == 0);
    return st;
  }
  int fd;
};

}  // namespace

TEST_CASE("segments: a retired segment's file becomes a later segment, which reads whole") {
  const auto data = fresh_dir("souk-spare");
  FileCache cache(64 << 20);
  Publisher pub(data, cache);
  pub.seconds(4, 2000);
  // Held open, the first segment's inode cannot be freed and its number given
  // to another file: if a later segment has it, that segment took the file over.
  const RawReader first(pub.dir() / "seg-000000.ts");
  pub.seconds(20, 2000);  // 12 segments: 3 listed, the 3 before kept for late readers, the rest retired

  const auto listed = pub.packager.playlist().segments();
  REQUIRE(listed.size() == 3);
  CHECK(listed.front().uri == "seg-000008.ts");
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(pub.dir())) names.insert(e.path().filename().string());
  // Listed, the three before them, the one being written and the playlist's two
  // versions; seg-000000..000004 are gone (each closing segment retires one,
  // whose file the next segment takes over at once).
  CHECK(names == std::set<std::string>{"index.m3u8", "index.m3u8.tmp", "seg-000005.ts", "seg-000006.ts",
                                       "seg-000007.ts", "seg-000008.ts", "seg-000009.ts", "seg-000010.ts",
                                       "seg-000011.ts"});
  CHECK(first.status().st_nlink == 1);
  CHECK(first.status().st_ino == inode(pub.dir() / "seg-000007.ts"));
  // A taken-over file holds the new segment only: whole TS packets, as long as
  // a twin written fresh, and what the cache holds.
  for (const auto& s : listed) {
    CAPTURE(s.uri);
    const auto bytes = contents(pub.dir() / s.uri);
    CHECK(bytes.size() % 188 == 0);
    CHECK(bytes.size() == fs::file_size(pub.dir() / "seg-000005.ts"));
    CHECK(bytes[0] == 0x47);
    const auto cached = cache.get((pub.dir() / s.uri).string());
    REQUIRE(cached);
    REQUIRE(cached->bytes);
    CHECK(*cached->bytes == bytes);
  }
  fs::remove_all(data);
}

TEST_CASE("segments: a file a reader still holds is never taken over") {
  const auto data = fresh_dir("souk-spare-held");
  FileCache cache(64 << 20);
  Publisher pub(data, cache);
  pub.seconds(4, 6000);  // segments of 360 KB: held open by the cache, for sendfile
  const auto first = pub.dir() / "seg-000000.ts";
  auto held = cache.get(first.string());
  REQUIRE(held);
  REQUIRE(held->file);  // what a response being sent holds
  const auto before = held->file->read();
  const auto first_inode = inode(first);

  pub.seconds(20, 6000);
  CHECK_FALSE(fs::exists(first));
  CHECK(held->file->read() == before);  // deleted, not overwritten
  for (const auto& e : fs::directory_iterator(pub.dir())) CHECK(inode(e.path()) != first_inode);
  fs::remove_all(data);
}

TEST_CASE("segments: without the cache, which knows who reads a file, retired files are deleted") {
  const auto data = fresh_dir("souk-spare-uncached");
  FileCache off(0);
  Publisher pub(data, off);
  pub.seconds(4, 2000);
  const RawReader first(pub.dir() / "seg-000000.ts");
  pub.seconds(20, 2000);
  CHECK_FALSE(fs::exists(pub.dir() / "seg-000004.ts"));
  CHECK(first.status().st_nlink == 0);  // deleted; still readable through the descriptor
  fs::remove_all(data);
}

TEST_CASE("segments: after a restart, the files the last run kept for late readers still go") {
  const auto data = fresh_dir("souk-spare-restart");
  FileCache cache(64 << 20);
  fs::path dir;
  {
    // 7 segments closed: 4..6 listed, 1..3 kept for late readers, 0 retired;
    // then the process stops without ending the stream.
    Publisher pub(data, cache);
    dir = pub.dir();
    pub.seconds(16, 2000);
    REQUIRE(fs::exists(dir / "seg-000001.ts"));
  }
  Publisher next(data, cache);  // restores the playlist, continues after a discontinuity
  REQUIRE(next.packager.playlist().segments().front().uri == "seg-000004.ts");
  next.seconds(12, 2000);
  // Five more closed (7..11): five retired, the run before's 1..3 first.
  for (const char* gone : {"seg-000001.ts", "seg-000002.ts", "seg-000003.ts", "seg-000004.ts", "seg-000005.ts"}) {
    CAPTURE(gone);
    CHECK_FALSE(fs::exists(dir / gone));
  }
  CHECK(fs::exists(dir / "seg-000006.ts"));
  fs::remove_all(data);
}

namespace {

PackagerOptions options_in(const fs::path& data) {
  PackagerOptions o;
  o.data_dir = data;
  o.segment_seconds = 2;
  o.playlist_window = 3;
  return o;
}

}  // namespace

TEST_CASE("stream packager: frames wait for both codecs, then reach the writer in order") {
  const auto data = fresh_dir("souk-sp-wait");
  const auto options = options_in(data);
  StreamPackager packager("s", options, false);
  CHECK_FALSE(packager.recording());
  packager.publish_started();
  packager.frame(video(0, true, avcc, true), 0);
  for (int i = 0; i < 15; ++i) packager.frame(video(i * 40, i == 0, picture(i == 0, 300)), 0);
  // The audio's sequence header has not come, nor has a second passed.
  CHECK_FALSE(fs::exists(hls_dir(options, "s") / "seg-000000.ts"));
  packager.frame(audio(600, aac_config, true), 0);
  packager.frame(audio(600, Bytes(50, 0x21)), 0);
  CHECK(fs::exists(hls_dir(options, "s") / "seg-000000.ts"));
  for (int i = 15; i < 60; ++i) packager.frame(video(i * 40, i % 50 == 0, picture(i % 50 == 0, 300)), 0);
  CHECK_FALSE(packager.end());  // not recorded: no VOD
  // The held frames were written: the segment starts at the first one.
  REQUIRE(packager.playlist().segments().size() == 2);
  CHECK(packager.playlist().segments()[0].duration == doctest::Approx(2.0));
  fs::remove_all(data);
}

TEST_CASE("stream packager: a stream with one kind of media starts after a second's wait for the other") {
  const auto data = fresh_dir("souk-sp-one-track");
  const auto options = options_in(data);
  StreamPackager packager("s", options, false);
  packager.publish_started();
  packager.frame(video(0, true, avcc, true), 0);
  for (int i = 0; i < 25; ++i) packager.frame(video(i * 40, i == 0, picture(i == 0, 300)), 0);
  CHECK_FALSE(fs::exists(hls_dir(options, "s") / "seg-000000.ts"));  // 960 ms waited
  packager.frame(video(1000, false, picture(false, 300)), 0);
  CHECK(fs::exists(hls_dir(options, "s") / "seg-000000.ts"));
  packager.end();
  REQUIRE(packager.playlist().segments().size() == 1);
  CHECK(packager.playlist().segments()[0].duration == doctest::Approx(1.001));  // from 0 to the last frame's end
  fs::remove_all(data);
}

TEST_CASE("stream packager: only H.264 and AAC are packaged; an unusable sequence header is skipped") {
  const auto data = fresh_dir("souk-sp-codecs");
  const auto options = options_in(data);
  StreamPackager packager("s", options, false);
  packager.publish_started();
  packager.frame(video(0, true, {0x01, 0x42}, true), 0);  // cut short: no codec known
  packager.frame(video(0, true, avcc, true), 0);
  for (int i = 0; i < 100; ++i) {
    auto f = video(i * 40, i % 25 == 0, picture(i % 25 == 0, 300));
    f.codec_id = 2;  // Sorenson H.263: never written, never held
    packager.frame(f, 0);
  }
  auto mp3 = audio(0, Bytes(100, 0));
  mp3.codec_id = 2;
  packager.frame(mp3, 0);
  CHECK_FALSE(fs::exists(hls_dir(options, "s") / "seg-000000.ts"));
  packager.end();
  CHECK(packager.playlist().segments().empty());
  fs::remove_all(data);
}

TEST_CASE("stream packager: a recorded stream ends as a playlist with ENDLIST and a VOD") {
  const auto data = fresh_dir("souk-sp-record");
  const auto options = options_in(data);
  StreamPackager packager("s", options, true);
  CHECK(packager.recording());
  for (int publisher = 0; publisher < 2; ++publisher) {
    packager.publish_started();
    packager.frame(video(0, true, avcc, true), 0);
    packager.frame(audio(0, aac_config, true), 0);
    for (int i = 0; i < 75; ++i) {
      packager.frame(video(i * 40, i % 50 == 0, picture(i % 50 == 0, 300)), 0);
      packager.frame(audio(i * 40, Bytes(50, 0x21)), 0);
    }
    packager.publish_stopped();
  }
  const auto vod = packager.end();
  REQUIRE(vod);
  CHECK(*vod == vod_path(options, "s"));
  CHECK_FALSE(fs::exists(recording_path(options, "s")));
  std::size_t video_packets = 0;
  for (const auto& p : read_packets(*vod)) video_packets += p.type == AVMEDIA_TYPE_VIDEO ? 1 : 0;
  CHECK(video_packets == 150);
  CHECK(contents(hls_dir(options, "s") / "index.m3u8").ends_with("#EXT-X-ENDLIST\n"));
  const auto& segments = packager.playlist().segments();
  REQUIRE(segments.size() == 3);
  CHECK(segments[1].uri == "seg-000002.ts");
  CHECK(segments[1].discontinuity);  // the second publisher's first
  fs::remove_all(data);
}
