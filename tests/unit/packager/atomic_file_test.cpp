// write_file_atomically: whole versions, two inodes, and a failed write.
#include "souk/packager/atomic_file.hpp"

#include "packager_fixtures.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <stdexcept>

using namespace souk::packager;
using namespace souk::packager::test;
namespace fs = std::filesystem;

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

TEST_CASE("write_file_atomically: a write that fails throws and leaves the file as it was") {
  const auto dir = fresh_dir("souk-atomic-fail");
  const auto path = dir / "index.m3u8";
  write_file_atomically(path, "one");
  // The temporary name taken by a directory: the new version cannot be written.
  fs::remove(dir / "index.m3u8.tmp");
  fs::create_directory(dir / "index.m3u8.tmp");
  bool called = false;
  CHECK_THROWS_AS(write_file_atomically(path, "two", [&](const fs::path&) { called = true; }),
                  std::runtime_error);
  CHECK_FALSE(called);
  CHECK(contents(path) == "one");
  fs::remove_all(dir);
}
