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

TEST_CASE("flv: onMetaData codec ids past a byte are named as they are, not cut to one") {
  // Found by fuzz_chunk_stream under UBSan: 512 was cast to an 8-bit id.
  MediaInfo info;
  info.apply_metadata(amf0::EcmaArray{{{"videocodecid", 512.0}, {"audiocodecid", 266.0}}});
  REQUIRE(info.video);
  REQUIRE(info.audio);
  CHECK(info.video->codec == "flv-codec-512");  // not 512 mod 256 = 0
  CHECK(info.audio->codec == "flv-codec-266");  // not 266 mod 256 = 10, which would say "aac"
}

TEST_CASE("timestamps: 32-bit wrap extends, small backwards steps are clamped per track") {
  using Repair = TimestampRepair::Repair;
  TimestampRepair r;
  CHECK(r.next(MediaKind::video, 0xfffffff0u).dts == 0xfffffff0LL);
  const auto wrapped = r.next(MediaKind::video, 0x10);
  CHECK(wrapped.dts == 0x100000010LL);
  CHECK(wrapped.repair == Repair::none);
  const auto back = r.next(MediaKind::video, 0x5);
  CHECK(back.dts == 0x100000010LL);
  CHECK(back.repair == Repair::clamped);
  // Audio is its own track.
  CHECK(r.next(MediaKind::audio, 100).dts == 100);
  CHECK(r.next(MediaKind::audio, 90).repair == Repair::clamped);
  CHECK(r.next(MediaKind::audio, 90).dts == 100);
  CHECK(r.next(MediaKind::audio, 121).dts == 121);
}

TEST_CASE("timestamps: a jump of hours or a big step back continues the track one frame later") {
  using Repair = TimestampRepair::Repair;
  TimestampRepair r;
  for (std::uint32_t t = 0; t <= 3000; t += 40) CHECK(r.next(MediaKind::video, t).repair == Repair::none);

  SUBCASE("forward by three hours") {
    const std::uint32_t jump = 3000 + 3 * 3600 * 1000;
    const auto j = r.next(MediaKind::video, jump);
    CHECK(j.repair == Repair::rebased);
    CHECK(j.dts == 3040);  // one usual interval after the last frame
    // Later frames keep the new offset.
    const auto after = r.next(MediaKind::video, jump + 40);
    CHECK(after.repair == Repair::none);
    CHECK(after.dts == 3080);
  }
  SUBCASE("back to zero (an encoder restarting its clock)") {
    const auto j = r.next(MediaKind::video, 0);
    CHECK(j.repair == Repair::rebased);
    CHECK(j.dts == 3040);
    CHECK(r.next(MediaKind::video, 40).dts == 3080);
  }
  SUBCASE("a pause under the limit is kept as it is") {
    const auto p = r.next(MediaKind::video, 3000 + 9000);
    CHECK(p.repair == Repair::none);
    CHECK(p.dts == 12000);
  }
  SUBCASE("a track that jumps before it has a rhythm steps by a default frame") {
    CHECK(r.next(MediaKind::audio, 500).dts == 500);
    const auto j = r.next(MediaKind::audio, 500 + 3 * 3600 * 1000);
    CHECK(j.repair == Repair::rebased);
    CHECK(j.dts == 521);
  }
}
