#include "souk/file_cache.hpp"

#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using souk::FileCache;
using souk::FileTime;

namespace {

const FileTime t1{std::chrono::seconds(1795516875)};
const FileTime t2 = t1 + std::chrono::nanoseconds(1);

FileCache::Entry entry(std::size_t size, char fill = 'x', FileTime modified = t1) {
  return {std::make_shared<const std::string>(size, fill), nullptr, modified};
}

// The cached bytes of `path`, or "-" on a miss.
std::string bytes_of(FileCache& cache, const std::string& path) {
  const auto e = cache.get(path);
  return e ? *e->bytes : "-";
}

}  // namespace

TEST_CASE("file cache: put, get, erase, take") {
  FileCache cache(1000);
  CHECK(cache.enabled());
  CHECK_FALSE(cache.get("/d/a"));
  cache.put("/d/a", entry(3, 'a'));
  cache.put("/d/b", entry(4, 'b', t2));
  const auto a = cache.get("/d/a");
  REQUIRE(a);
  CHECK(*a->bytes == "aaa");
  CHECK(a->modified == t1);
  CHECK(cache.get("/d/b")->modified == t2);
  CHECK(cache.size_bytes() == 7);
  CHECK(cache.entries() == 2);

  cache.erase("/d/a");
  CHECK_FALSE(cache.get("/d/a"));
  CHECK(bytes_of(cache, "/d/b") == "bbbb");
  CHECK(cache.size_bytes() == 4);
  cache.erase("/d/missing");  // nothing to erase is fine
  CHECK(cache.entries() == 1);

  // take: erase, handing the entry over.
  const auto taken = cache.take("/d/b");
  REQUIRE(taken);
  CHECK(*taken->bytes == "bbbb");
  CHECK(taken->modified == t2);
  CHECK_FALSE(cache.get("/d/b"));
  CHECK(cache.size_bytes() == 0);
  CHECK(cache.entries() == 0);
  CHECK_FALSE(cache.take("/d/b"));
}

TEST_CASE("file cache: put replaces, put_if_absent does not") {
  FileCache cache(1000);
  cache.put("/p", entry(10, 'o'));
  cache.put("/p", entry(20, 'n', t2));
  CHECK(bytes_of(cache, "/p") == std::string(20, 'n'));
  CHECK(cache.get("/p")->modified == t2);
  CHECK(cache.size_bytes() == 20);
  CHECK(cache.entries() == 1);

  cache.put_if_absent("/p", entry(5, 'r'));
  CHECK(bytes_of(cache, "/p") == std::string(20, 'n'));
  cache.put_if_absent("/q", entry(5, 'r'));
  CHECK(bytes_of(cache, "/q") == "rrrrr");
  CHECK(cache.size_bytes() == 25);
}

TEST_CASE("file cache: evicts the least recently used to stay within its bytes") {
  FileCache cache(1000);
  cache.put("/a", entry(250, 'a'));
  cache.put("/b", entry(250, 'b'));
  cache.put("/c", entry(250, 'c'));
  cache.put("/d", entry(250, 'd'));
  CHECK(cache.size_bytes() == 1000);
  CHECK(cache.get("/a"));  // /b is now the least recently used

  cache.put("/e", entry(200, 'e'));
  CHECK_FALSE(cache.get("/b"));
  CHECK(cache.get("/a"));
  CHECK(cache.get("/c"));
  CHECK(cache.get("/d"));
  CHECK(cache.get("/e"));
  CHECK(cache.size_bytes() == 950);

  // Use order now (most recent first): e, d, c, a. Touch e and a: a, e, d, c.
  cache.get("/e");
  cache.get("/a");
  cache.put("/f", entry(250, 'f'));  // 950 + 250 > 1000: the oldest, /c, goes; then it fits
  CHECK_FALSE(cache.get("/c"));
  CHECK(cache.get("/d"));
  CHECK(cache.get("/a"));
  CHECK(cache.get("/e"));
  CHECK(cache.size_bytes() == 950);  // a, e, d, f
  CHECK(cache.size_bytes() <= cache.capacity());
}

TEST_CASE("file cache: a file over a quarter of the capacity is not kept") {
  FileCache cache(1000);
  CHECK(cache.admits(250));
  CHECK_FALSE(cache.admits(251));
  cache.put("/small", entry(100));
  cache.put("/big", entry(251));
  CHECK_FALSE(cache.get("/big"));
  CHECK(cache.get("/small"));  // nothing was evicted for it
  // A new version too big to keep still removes the old one: it is no longer the file.
  cache.put("/small", entry(400));
  CHECK_FALSE(cache.get("/small"));
  CHECK(cache.size_bytes() == 0);
}

TEST_CASE("file cache: capacity 0 disables it") {
  FileCache cache(0);
  CHECK_FALSE(cache.enabled());
  CHECK_FALSE(cache.admits(0));
  cache.put("/a", entry(1));
  cache.put_if_absent("/b", entry(1));
  CHECK_FALSE(cache.get("/a"));
  CHECK_FALSE(cache.get("/b"));
  CHECK(cache.entries() == 0);
}

