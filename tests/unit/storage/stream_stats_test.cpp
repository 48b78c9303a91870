#include "souk/storage/stream_stats.hpp"

#include <doctest/doctest.h>

using namespace souk::storage;

TEST_CASE("summarize_viewers: peak, unique and watch time") {
  // Window 1000..11000 (10 s).
  std::vector<ViewerInterval> s = {
      {"alice", 1000, 6000},         // 5 s
      {"bob", 2000, std::nullopt},   // still watching: 9 s to the window end
      {"sock-1", 3000, 4000},        // anonymous, 1 s
  };
  const auto f = summarize_viewers(s, 1000, 11000);
  CHECK(f.peak_viewers == 3);
  CHECK(f.unique_viewers == 3);
  CHECK(f.total_watch_ms == 15000);
}

TEST_CASE("summarize_viewers: a viewer's overlapping sessions are merged") {
  std::vector<ViewerInterval> s = {
      {"alice", 0, 5000},
      {"alice", 3000, 8000},  // second tab
      {"alice", 9000, 10000},
  };
  const auto f = summarize_viewers(s, 0, 20000);
  CHECK(f.unique_viewers == 1);
  CHECK(f.peak_viewers == 2);  // two sockets at once
  CHECK(f.total_watch_ms == 9000);
}

TEST_CASE("summarize_viewers: sessions are clamped to the live window") {
  std::vector<ViewerInterval> s = {
      {"early", 0, 500},           // left before go-live: not a viewer
      {"waiting", 0, 3000},        // joined before go-live: counts from 1000
      {"late", 12000, 13000},      // after the end: not a viewer
  };
  const auto f = summarize_viewers(s, 1000, 11000);
  CHECK(f.unique_viewers == 1);
  CHECK(f.total_watch_ms == 2000);
  CHECK(f.peak_viewers == 1);
}

TEST_CASE("summarize_viewers: a leave and a join at the same instant are not concurrent") {
  std::vector<ViewerInterval> s = {{"a", 0, 5000}, {"b", 5000, 9000}};
  CHECK(summarize_viewers(s, 0, 10000).peak_viewers == 1);
}

TEST_CASE("summarize_viewers: nothing to summarize") {
  const auto f = summarize_viewers({}, 0, 1000);
  CHECK(f.peak_viewers == 0);
  CHECK(f.unique_viewers == 0);
  CHECK(f.total_watch_ms == 0);
}
