#include "souk/packager/codec_config.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace souk::packager;

TEST_CASE("h264 parameters: picture size from the SPS of an avcC record") {
  // Records x264 wrote (via ffmpeg into FLV): Constrained Baseline 640x360 (cropped
  // from 23 macroblock rows), and High 1280x720 (with the High-profile fields).
  const std::vector<std::uint8_t> baseline = {
      0x01, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0x00, 0x19, 0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02,
      0x80, 0xbf, 0xe5, 0xc0, 0x44, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00,
      0xf2, 0x3c, 0x58, 0xba, 0x80, 0x01, 0x00, 0x04, 0x68, 0xce, 0x0f, 0xc8};
  const std::vector<std::uint8_t> high = {
      0x01, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0x00, 0x1a, 0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9,
      0x40, 0x50, 0x05, 0xbb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03,
      0x03, 0xc0, 0xf1, 0x83, 0x19, 0x60, 0x01, 0x00, 0x06, 0x68, 0xeb, 0xe3, 0xcb, 0x22,
      0xc0, 0xfd, 0xf8, 0xf8, 0x00};
  auto par = h264_parameters(baseline);
  REQUIRE(par);
  CHECK(par->codec_id == AV_CODEC_ID_H264);
  CHECK(par->width == 640);
  CHECK(par->height == 360);
  CHECK(par->extradata_size == static_cast<int>(baseline.size()));
  par = h264_parameters(high);
  REQUIRE(par);
  CHECK(par->width == 1280);
  CHECK(par->height == 720);
}

TEST_CASE("h264 parameters: malformed records are refused") {
  CHECK_FALSE(h264_parameters(std::vector<std::uint8_t>{}));
  CHECK_FALSE(h264_parameters(std::vector<std::uint8_t>{0x01, 0x64, 0x00, 0x1e, 0xff, 0xe1, 0x00, 0x40}));
  CHECK_FALSE(h264_parameters(std::vector<std::uint8_t>{0x02, 0, 0, 0, 0, 0, 0}));
}

TEST_CASE("aac parameters from the AudioSpecificConfig") {
  const auto par = aac_parameters(std::vector<std::uint8_t>{0x11, 0x90});  // LC, 48 kHz, stereo
  REQUIRE(par);
  CHECK(par->sample_rate == 48000);
  CHECK(par->ch_layout.nb_channels == 2);
  CHECK_FALSE(aac_parameters(std::vector<std::uint8_t>{0x11}));
  CHECK_FALSE(aac_parameters(std::vector<std::uint8_t>{0x17, 0x80}));  // index 14 is reserved
}