TEST_CASE("file cache: an evicted entry's bytes live on while a reader holds them") {
  FileCache cache(100);
  cache.put("/a", entry(25, 'a'));
  const auto held = cache.get("/a");
  for (char c = 'b'; c <= 'f'; ++c) cache.put(std::string("/") + c, entry(25, c));
  CHECK_FALSE(cache.get("/a"));
  CHECK(*held->bytes == std::string(25, 'a'));
}

TEST_CASE("file cache: concurrent readers and writers keep it within bounds") {
  FileCache cache(64 * 100);
  std::atomic<bool> wrong{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, &wrong, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string path = "/f" + std::to_string((i * 7 + t) % 150);
        if (i % 3 == 0) {
          cache.put(path, entry(64, static_cast<char>('a' + t)));
        } else if (i % 11 == 0) {
          cache.erase(path);
        } else if (const auto e = cache.get(path); e && e->bytes->size() != 64) {
          wrong = true;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK_FALSE(wrong.load());
  CHECK(cache.size_bytes() <= cache.capacity());
  CHECK(cache.size_bytes() == cache.entries() * 64);
}

// A file of `content` in a directory of its own, removed at scope exit.
struct TempFile {
  souk::test::TempDir dir{"souk-file-cache"};
  std::filesystem::path path;
  explicit TempFile(const std::string& name, const std::string& content) : path(dir / name) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
};

TEST_CASE("file cache: pinned-file entries count their size like bytes") {
  const TempFile seg_file("souk-file-cache-seg.ts", std::string(200, 's'));
  const TempFile big_file("souk-file-cache-big.ts", std::string(251, 'b'));
  FileCache cache(1000);
  cache.put("/seg", {nullptr, souk::PinnedFile::open(seg_file.path, 200), t1});
  cache.put("/pl", entry(50, 'p'));
  CHECK(cache.size_bytes() == 250);
  const auto seg = cache.get("/seg");
  REQUIRE(seg);
  CHECK_FALSE(seg->bytes);
  REQUIRE(seg->file);
  CHECK(seg->size() == 200);
  CHECK(seg->file->read() == std::string(200, 's'));
  cache.put("/big", {nullptr, souk::PinnedFile::open(big_file.path, 251), t1});
  CHECK_FALSE(cache.get("/big"));
  cache.erase("/seg");
  CHECK(cache.size_bytes() == 50);
  // An entry with neither is nothing to keep.
  cache.put("/none", {nullptr, nullptr, t1});
  CHECK_FALSE(cache.get("/none"));
}

TEST_CASE("pinned file: the file itself, held open, sized exactly") {
  std::string content(300000, '\0');
  for (std::size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7);
  std::optional<TempFile> file(std::in_place, "souk-pinned-file-test.ts", content);
  const auto path = file->path;
  const auto pinned = souk::PinnedFile::open(path, content.size());
  REQUIRE(pinned);
  CHECK(pinned->size() == content.size());
  CHECK(pinned->read() == content);
  CHECK(pinned->read(7, 3) == content.substr(7, 3));
  CHECK(pinned->read(content.size()).empty());
  // Not the size the caller saw: not this version of the file.
  CHECK_FALSE(souk::PinnedFile::open(path, content.size() - 1));
  CHECK_FALSE(souk::PinnedFile::open(path, content.size() + 1));
  // Not a regular file.
  CHECK_FALSE(souk::PinnedFile::open(file->dir.path(), 0));
  file.reset();  // deleted
  CHECK_FALSE(souk::PinnedFile::open(path, content.size()));
  CHECK(pinned->read(299999) == content.substr(299999));  // outlives its name
}

TEST_CASE("file cache: load reads small files into bytes and holds large ones open") {
  const souk::test::TempDir dir("souk-file-cache");
  const auto path = dir / "load-test.ts";
  for (const std::size_t size :
       {std::size_t{0}, std::size_t{1000}, FileCache::pinned_file_min_bytes - 1,
        FileCache::pinned_file_min_bytes, std::size_t{1 << 20}}) {
    CAPTURE(size);
    std::string content(size, '\0');
    for (std::size_t i = 0; i < size; ++i) content[i] = static_cast<char>(i % 251);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    const auto entry = FileCache::load(path, size, t2);
    REQUIRE(entry);
    CHECK(entry->modified == t2);
    CHECK(entry->size() == size);
    if (size >= FileCache::pinned_file_min_bytes) {
      CHECK_FALSE(entry->bytes);
      REQUIRE(entry->file);
      CHECK(entry->file->read() == content);
    } else {
      CHECK_FALSE(entry->file);
      REQUIRE(entry->bytes);
      CHECK(*entry->bytes == content);
    }
    // Not the size the caller saw: not the version it stat'ed.
    CHECK_FALSE(FileCache::load(path, size + 1, t2));
    if (size > 0) CHECK_FALSE(FileCache::load(path, size - 1, t2));
  }
  std::filesystem::remove(path);
  CHECK_FALSE(FileCache::load(path, 0, t2));
}

TEST_CASE("file_modified is the file's mtime, to the nanosecond") {
  const souk::test::TempDir dir("souk-file-cache");
  const auto path = dir / "mtime-test.txt";
  std::ofstream(path) << "x";
  const auto when = t1 + std::chrono::nanoseconds(123456789);
  std::filesystem::last_write_time(path, std::chrono::file_clock::from_sys(when));
  CHECK(souk::file_modified(path) == when);
  std::filesystem::remove(path);
  CHECK_FALSE(souk::file_modified(path));
}
