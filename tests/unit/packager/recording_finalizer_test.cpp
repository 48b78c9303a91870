// finalize_recording: fragmented MP4 to faststart MP4, appended parts, cut-short
// recordings, and failures that leave nothing half written.
#include "souk/packager/recording_finalizer.hpp"

#include "packager_fixtures.hpp"
#include "souk/packager/av_util.hpp"
#include "souk/packager/media_tracks.hpp"
#include "souk/packager/packager_metrics.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

using namespace souk;
using namespace souk::packager;
using namespace souk::packager::test;
namespace fs = std::filesystem;

namespace {

// A fragmented MP4 as the recorder writes it: `frames` of 25 fps video from dts
// 0, a keyframe (and so a fragment) each second.
void write_fragmented(const fs::path& path, int frames) {
  MediaTracks tracks;
  REQUIRE(tracks.add_sequence_header(video(0, true, avcc, true)));
  AVDictionary* opts = nullptr;
  av_dict_set(&opts, "movflags", "frag_keyframe+empty_moov+default_base_moof", 0);
  OutputFile file(path.string(), "mp4", tracks.video.get(), nullptr, &opts);
  av_dict_free(&opts);
  for (int i = 0; i < frames; ++i) {
    const bool keyframe = i % 25 == 0;
    const auto pkt = packet_of(video(i * 40, keyframe, picture(keyframe, 500)));
    file.write(file.video_index(), pkt.get());
  }
  file.finish();
}

std::vector<std::int64_t> video_dts(const fs::path& path) {
  std::vector<std::int64_t> out;
  for (const auto& p : read_packets(path)) {
    if (p.type == AVMEDIA_TYPE_VIDEO) out.push_back(p.dts_ms);
  }
  return out;
}

}  // namespace

TEST_CASE(
    "recording finalizer: a short fragmented recording becomes a faststart MP4 of every frame") {
  const auto dir = fresh_dir("souk-finalize");
  const auto part = dir / "s.rec.mp4", out = dir / "s.mp4";
  write_fragmented(part, 50);
  const auto ok_before = packager_metrics().recordings_finalized.value();

  finalize_recording(part, out);
  CHECK(packager_metrics().recordings_finalized.value() == ok_before + 1);
  CHECK_FALSE(fs::exists(part));
  CHECK_FALSE(fs::exists(dir / "s.mp4.tmp"));
  const auto bytes = contents(out);
  REQUIRE(bytes.find("moov") != std::string::npos);
  CHECK(bytes.find("moov") < bytes.find("mdat"));  // the index first: seekable at once
  CHECK(bytes.find("moof") == std::string::npos);  // no fragments left
  const auto dts = video_dts(out);
  REQUIRE(dts.size() == 50);
  for (std::size_t i = 0; i < dts.size(); ++i) CHECK(dts[i] == static_cast<std::int64_t>(i) * 40);
  fs::remove_all(dir);
}

TEST_CASE("recording finalizer: a recording after a restart follows the VOD made before it") {
  const auto dir = fresh_dir("souk-finalize-append");
  const auto part = dir / "s.rec.mp4", out = dir / "s.mp4";
  write_fragmented(part, 50);
  finalize_recording(part, out);
  write_fragmented(part, 25);  // the next run's part, its clock from 0 again
  finalize_recording(part, out);
  CHECK_FALSE(fs::exists(part));
  const auto dts = video_dts(out);
  REQUIRE(dts.size() == 75);
  CHECK(dts[49] == 1960);
  // The second part starts after the first one's last frame ends, a millisecond on.
  CHECK(dts[50] > 1960);
  CHECK(dts[50] <= 1960 + 40 + 1);
  for (std::size_t i = 51; i < dts.size(); ++i) CHECK(dts[i] - dts[i - 1] == 40);
  fs::remove_all(dir);
}

TEST_CASE("recording finalizer: a recording cut short mid-fragment keeps the frames before the cut") {
  const auto dir = fresh_dir("souk-finalize-cut");
  const auto part = dir / "s.rec.mp4", out = dir / "s.mp4";
  write_fragmented(part, 100);                       // four fragments of 25 frames
  // A crash while the last fragment was written: its last ten pictures (504
  // bytes each) never reached the disk.
  fs::resize_file(part, fs::file_size(part) - 10 * 504);
  finalize_recording(part, out);
  const auto dts = video_dts(out);
  CHECK(dts.size() >= 75);  // the three whole fragments, at least
  CHECK(dts.size() <= 90);
  for (std::size_t i = 0; i < dts.size(); ++i) CHECK(dts[i] == static_cast<std::int64_t>(i) * 40);
  fs::remove_all(dir);
}

TEST_CASE(
    "recording finalizer: a file that is no recording throws, leaves no VOD and counts a failure") {
  const auto dir = fresh_dir("souk-finalize-bad");
  const auto part = dir / "s.rec.mp4", out = dir / "s.mp4";
  std::ofstream(part, std::ios::binary) << "not an mp4 file";
  const auto failed_before = packager_metrics().recordings_failed.value();
  CHECK_THROWS_AS(finalize_recording(part, out), AvError);
  CHECK(packager_metrics().recordings_failed.value() == failed_before + 1);
  CHECK_FALSE(fs::exists(out));
  CHECK_FALSE(fs::exists(dir / "s.mp4.tmp"));
  CHECK(fs::exists(part));  // kept: nothing was made of it
  fs::remove_all(dir);
}
