// SegmentFiles: names, grace time, the spare file's reuse, and the cache's copies.
#include "souk/packager/segment_files.hpp"

#include "packager_fixtures.hpp"
#include "souk/file_cache.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

using namespace souk;
using namespace souk::packager;
using namespace souk::packager::test;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& path, std::size_t bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << std::string(bytes, 'x');
}

HlsSegment listed(std::uint64_t sequence) {
  HlsSegment s;
  s.sequence = sequence;
  s.uri = segment_name(sequence);
  return s;
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

// A stream's HLS directory with segment files 0..count-1 of `bytes` each.
struct Directory {
  Directory(const std::string& name, FileCache& cache, std::size_t window, int count,
            std::size_t bytes)
      : data(fresh_dir(name)),
        options(make_options(data, cache, window)),
        dir(hls_dir(options, "s")) {
    fs::create_directories(dir);
    for (int i = 0; i < count; ++i) write(dir / segment_name(static_cast<std::uint64_t>(i)), bytes);
  }
  ~Directory() { fs::remove_all(data); }

  static PackagerOptions make_options(const fs::path& data, FileCache& cache, std::size_t window) {
    PackagerOptions o;
    o.data_dir = data;
    o.playlist_window = window;
    o.cache = &cache;
    return o;
  }

  fs::path data;
  PackagerOptions options;
  fs::path dir;
};

}  // namespace

TEST_CASE("segment names: six digits at least, and only such names read back") {
  CHECK(segment_name(0) == "seg-000000.ts");
  CHECK(segment_name(42) == "seg-000042.ts");
  CHECK(segment_name(1234567) == "seg-1234567.ts");
  CHECK(segment_sequence("seg-000042.ts") == 42u);
  CHECK(segment_sequence("seg-1234567.ts") == 1234567u);
  for (const char* other : {"index.m3u8", "spare.ts.tmp", "seg-.ts", "seg-12a.ts",
                            "seg-000001.ts.tmp", "seg--1.ts", "xseg-000001.ts"}) {
    CAPTURE(other);
    CHECK_FALSE(segment_sequence(other));
  }
}

TEST_CASE("segment files: a segment out of the playlist stays one more window, then goes") {
  FileCache off(0);
  Directory d("souk-files-grace", off, 2, 4, 100);
  SegmentFiles files(d.dir, d.options);
  files.retire({listed(0)});
  files.retire({listed(1)});
  CHECK(fs::exists(d.dir / "seg-000000.ts"));  // within the grace window
  CHECK(fs::exists(d.dir / "seg-000001.ts"));
  files.retire({listed(2)});
  CHECK_FALSE(fs::exists(d.dir / "seg-000000.ts"));
  CHECK(names_in(d.dir) ==
        std::set<std::string>{"seg-000001.ts", "seg-000002.ts", "seg-000003.ts"});
  files.take_spare(d.dir / "seg-000004.ts");  // no cache, no spare: nothing to take
  CHECK_FALSE(fs::exists(d.dir / "seg-000004.ts"));
}

TEST_CASE(
    "segment files: a cached file nobody reads becomes the spare, which the next segment takes") {
  FileCache cache(64 << 20);
  Directory d("souk-files-spare", cache, 1, 3, 2000);
  SegmentFiles files(d.dir, d.options);
  for (int i = 0; i < 3; ++i) files.cache_file(d.dir / segment_name(static_cast<std::uint64_t>(i)));
  REQUIRE(cache.get((d.dir / "seg-000000.ts").string()));
  const auto first_inode = inode(d.dir / "seg-000000.ts");

  files.retire({listed(0), listed(1), listed(2)});  // 0 and 1 past the window of one
  // One spare at most: seg-000000.ts became it, seg-000001.ts was deleted.
  CHECK(names_in(d.dir) == std::set<std::string>{"seg-000002.ts", "spare.ts.tmp"});
  CHECK(inode(d.dir / "spare.ts.tmp") == first_inode);
  CHECK_FALSE(cache.get((d.dir / "seg-000000.ts").string()));
  CHECK_FALSE(cache.get((d.dir / "seg-000001.ts").string()));

  files.take_spare(d.dir / "seg-000003.ts");
  CHECK(inode(d.dir / "seg-000003.ts") == first_inode);
  CHECK_FALSE(fs::exists(d.dir / "spare.ts.tmp"));
  files.take_spare(d.dir / "seg-000004.ts");  // taken once only
  CHECK_FALSE(fs::exists(d.dir / "seg-000004.ts"));
}

