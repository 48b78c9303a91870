// VodRecorder: the recording's clock across reconnects, and the VOD at the end.
#include "souk/packager/vod_recorder.hpp"

#include "packager_fixtures.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <vector>

using namespace souk;
using namespace souk::packager;
using namespace souk::packager::test;
namespace fs = std::filesystem;

TEST_CASE(
    "recording clock: a new publisher continues one video frame after the last frame recorded") {
  RecordingClock clock;
  for (std::int64_t dts : {0, 40, 80}) {
    const auto f = video(dts, dts == 0, {});
    CHECK(clock.offset_for(f) == 0);  // the first publisher: its own clock
    clock.written(f, dts);
  }
  CHECK(clock.frame_ms() == 40);  // learnt from the video, not the 30 fps default
  clock.written(audio(95, {}), 95);

  clock.resync();  // a reconnect: the new publisher's clock starts at 500
  CHECK(clock.offset_for(video(500, true, {})) == 95 + 40 - 500);
  clock.written(video(500, true, {}), 135);
  // The offset holds for the rest of the publish, whatever the frames' order.
  CHECK(clock.offset_for(audio(490, {})) == 95 + 40 - 500);
  CHECK(clock.offset_for(video(540, false, {})) == 95 + 40 - 500);
}

TEST_CASE("recording clock: gaps and audio do not change the video's frame interval") {
  RecordingClock clock;
  CHECK(clock.frame_ms() == 33);
  clock.written(video(0, true, {}), 0);
  clock.written(audio(10, {}), 10);
  clock.written(video(2000, false, {}), 2000);  // a second's gap or more: a stall, not a frame rate
  CHECK(clock.frame_ms() == 33);
  clock.written(video(2050, false, {}), 2050);
  CHECK(clock.frame_ms() == 50);
  clock.written(video(2040, false, {}), 2040);  // out of order: ignored
  CHECK(clock.frame_ms() == 50);
  clock.resync();
  CHECK(clock.offset_for(video(0, true, {})) == 2050 + 50);
}

TEST_CASE("vod recorder: two publishers make one VOD on one clock") {
  const auto dir = fresh_dir("souk-recorder");
  const auto part = dir / "vod" / "s.rec.mp4", vod = dir / "vod" / "s.mp4";
  VodRecorder recorder("s", part, vod);
  CHECK(fs::is_directory(dir / "vod"));
  MediaTracks tracks;
  REQUIRE(tracks.add_sequence_header(video(0, true, avcc, true)));
  REQUIRE(tracks.add_sequence_header(audio(0, aac_config, true)));

  // 25 fps video with audio beside it, a keyframe each second; each publisher's
  // clock starts at 1000.
  auto send = [&](int frames) {
    for (int i = 0; i < frames; ++i) {
      const bool keyframe = i % 25 == 0;
      recorder.frame(video(1000 + i * 40, keyframe, picture(keyframe, 300)));
      recorder.frame(audio(1000 + i * 40, Bytes(100, 0x21)));
    }
  };
  recorder.publish_started();  // the first publisher starts before the codecs are known
  recorder.start(tracks);
  send(50);
  CHECK(fs::file_size(part) > 0);  // fragments flushed while live
  recorder.publish_started();      // a reconnect
  send(25);

  const auto made = recorder.end();
  REQUIRE(made);
  CHECK(*made == vod);
  CHECK_FALSE(fs::exists(part));
  std::vector<std::int64_t> dts;
  std::size_t audio_packets = 0;
  for (const auto& p : read_packets(vod)) {
    if (p.type == AVMEDIA_TYPE_VIDEO) dts.push_back(p.dts_ms);
    if (p.type == AVMEDIA_TYPE_AUDIO) ++audio_packets;
  }
  // Every audio frame but perhaps the last: the MP4 it is finalized into lists
  // the last sample only for its duration, unknown here (recording_finalizer).
  CHECK(audio_packets >= 74);
  CHECK(audio_packets <= 75);
  REQUIRE(dts.size() == 75);
  // The VOD starts at 0 (the first publisher's 1000); the second publisher's
  // frames continue one frame (40 ms) after the first's last, not over them.
  CHECK(dts.front() == 0);
  CHECK(dts[49] == 1960);
  CHECK(dts[50] == 2000);
  for (std::size_t i = 1; i < dts.size(); ++i) CHECK(dts[i] - dts[i - 1] == 40);
  fs::remove_all(dir);
}

TEST_CASE("vod recorder: nothing recorded, no VOD") {
  const auto dir = fresh_dir("souk-recorder-empty");
  VodRecorder recorder("s", dir / "vod" / "s.rec.mp4", dir / "vod" / "s.mp4");
  recorder.publish_started();
  recorder.frame(video(0, true, picture(true, 100)));  // before start(): nowhere to go
  CHECK_FALSE(recorder.end());
  CHECK_FALSE(fs::exists(dir / "vod" / "s.mp4"));
  fs::remove_all(dir);
}

TEST_CASE(
    "vod recorder: a recording started but given no frame makes no VOD, and leaves an earlier one "
    "as it was") {
  const auto dir = fresh_dir("souk-recorder-no-frame");
  const auto part = dir / "vod" / "s.rec.mp4", vod = dir / "vod" / "s.mp4";
  MediaTracks tracks;
  REQUIRE(tracks.add_sequence_header(video(0, true, avcc, true)));
  REQUIRE(tracks.add_sequence_header(audio(0, aac_config, true)));
  {
    VodRecorder recorder("s", part, vod);
    recorder.publish_started();
    recorder.start(tracks);  // the codecs were known, then the stream ended
    CHECK_FALSE(recorder.end());
    CHECK_FALSE(fs::exists(vod));
    CHECK_FALSE(fs::exists(part));
  }
  {
    VodRecorder recorder("s", part, vod);  // a part with media
    recorder.publish_started();
    recorder.start(tracks);
    for (int i = 0; i < 30; ++i) {
      recorder.frame(video(i * 40, i % 25 == 0, picture(i % 25 == 0, 300)));
    }
    REQUIRE(recorder.end() == vod);
  }
  const auto before = contents(vod);
  {
    VodRecorder recorder("s", part, vod);  // after a restart: nothing more arrives
    recorder.publish_started();
    recorder.start(tracks);
    CHECK(recorder.end() == vod);  // the VOD is the earlier part
    CHECK(contents(vod) == before);
    CHECK_FALSE(fs::exists(part));
  }
  fs::remove_all(dir);
}
