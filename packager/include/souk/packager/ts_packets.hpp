// Packets as MPEG-TS carries them, made from RTMP's in one allocation and one
// copy: H.264 as Annex B with an access unit delimiter first (and the SPS and PPS
// before each IDR picture), AAC behind an ADTS header.
//
// Why not leave it to FFmpeg: handed RTMP's packets, the mpegts muxer runs the
// h264_mp4toannexb filter (a new packet and a copy), copies each picture again
// to put an AUD in front, and writes each AAC frame through a nested ADTS muxer
// into a dynamic buffer. Those allocations and copies were the largest cost of
// packaging after the disk write itself. Given packets that already start with a
// start code and an AUD, or an ADTS sync word, the muxer takes them as they are.
#pragma once

#include "souk/packager/av_util.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace souk::packager {

// What converting an H.264 stream's frames needs from its AVC decoder
// configuration record (ISO/IEC 14496-15 5.3.3.1).
struct AvcStream {
  int nal_length_size = 4;                   // 1, 2 or 4 bytes before each NAL unit
  std::vector<std::uint8_t> parameter_sets;  // every SPS and PPS, Annex B

  // nullopt when the record is malformed.
  static std::optional<AvcStream> from_avcc(std::span<const std::uint8_t> avcc);
};

// One frame's NAL units (length-prefixed, as RTMP carries them) as an Annex B
// access unit: AUD, then the parameter sets if the frame has an IDR slice and
// none of its own, then each NAL unit behind a 4-byte start code. An AUD the
// frame has is kept and none added. nullptr when a length runs past the frame.
PacketPtr annexb_packet(std::span<const std::uint8_t> frame, const AvcStream& stream);

// An AAC stream's ADTS header (ISO/IEC 13818-7 6.2), from its AudioSpecificConfig
// (ISO/IEC 14496-3 1.6.2.1).
class AdtsStream {
 public:
  // nullopt when ADTS cannot say what the config does: an object type past 4
  // (HE-AAC signalled explicitly), an explicit sampling rate, or a channel
  // configuration of 0 (a program config element). The muxer's own path is
  // left for those.
  static std::optional<AdtsStream> from_audio_specific_config(std::span<const std::uint8_t> asc);

  // The raw frame behind its ADTS header; nullptr when it is too long for one
  // (13-bit length).
  PacketPtr packet(std::span<const std::uint8_t> frame) const;

 private:
  std::array<std::uint8_t, 7> header_{};  // the frame length is filled per packet
};

}  // namespace souk::packager
