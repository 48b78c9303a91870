#include "souk/api/disk_probe.hpp"

#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <sys/resource.h>

#include <csignal>
#include <filesystem>

namespace {
std::size_t entries(const std::filesystem::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}
}  // namespace

TEST_CASE("readyz's disk probe: writable, and nothing left behind") {
  souk::test::TempDir dir;
  CHECK(souk::api::directory_writable(dir.path()));
  CHECK(entries(dir.path()) == 0);
  CHECK_FALSE(souk::api::directory_writable(dir.path() / "missing"));
}

TEST_CASE("readyz's disk probe: a disk that takes the file but not its bytes is not writable, and the probe file goes") {
  // As a full disk does: the file is created, its bytes are refused. A file-size
  // limit of 0 does the same (EFBIG; SIGXFSZ ignored for the moment).
  souk::test::TempDir dir;
  rlimit before{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &before) == 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit none = before;
  none.rlim_cur = 0;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &none) == 0);
  const bool writable = souk::api::directory_writable(dir.path());
  setrlimit(RLIMIT_FSIZE, &before);
  std::signal(SIGXFSZ, old_handler);
  CHECK_FALSE(writable);
  CHECK(entries(dir.path()) == 0);
}
