// MediaTracks: what the sequence headers give the muxers.
#include "souk/packager/media_tracks.hpp"

#include "packager_fixtures.hpp"

#include <doctest/doctest.h>

using namespace souk::packager;
using namespace souk::packager::test;

TEST_CASE("media tracks: an avcC gives the video's parameters and its Annex B conversion") {
  MediaTracks tracks;
  REQUIRE(tracks.add_sequence_header(video(0, true, avcc, true)));
  REQUIRE(tracks.video);
  CHECK(tracks.video->codec_id == AV_CODEC_ID_H264);
  CHECK(tracks.video->width == 640);
  CHECK(tracks.video->height == 360);
  REQUIRE(tracks.avc);
  CHECK(tracks.avc->nal_length_size == 4);
  CHECK_FALSE(tracks.audio);
  CHECK_FALSE(tracks.adts);
}

TEST_CASE("media tracks: an AAC LC config gives the audio's parameters and its ADTS header") {
  MediaTracks tracks;
  REQUIRE(tracks.add_sequence_header(audio(0, aac_config, true)));
  REQUIRE(tracks.audio);
  CHECK(tracks.audio->codec_id == AV_CODEC_ID_AAC);
  CHECK(tracks.audio->sample_rate == 44100);
  CHECK(tracks.adts);
  CHECK_FALSE(tracks.video);
}

TEST_CASE("media tracks: a malformed sequence header is refused and the track kept as it was") {
  MediaTracks tracks;
  REQUIRE(tracks.add_sequence_header(video(0, true, avcc, true)));
  const auto* before = tracks.video.get();
  CHECK_FALSE(tracks.add_sequence_header(video(0, true, {0x01, 0x42}, true)));  // cut short
  CHECK(tracks.video.get() == before);
  CHECK(tracks.avc);
  CHECK_FALSE(tracks.add_sequence_header(audio(0, {}, true)));
  CHECK_FALSE(tracks.audio);
}
