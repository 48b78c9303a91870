#include "souk/ingest/flv.hpp"

#include <doctest/doctest.h>

using namespace souk::ingest;

TEST_CASE("flv: AVC tags give keyframe, sequence header and composition time") {
  const std::vector<std::uint8_t> seq = {0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64};
  auto t = parse_tag(MediaKind::video, seq);
  REQUIRE(t);
  CHECK(t->codec_id == codec_avc);
  CHECK(t->keyframe);
  CHECK(t->sequence_header);
  CHECK(t->offset == 5);

  const std::vector<std::uint8_t> inter = {0x27, 0x01, 0x00, 0x00, 0x42, 0, 0, 0, 1};
  t = parse_tag(MediaKind::video, inter);
  REQUIRE(t);
  CHECK_FALSE(t->keyframe);
  CHECK_FALSE(t->sequence_header);
  CHECK(t->composition_time_ms == 66);

  const std::vector<std::uint8_t> negative = {0x27, 0x01, 0xff, 0xff, 0xfe};
  CHECK(parse_tag(MediaKind::video, negative)->composition_time_ms == -2);
  const std::vector<std::uint8_t> end = {0x17, 0x02, 0x00, 0x00, 0x00};
  CHECK(parse_tag(MediaKind::video, end)->end_of_sequence);
  CHECK_FALSE(parse_tag(MediaKind::video, std::vector<std::uint8_t>{0x17, 0x01}));
  CHECK_FALSE(parse_tag(MediaKind::video, std::vector<std::uint8_t>{}));
}

TEST_CASE("flv: AAC tags and the AudioSpecificConfig") {
  // AAC-LC, 48 kHz (index 3), stereo: 0x11 0x90.
  auto buffer = std::make_shared<std::vector<std::uint8_t>>(std::vector<std::uint8_t>{0xaf, 0x00, 0x11, 0x90});
  const auto t = parse_tag(MediaKind::audio, *buffer);
  REQUIRE(t);
  CHECK(t->codec_id == codec_aac);
  CHECK(t->sequence_header);
  CHECK(t->offset == 2);
  Frame f;
  f.kind = MediaKind::audio;
  f.codec_id = codec_aac;
  f.sequence_header = true;
  f.buffer = buffer;
  f.offset = 2;
  MediaInfo info;
  info.apply_frame(f);
  REQUIRE(info.audio);
  CHECK(info.audio->codec == "aac");
  CHECK(info.audio->sample_rate == 48000);
  CHECK(info.audio->channels == 2);
}

TEST_CASE("flv: onMetaData fills video size, frame rate and encoder") {
  MediaInfo info;
  info.apply_metadata(amf0::EcmaArray{{{"width", 1280.0}, {"height", 720.0}, {"framerate", 30.0},
                                      {"videocodecid", 7.0}, {"audiocodecid", 10.0},
                                      {"encoder", "obs-output module (libobs version 30.0.0)"},
                                      {"width_bogus", "x"}, {"height", -5.0}}});
  REQUIRE(info.video);
  CHECK(info.video->codec == "h264");
  CHECK(info.video->width == 1280);
  CHECK(info.video->height == 720);  // the later negative value is ignored
  CHECK(info.video->fps == 30.0);
  CHECK(info.audio->codec == "aac");
  CHECK(info.encoder == "obs-output module (libobs version 30.0.0)");
}

TEST_CASE("timestamps: 32-bit wrap extends, backwards steps are clamped per track") {
  TimestampRepair r;
  CHECK(r.next(MediaKind::video, 0xfffffff0u).dts == 0xfffffff0LL);
  const auto wrapped = r.next(MediaKind::video, 0x10);
  CHECK(wrapped.dts == 0x100000010LL);
  CHECK_FALSE(wrapped.corrected);
  const auto back = r.next(MediaKind::video, 0x5);
  CHECK(back.dts == 0x100000010LL);
  CHECK(back.corrected);
  // Audio is its own track.
  CHECK(r.next(MediaKind::audio, 100).dts == 100);
  CHECK(r.next(MediaKind::audio, 90).corrected);
}
