// Packager::recover: what a killed run's leftover recordings become at start-up,
// and which of them are announced as the stream's VOD.
#include "packager_fixtures.hpp"
#include "souk/packager/av_util.hpp"
#include "souk/packager/media_tracks.hpp"
#include "souk/packager/packager.hpp"
#include "souk/packager/recording_finalizer.hpp"

#include <doctest/doctest.h>

#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

using namespace souk;
using namespace souk::packager;
using namespace souk::packager::test;
namespace fs = std::filesystem;

namespace {

struct Announced : RecordingSink {
  void recording_ready(const std::string& stream_id, const fs::path& path) override {
    ready.emplace_back(stream_id, path);
  }
  std::vector<std::pair<std::string, fs::path>> ready;
};

// A recording as the recorder leaves it: video and audio, a fragment each
// second; with no frame, the muxer is abandoned as a kill before the first
// fragment leaves it (its header alone).
void write_recording(const fs::path& path, int frames) {
  write_fragmented(path, frames, /*with_audio=*/true, /*video_track=*/true, /*closed=*/frames > 0);
}

std::size_t video_frames(const fs::path& path) {
  std::size_t n = 0;
  for (const auto& p : read_packets(path)) n += p.type == AVMEDIA_TYPE_VIDEO ? 1 : 0;
  return n;
}

struct Recovery {
  explicit Recovery(const std::string& name) {
    options.data_dir = fresh_dir(name);
    fs::create_directories(options.data_dir / "vod");
  }
  ~Recovery() { fs::remove_all(options.data_dir); }
  // A start-up: recover() with `live` streams still live.
  void restart(const std::vector<std::string>& live = {}) {
    Packager packager(pool, options, [](const std::string&) { return true; }, sink);
    packager.recover([&](const std::string& id) {
      return std::find(live.begin(), live.end(), id) != live.end();
    });
  }
  fs::path rec(const std::string& id) const { return recording_path(options, id); }
  fs::path vod(const std::string& id) const { return vod_path(options, id); }

  boost::asio::thread_pool pool{1};
  PackagerOptions options;
  Announced sink;
};

}  // namespace

TEST_CASE("packager recover: a leftover without media is removed, makes no VOD and announces none") {
  Recovery r("souk-recover-empty");
  write_recording(r.rec("s"), 0);
  r.restart();
  CHECK_FALSE(fs::exists(r.rec("s")));
  CHECK_FALSE(fs::exists(r.vod("s")));
  CHECK(r.sink.ready.empty());
}

TEST_CASE(
    "packager recover: a leftover without media after an earlier part keeps that VOD, announced "
    "only once the stream ended") {
  Recovery r("souk-recover-earlier");
  write_recording(r.rec("s"), 50);
  r.restart({"s"});  // still live: finalized, not announced
  REQUIRE(fs::exists(r.vod("s")));
  CHECK(r.sink.ready.empty());
  const auto before = contents(r.vod("s"));

  write_recording(r.rec("s"), 0);  // the next publisher, killed early
  r.restart({"s"});
  CHECK_FALSE(fs::exists(r.rec("s")));
  CHECK(contents(r.vod("s")) == before);
  CHECK(r.sink.ready.empty());

  write_recording(r.rec("s"), 0);  // and again, the stream ended meanwhile
  r.restart();
  CHECK(contents(r.vod("s")) == before);
  REQUIRE(r.sink.ready.size() == 1);
  CHECK(r.sink.ready[0].first == "s");
  CHECK(r.sink.ready[0].second == r.vod("s"));
}

TEST_CASE("packager recover: killed before the first fragment, then twice with media: the VOD holds both parts") {
  Recovery r("souk-recover-chain");
  write_recording(r.rec("s"), 0);
  r.restart({"s"});
  write_recording(r.rec("s"), 50);
  r.restart({"s"});
  write_recording(r.rec("s"), 25);
  r.restart();
  CHECK_FALSE(fs::exists(r.rec("s")));
  CHECK(video_frames(r.vod("s")) == 75);
  REQUIRE(r.sink.ready.size() == 1);
  CHECK(r.sink.ready[0].second == r.vod("s"));
}