TEST_CASE(
    "segment files: a file a reader holds through the cache is deleted, not kept as the spare") {
  FileCache cache(64 << 20);
  Directory d("souk-files-held", cache, 1, 2, FileCache::pinned_file_min_bytes + 1000);
  SegmentFiles files(d.dir, d.options);
  files.cache_file(d.dir / "seg-000000.ts");
  const auto held = cache.get((d.dir / "seg-000000.ts").string());
  REQUIRE(held);
  REQUIRE(held->file);  // held open, as a response being sent holds it
  files.retire({listed(0), listed(1)});
  CHECK(names_in(d.dir) == std::set<std::string>{"seg-000001.ts"});
  CHECK(held->file->read() ==
        std::string(FileCache::pinned_file_min_bytes + 1000, 'x'));  // deleted, not overwritten
}

TEST_CASE("segment files: the spare goes when the stream ends") {
  FileCache cache(64 << 20);
  Directory d("souk-files-drop", cache, 0, 1, 100);
  SegmentFiles files(d.dir, d.options);
  files.cache_file(d.dir / "seg-000000.ts");
  files.retire({listed(0)});
  REQUIRE(fs::exists(d.dir / "spare.ts.tmp"));
  files.drop_spare();
  CHECK(names_in(d.dir).empty());
}

TEST_CASE(
    "segment files: after a restart, files older than the playlist are retired, oldest first") {
  FileCache off(0);
  Directory d("souk-files-adopt", off, 1, 6, 100);
  write(d.dir / "index.m3u8", 10);
  SegmentFiles files(d.dir, d.options);
  files.adopt_retired("seg-000004.ts");  // 4 and 5 listed; 0..3 retired by the last run
  files.retire({});                      // the window moves: all but the newest retired one go
  CHECK(names_in(d.dir) ==
        std::set<std::string>{"index.m3u8", "seg-000003.ts", "seg-000004.ts", "seg-000005.ts"});
  files.retire({listed(4)});
  CHECK(names_in(d.dir) == std::set<std::string>{"index.m3u8", "seg-000004.ts", "seg-000005.ts"});
}

TEST_CASE("segment files: a finished segment is read into the cache by the background runner") {
  FileCache cache(64 << 20);
  Directory d("souk-files-cache", cache, 3, 1, 1000);
  std::vector<std::function<void()>> later;
  d.options.background = [&](std::function<void()> work) { later.push_back(std::move(work)); };
  SegmentFiles files(d.dir, d.options);
  const auto path = d.dir / "seg-000000.ts";
  files.cache_file(path);
  CHECK_FALSE(cache.get(path.string()));  // not in place: on the runner
  REQUIRE(later.size() == 1);
  later.front()();
  const auto entry = cache.get(path.string());
  REQUIRE(entry);
  REQUIRE(entry->bytes);
  CHECK(*entry->bytes == std::string(1000, 'x'));
  files.uncache(path);
  CHECK_FALSE(cache.get(path.string()));
}

TEST_CASE(
    "segment files: a playlist's text is cached with the modification time of the file it "
    "becomes") {
  FileCache cache(64 << 20);
  Directory d("souk-files-text", cache, 3, 0, 0);
  SegmentFiles files(d.dir, d.options);
  const auto path = d.dir / "index.m3u8";
  const auto written = d.dir / "index.m3u8.tmp";
  write(written, 5);
  files.cache_text(path, std::make_shared<const std::string>("#EXTM"), written);
  const auto entry = cache.get(path.string());
  REQUIRE(entry);
  REQUIRE(entry->bytes);
  CHECK(*entry->bytes == "#EXTM");
  CHECK(entry->modified == *file_modified(written));

  // Without the file to take the time from, no copy stays: it could be newer than the file.
  files.cache_text(path, std::make_shared<const std::string>("#EXTM3U"), d.dir / "missing");
  CHECK_FALSE(cache.get(path.string()));
}
