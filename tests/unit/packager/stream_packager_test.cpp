#include "souk/packager/stream_packager.hpp"

#include "souk/file_cache.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

using namespace souk;
using namespace souk::packager;
namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

namespace {

std::string contents(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

ino_t inode(const fs::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_ino;
}

fs::path fresh_dir(const std::string& name) {
  const auto dir = fs::temp_directory_path() / (name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// An avcC record x264 wrote (Constrained Baseline 640x360).
const Bytes avcc = {0x01, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0x00, 0x19, 0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02,
                    0x80, 0xbf, 0xe5, 0xc0, 0x44, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00,
                    0xf2, 0x3c, 0x58, 0xba, 0x80, 0x01, 0x00, 0x04, 0x68, 0xce, 0x0f, 0xc8};

ingest::Frame video(std::int64_t dts, bool keyframe, Bytes payload, bool sequence_header = false) {
  ingest::Frame f;
  f.stream_id = "s";
  f.kind = ingest::MediaKind::video;
  f.codec_id = ingest::codec_avc;
  f.dts_ms = f.pts_ms = dts;
  f.keyframe = keyframe;
  f.sequence_header = sequence_header;
  f.buffer = std::make_shared<const Bytes>(std::move(payload));
  return f;
}

// One NAL unit of `bytes` (an IDR picture or another slice), length-prefixed.
Bytes picture(bool idr, std::size_t bytes) {
  Bytes out = {static_cast<std::uint8_t>(bytes >> 24), static_cast<std::uint8_t>(bytes >> 16),
               static_cast<std::uint8_t>(bytes >> 8), static_cast<std::uint8_t>(bytes)};
  out.push_back(idr ? 0x65 : 0x41);
  out.resize(4 + bytes, 0x5a);
  return out;
}

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

TEST_CASE("write_file_atomically: each version replaces the last whole, in the same two inodes") {
  const auto dir = fresh_dir("souk-atomic");
  const auto path = dir / "index.m3u8";
  const auto tmp = dir / "index.m3u8.tmp";

  write_file_atomically(path, "one");
  CHECK(contents(path) == "one");
  write_file_atomically(path, "two, longer");
  CHECK(contents(path) == "two, longer");
  CHECK(contents(tmp) == "one");  // kept, to be written over next

  // From here on the versions take turns in the two files the names already
  // have: a live playlist costs the file system no inode per segment.
  const std::set<ino_t> inodes{inode(path), inode(tmp)};
  fs::path seen_by_before_rename;
  write_file_atomically(path, "3", [&](const fs::path& written) {
    seen_by_before_rename = written;
    CHECK(contents(written) == "3");  // shorter than what the file held: truncated
    CHECK(contents(path) == "two, longer");
  });
  CHECK(seen_by_before_rename == tmp);
  CHECK(contents(path) == "3");
  CHECK(contents(tmp) == "two, longer");
  CHECK(std::set<ino_t>{inode(path), inode(tmp)} == inodes);
  fs::remove_all(dir);
}

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
