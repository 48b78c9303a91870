// finalize_recording: fragmented MP4 to faststart MP4, appended parts, cut-short
// recordings, and failures that leave nothing half written.
#include "souk/packager/recording_finalizer.hpp"

#include "packager_fixtures.hpp"
#include "souk/packager/av_util.hpp"
#include "souk/packager/media_tracks.hpp"
#include "souk/packager/packager_metrics.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

using namespace souk;
using namespace souk::packager;
using namespace souk::packager::test;
namespace fs = std::filesystem;

namespace {

// The recording a kill leaves before its first fragment reached the disk: the
// header (ftyp and an empty moov, both tracks) and nothing else.
void write_header_only(const fs::path& path) {
  write_fragmented(path, 0, true, true, false);
  const auto bytes = contents(path);
  REQUIRE(bytes.find("moov") != std::string::npos);
  REQUIRE(bytes.find("moof") == std::string::npos);
}

std::size_t audio_count(const fs::path& path) {
  std::size_t n = 0;
  for (const auto& p : read_packets(path)) n += p.type == AVMEDIA_TYPE_AUDIO ? 1 : 0;
  return n;
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

  CHECK(finalize_recording(part, out) == Finalized::appended);
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
  REQUIRE(finalize_recording(part, out) == Finalized::appended);
  write_fragmented(part, 25);  // the next run's part, its clock from 0 again
  CHECK(finalize_recording(part, out) == Finalized::appended);
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
  CHECK(finalize_recording(part, out) == Finalized::appended);
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
  CHECK_THROWS_AS((void)finalize_recording(part, out), AvError);
  CHECK(packager_metrics().recordings_failed.value() == failed_before + 1);
  CHECK_FALSE(fs::exists(out));
  CHECK_FALSE(fs::exists(dir / "s.mp4.tmp"));
  CHECK(fs::exists(part));  // kept: nothing was made of it
  fs::remove_all(dir);
}

TEST_CASE(
    "recording finalizer: a recording killed before its first fragment makes no VOD, is removed "
    "and counts neither way") {
  const auto dir = fresh_dir("souk-finalize-header");
  const auto part = dir / "s.rec.mp4", out = dir / "s.mp4";
  write_header_only(part);
  const auto ok_before = packager_metrics().recordings_finalized.value();
  const auto failed_before = packager_metrics().recordings_failed.value();
  CHECK(finalize_recording(part, out) == Finalized::nothing_recorded);
  CHECK_FALSE(fs::exists(out));
  CHECK_FALSE(fs::exists(dir / "s.mp4.tmp"));
  CHECK_FALSE(fs::exists(part));
  CHECK(packager_metrics().recordings_finalized.value() == ok_before);
  CHECK(packager_metrics().recordings_failed.value() == failed_before);
  fs::remove_all(dir);
}

TEST_CASE("recording finalizer: a recording with no media after a real part leaves that VOD as it was") {
  const auto dir = fresh_dir("souk-finalize-header-after");
  const auto part = dir / "s.rec.mp4", out = dir / "s.mp4";
  write_fragmented(part, 50, true);
  REQUIRE(finalize_recording(part, out) == Finalized::appended);
  const auto before = contents(out);
  const auto inode_before = inode(out);
  write_header_only(part);
  CHECK(finalize_recording(part, out) == Finalized::nothing_recorded);
  CHECK(contents(out) == before);
  CHECK(inode(out) == inode_before);  // not rewritten either
  CHECK_FALSE(fs::exists(part));
  CHECK(video_dts(out).size() == 50);
  fs::remove_all(dir);
}

TEST_CASE("recording finalizer: a recording cut inside its header makes no VOD and is removed") {
  const auto dir = fresh_dir("souk-finalize-header-cut");
  const auto part = dir / "s.rec.mp4", out = dir / "s.mp4";
  write_header_only(part);
  const auto whole = fs::file_size(part);
  // Nothing at all (created, killed before the header was written), inside
  // ftyp's box header, ftyp alone, and moov cut at two places.
  for (const std::uintmax_t size : {std::uintmax_t{0}, std::uintmax_t{4}, std::uintmax_t{28},
                                    std::uintmax_t{100}, whole - 10}) {
    CAPTURE(size);
    write_header_only(part);
    fs::resize_file(part, size);
    CHECK(finalize_recording(part, out) == Finalized::nothing_recorded);
    CHECK_FALSE(fs::exists(out));
    CHECK_FALSE(fs::exists(part));
  }
  fs::remove_all(dir);
}

TEST_CASE(
    "recording finalizer: restarts before, between and after real parts: the VOD holds both parts") {
  const auto dir = fresh_dir("souk-finalize-chain");
  const auto part = dir / "s.rec.mp4", out = dir / "s.mp4";
  write_header_only(part);  // killed before the first fragment
  CHECK(finalize_recording(part, out) == Finalized::nothing_recorded);
  write_fragmented(part, 50, true);
  CHECK(finalize_recording(part, out) == Finalized::appended);
  write_header_only(part);  // killed again, early
  CHECK(finalize_recording(part, out) == Finalized::nothing_recorded);
  write_fragmented(part, 25, true);
  CHECK(finalize_recording(part, out) == Finalized::appended);
  const auto dts = video_dts(out);
  REQUIRE(dts.size() == 75);
  CHECK(dts[49] == 1960);
  CHECK(dts[50] > 1960);
  CHECK(dts[50] <= 1960 + 40 + 1);
  // Every audio frame but perhaps each part's last (its duration is unknown).
  CHECK(audio_count(out) >= 73);
  CHECK(audio_count(out) <= 75);
  CHECK_FALSE(fs::exists(part));
  fs::remove_all(dir);
}

TEST_CASE(
    "recording finalizer: an unusable earlier VOD is set aside as .broken and the new part becomes "
    "the VOD") {
  const auto dir = fresh_dir("souk-finalize-broken");
  const auto part = dir / "s.rec.mp4", out = dir / "s.mp4";
  SUBCASE("not an MP4") { std::ofstream(out, std::ios::binary) << "not an mp4 file"; }
  SUBCASE("an MP4 without tracks (what a recording without media used to become)") {
    MediaTracks tracks;
    REQUIRE(tracks.add_sequence_header(video(0, true, avcc, true)));
    OutputFile empty(out.string(), "mp4", tracks.video.get(), nullptr);
    empty.finish();  // no sample: the muxer leaves the track out
    AVFormatContext* ctx = nullptr;
    REQUIRE(avformat_open_input(&ctx, out.c_str(), nullptr, nullptr) == 0);
    const auto streams = ctx->nb_streams;
    avformat_close_input(&ctx);
    REQUIRE(streams == 0);
  }
  SUBCASE("an MP4 without tracks, and one set aside before") {
    std::ofstream(dir / "s.mp4.broken", std::ios::binary) << "set aside before";
    std::ofstream(out, std::ios::binary) << "not an mp4 file";
  }
  const auto old_bytes = contents(out);
  const bool taken = fs::exists(dir / "s.mp4.broken");
  write_fragmented(part, 50, true);
  CHECK(finalize_recording(part, out) == Finalized::appended);
  CHECK(video_dts(out).size() == 50);
  CHECK(audio_count(out) >= 49);
  CHECK_FALSE(fs::exists(part));
  if (taken) {
    CHECK(contents(dir / "s.mp4.broken") == "set aside before");
    CHECK(contents(dir / "s.mp4.broken.1") == old_bytes);
  } else {
    CHECK(contents(dir / "s.mp4.broken") == old_bytes);
  }
  fs::remove_all(dir);
}

TEST_CASE(
    "recording finalizer: each track's codec comes from the first part that has it (audio-only "
    "part, then video and audio)") {
  const auto dir = fresh_dir("souk-finalize-tracks");
  const auto part = dir / "s.rec.mp4", out = dir / "s.mp4";
  write_fragmented(part, 50, true, false);  // audio only
  REQUIRE(finalize_recording(part, out) == Finalized::appended);
  REQUIRE(video_dts(out).empty());
  write_fragmented(part, 25, true);  // the next publisher also sends video
  CHECK(finalize_recording(part, out) == Finalized::appended);
  const auto dts = video_dts(out);
  REQUIRE(dts.size() == 25);
  CHECK(dts.front() > 1960);  // after the audio-only part
  CHECK(audio_count(out) >= 73);
  AVFormatContext* ctx = nullptr;
  REQUIRE(avformat_open_input(&ctx, out.c_str(), nullptr, nullptr) == 0);
  int videos = 0;
  for (unsigned i = 0; i < ctx->nb_streams; ++i) {
    const auto* par = ctx->streams[i]->codecpar;
    if (par->codec_type != AVMEDIA_TYPE_VIDEO) continue;
    ++videos;
    CHECK(par->codec_id == AV_CODEC_ID_H264);
    CHECK(par->width == 640);  // the parameters of the part that has video
    REQUIRE(par->extradata_size == static_cast<int>(avcc.size()));
    CHECK(std::equal(avcc.begin(), avcc.end(), par->extradata));
  }
  avformat_close_input(&ctx);
  CHECK(videos == 1);
  fs::remove_all(dir);
}
