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

namespace {

// Writes the fields of an SPS (H.264 7.3.2.1.1) as bits and Exp-Golomb codes.
struct SpsWriter {
  std::vector<std::uint8_t> bytes;
  int used = 8;  // bits used in the last byte
  void bit(unsigned b) {
    if (used == 8) {
      bytes.push_back(0);
      used = 0;
    }
    bytes.back() = static_cast<std::uint8_t>(bytes.back() | (b & 1) << (7 - used++));
  }
  void bits(std::uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) bit(static_cast<unsigned>(v >> i));
  }
  void ue(std::uint64_t v) {
    int n = 0;
    while ((v + 1) >> (n + 1)) ++n;
    bits(0, n);
    bits(v + 1, n + 1);
  }
  // The avcC record around the NAL (0x67 header, emulation prevention added).
  std::vector<std::uint8_t> avcc() {
    bit(1);  // rbsp_stop_one_bit
    std::vector<std::uint8_t> nal = {0x67};
    int zeros = 0;
    for (auto b : bytes) {
      if (zeros >= 2 && b <= 3) {
        nal.push_back(3);
        zeros = 0;
      }
      nal.push_back(b);
      zeros = b == 0 ? zeros + 1 : 0;
    }
    std::vector<std::uint8_t> record = {0x01, bytes[0], bytes[1], bytes[2], 0xff, 0xe1,
                                        0, static_cast<std::uint8_t>(nal.size())};
    // One byte at a time: GCC 12 warns (-Warray-bounds) about a range insert here.
    for (auto b : nal) record.push_back(b);
    static constexpr std::uint8_t pps[] = {0x01, 0x00, 0x04, 0x68, 0xce, 0x0f, 0xc8};
    for (auto b : pps) record.push_back(b);
    return record;
  }
};

// A Constrained Baseline SPS with the given size in macroblocks, uncropped.
std::vector<std::uint8_t> baseline_sps(std::uint64_t width_mbs_minus1, std::uint64_t height_mbs_minus1) {
  SpsWriter w;
  w.bits(66, 8);  // profile_idc: Baseline
  w.bits(0xc0, 8);
  w.bits(30, 8);  // level 3.0
  w.ue(0);        // seq_parameter_set_id
  w.ue(0);        // log2_max_frame_num_minus4
  w.ue(2);        // pic_order_cnt_type
  w.ue(1);        // max_num_ref_frames
  w.bit(0);       // gaps_in_frame_num_value_allowed_flag
  w.ue(width_mbs_minus1);
  w.ue(height_mbs_minus1);
  w.bit(1);  // frame_mbs_only_flag
  w.bit(1);  // direct_8x8_inference_flag
  w.bit(0);  // frame_cropping_flag
  w.bit(0);  // vui_parameters_present_flag
  return w.avcc();
}

}  // namespace

TEST_CASE("h264 parameters: a written SPS gives its size") {
  const auto par = h264_parameters(baseline_sps(79, 44));  // 80x45 macroblocks
  REQUIRE(par);
  CHECK(par->width == 1280);
  CHECK(par->height == 720);
}

TEST_CASE("h264 parameters: a width whose 32-bit product wraps is no size at all") {
  // 0x10000001 macroblocks: 16 times that is 2^32 + 16, which 32-bit arithmetic
  // took for a 16-pixel-wide picture.
  const auto par = h264_parameters(baseline_sps(0x10000000, 44));
  REQUIRE(par);
  CHECK(par->width == 0);
  CHECK(par->height == 0);
}

TEST_CASE("aac parameters from the AudioSpecificConfig") {
  const auto par = aac_parameters(std::vector<std::uint8_t>{0x11, 0x90});  // LC, 48 kHz, stereo
  REQUIRE(par);
  CHECK(par->sample_rate == 48000);
  CHECK(par->ch_layout.nb_channels == 2);
  CHECK_FALSE(aac_parameters(std::vector<std::uint8_t>{0x11}));
  CHECK_FALSE(aac_parameters(std::vector<std::uint8_t>{0x17, 0x80}));  // index 14 is reserved
}
