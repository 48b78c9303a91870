// Codec parameters from sequence headers.
#include "souk/packager/codec_config.hpp"

#include "souk/packager/ts_packets.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

extern "C" {
#include <libavutil/channel_layout.h>
}

namespace souk::packager {
namespace {

void set_extradata(AVCodecParameters* par, std::span<const std::uint8_t> data) {
  par->extradata = static_cast<std::uint8_t*>(av_mallocz(data.size() + AV_INPUT_BUFFER_PADDING_SIZE));
  if (!par->extradata) throw AvError("extradata", AVERROR(ENOMEM));
  std::memcpy(par->extradata, data.data(), data.size());
  par->extradata_size = static_cast<int>(data.size());
}

// Reads Exp-Golomb coded fields of an RBSP (H.264 7.2, 9.1).
class BitReader {
 public:
  explicit BitReader(std::vector<std::uint8_t> rbsp) : data_(std::move(rbsp)) {}
  bool ok() const { return ok_; }
  std::uint32_t bit() {
    if (pos_ >= data_.size() * 8) {
      ok_ = false;
      return 0;
    }
    const std::uint32_t b = (data_[pos_ / 8] >> (7 - pos_ % 8)) & 1;
    ++pos_;
    return b;
  }
  std::uint32_t bits(int n) {
    std::uint32_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 1) | bit();
    return v;
  }
  std::uint32_t ue() {
    int zeros = 0;
    while (ok_ && bit() == 0) {
      if (++zeros > 31) {
        ok_ = false;
        return 0;
      }
    }
    return (1u << zeros) - 1 + bits(zeros);
  }
  std::int32_t se() {
    const std::uint32_t k = ue();
    return (k & 1) ? static_cast<std::int32_t>((k + 1) / 2) : -static_cast<std::int32_t>(k / 2);
  }

 private:
  std::vector<std::uint8_t> data_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

// Removes emulation prevention bytes (00 00 03 -> 00 00).
std::vector<std::uint8_t> to_rbsp(std::span<const std::uint8_t> nal) {
  std::vector<std::uint8_t> out;
  int zeros = 0;
  for (auto b : nal) {
    if (zeros >= 2 && b == 3) {
      zeros = 0;
      continue;
    }
    zeros = b == 0 ? zeros + 1 : 0;
    out.push_back(b);
  }
  return out;
}

void skip_scaling_list(BitReader& r, int size) {
  int last = 8, next = 8;
  for (int j = 0; j < size; ++j) {
    if (next != 0) next = (last + r.se() + 256) % 256;
    last = next == 0 ? last : next;
  }
}

// Picture size from a sequence parameter set (H.264 7.3.2.1.1); {0, 0} if unreadable.
std::pair<int, int> sps_picture_size(std::span<const std::uint8_t> sps_nal) {
  if (sps_nal.size() < 4) return {0, 0};
  BitReader r(to_rbsp(sps_nal.subspan(1)));  // skip the NAL header
  const auto profile = r.bits(8);
  r.bits(16);  // constraint flags, level
  r.ue();      // seq_parameter_set_id
  std::uint32_t chroma_format = 1;
  static constexpr std::uint32_t high_profiles[] = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135};
  if (std::find(std::begin(high_profiles), std::end(high_profiles), profile) != std::end(high_profiles)) {
    chroma_format = r.ue();
    if (chroma_format == 3) r.bit();  // separate_colour_plane_flag
    r.ue();                           // bit_depth_luma
    r.ue();                           // bit_depth_chroma
    r.bit();                          // qpprime_y_zero_transform_bypass
    if (r.bit()) {                    // seq_scaling_matrix_present
      for (int i = 0; i < (chroma_format != 3 ? 8 : 12); ++i) {
        if (r.bit()) skip_scaling_list(r, i < 6 ? 16 : 64);
      }
    }
  }
  r.ue();  // log2_max_frame_num_minus4
  const auto poc_type = r.ue();
  if (poc_type == 0) {
    r.ue();
  } else if (poc_type == 1) {
    r.bit();
    r.se();
    r.se();
    const auto n = r.ue();
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) r.se();
  }
  r.ue();   // max_num_ref_frames
  r.bit();  // gaps_in_frame_num_allowed
  const auto width_mbs = r.ue() + 1;
  const auto height_map_units = r.ue() + 1;
  const auto frame_mbs_only = r.bit();
  if (!frame_mbs_only) r.bit();  // mb_adaptive_frame_field
  r.bit();                       // direct_8x8_inference
  std::uint32_t crop_left = 0, crop_right = 0, crop_top = 0, crop_bottom = 0;
  if (r.bit()) {
    crop_left = r.ue();
    crop_right = r.ue();
    crop_top = r.ue();
    crop_bottom = r.ue();
  }
  if (!r.ok()) return {0, 0};
  const std::uint32_t crop_x = chroma_format == 0 || chroma_format == 3 ? 1 : 2;
  const std::uint32_t crop_y = (chroma_format == 1 ? 2 : 1) * (2 - frame_mbs_only);
  // In 64 bits: the SPS fields are Exp-Golomb codes up to 2^32 - 1, and a 32-bit
  // product of a hostile one wraps into a plausible size.
  const auto width = std::int64_t{width_mbs} * 16 -
                     std::int64_t{crop_x} * (std::int64_t{crop_left} + crop_right);
  const auto height = std::int64_t{2 - frame_mbs_only} * height_map_units * 16 -
                      std::int64_t{crop_y} * (std::int64_t{crop_top} + crop_bottom);
  if (width <= 0 || height <= 0 || width > 16384 || height > 16384) return {0, 0};
  return {static_cast<int>(width), static_cast<int>(height)};
}

}  // namespace

CodecParametersPtr h264_parameters(std::span<const std::uint8_t> avcc) {
  const auto avc = AvcStream::from_avcc(avcc);
  if (!avc || avc->parameter_sets.empty()) return nullptr;
  CodecParametersPtr par(avcodec_parameters_alloc());
  par->codec_type = AVMEDIA_TYPE_VIDEO;
  par->codec_id = AV_CODEC_ID_H264;
  set_extradata(par.get(), avcc);

  // The first SPS of the record gives the picture size (avcC: 6 bytes, then
  // a 16-bit length and the SPS NAL).
  if (avcc.size() >= 8 && (avcc[5] & 0x1f) > 0) {
    const std::size_t len = (std::size_t{avcc[6]} << 8) | avcc[7];
    if (8 + len <= avcc.size()) {
      const auto [w, h] = sps_picture_size(avcc.subspan(8, len));
      par->width = w;
      par->height = h;
    }
  }
  return par;
}

CodecParametersPtr aac_parameters(std::span<const std::uint8_t> asc) {
  if (asc.size() < 2) return nullptr;
  static constexpr int rates[] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                  22050, 16000, 12000, 11025, 8000,  7350};
  const int index = ((asc[0] & 0x07) << 1) | (asc[1] >> 7);
  const int channels = (asc[1] >> 3) & 0x0f;
  if (index >= 13 || channels == 0) return nullptr;
  CodecParametersPtr par(avcodec_parameters_alloc());
  par->codec_type = AVMEDIA_TYPE_AUDIO;
  par->codec_id = AV_CODEC_ID_AAC;
  par->sample_rate = rates[index];
  av_channel_layout_default(&par->ch_layout, channels == 7 ? 8 : channels);
  par->frame_size = 1024;
  set_extradata(par.get(), asc);
  return par;
}

}  // namespace souk::packager
