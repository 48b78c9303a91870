// RTMP's H.264 and AAC frames as MPEG-TS carries them (see ts_packets.hpp).
#include "souk/packager/ts_packets.hpp"

#include <cstring>

namespace souk::packager {
namespace {

constexpr std::uint8_t start_code[] = {0, 0, 0, 1};
// nal_unit_type 9 (access unit delimiter), primary_pic_type 7 (any slice types)
// followed by the RBSP stop bit: what x264 and FFmpeg write.
constexpr std::uint8_t access_unit_delimiter[] = {0, 0, 0, 1, 0x09, 0xf0};

enum NalType : std::uint8_t { nal_idr = 5, nal_sps = 7, nal_aud = 9 };

// Walks the length-prefixed NAL units of `frame`, calling visit(unit) for each;
// false when a length is zero-padded past the end or runs past it.
template <typename Visit>
bool for_each_nal(std::span<const std::uint8_t> frame, int length_size, Visit&& visit) {
  std::size_t pos = 0;
  while (pos < frame.size()) {
    if (frame.size() - pos < static_cast<std::size_t>(length_size)) return false;
    std::size_t len = 0;
    for (int i = 0; i < length_size; ++i) len = len << 8 | frame[pos + static_cast<std::size_t>(i)];
    pos += static_cast<std::size_t>(length_size);
    if (len == 0 || len > frame.size() - pos) return false;
    visit(frame.subspan(pos, len));
    pos += len;
  }
  return true;
}

PacketPtr new_packet(std::size_t size) {
  PacketPtr pkt(av_packet_alloc());
  if (!pkt) throw AvError("allocate packet", AVERROR(ENOMEM));
  check_av(av_new_packet(pkt.get(), static_cast<int>(size)), "allocate packet");
  return pkt;
}

}  // namespace

std::optional<AvcStream> AvcStream::from_avcc(std::span<const std::uint8_t> avcc) {
  // configurationVersion 1, profile, compatibility, level, 6 bits reserved and
  // lengthSizeMinusOne, 3 reserved and numOfSequenceParameterSets, the SPSs,
  // numOfPictureParameterSets, the PPSs.
  if (avcc.size() < 7 || avcc[0] != 1) return std::nullopt;
  AvcStream s;
  s.nal_length_size = (avcc[4] & 3) + 1;
  if (s.nal_length_size == 3) return std::nullopt;
  std::size_t pos = 5;
  for (int kind = 0; kind < 2; ++kind) {
    if (pos >= avcc.size()) return std::nullopt;
    const int count = kind == 0 ? (avcc[pos] & 0x1f) : avcc[pos];
    ++pos;
    for (int i = 0; i < count; ++i) {
      if (avcc.size() - pos < 2) return std::nullopt;
      const std::size_t len = std::size_t{avcc[pos]} << 8 | avcc[pos + 1];
      pos += 2;
      if (len == 0 || len > avcc.size() - pos) return std::nullopt;
      s.parameter_sets.insert(s.parameter_sets.end(), std::begin(start_code), std::end(start_code));
      s.parameter_sets.insert(s.parameter_sets.end(), avcc.begin() + static_cast<std::ptrdiff_t>(pos),
                              avcc.begin() + static_cast<std::ptrdiff_t>(pos + len));
      pos += len;
    }
  }
  return s;
}

PacketPtr annexb_packet(std::span<const std::uint8_t> frame, const AvcStream& stream) {
  // First pass: what the frame holds, and the size it takes.
  bool has_aud = false, has_sps = false, has_idr = false;
  std::size_t size = 0;
  const bool whole = for_each_nal(frame, stream.nal_length_size, [&](std::span<const std::uint8_t> nal) {
    const auto type = static_cast<std::uint8_t>(nal[0] & 0x1f);
    has_aud |= type == nal_aud;
    has_sps |= type == nal_sps;
    has_idr |= type == nal_idr;
    size += sizeof start_code + nal.size();
  });
  if (!whole || size == 0) return nullptr;
  const bool add_aud = !has_aud;
  const bool add_parameter_sets = has_idr && !has_sps;
  if (add_aud) size += sizeof access_unit_delimiter;
  if (add_parameter_sets) size += stream.parameter_sets.size();

  // Second pass: one copy into the packet.
  auto pkt = new_packet(size);
  std::uint8_t* out = pkt->data;
  const auto put = [&out](const std::uint8_t* bytes, std::size_t n) {
    std::memcpy(out, bytes, n);
    out += n;
  };
  if (add_aud) put(access_unit_delimiter, sizeof access_unit_delimiter);
  bool sets_written = !add_parameter_sets;
  for_each_nal(frame, stream.nal_length_size, [&](std::span<const std::uint8_t> nal) {
    const auto type = static_cast<std::uint8_t>(nal[0] & 0x1f);
    // The parameter sets go after a delimiter the frame has, before its first other unit.
    if (!sets_written && type != nal_aud) {
      put(stream.parameter_sets.data(), stream.parameter_sets.size());
      sets_written = true;
    }
    put(start_code, sizeof start_code);
    put(nal.data(), nal.size());
  });
  return pkt;
}

std::optional<AdtsStream> AdtsStream::from_audio_specific_config(std::span<const std::uint8_t> asc) {
  // audioObjectType (5 bits), samplingFrequencyIndex (4), channelConfiguration (4).
  if (asc.size() < 2) return std::nullopt;
  const int object_type = asc[0] >> 3;
  const int frequency_index = (asc[0] & 0x07) << 1 | asc[1] >> 7;
  const int channels = (asc[1] >> 3) & 0x0f;
  if (object_type < 1 || object_type > 4 || frequency_index > 12 || channels < 1 || channels > 7) {
    return std::nullopt;
  }
  AdtsStream s;
  // syncword 0xfff, MPEG-4, layer 0, no CRC; profile (object type - 1), rate,
  // private bit, channels; original, home, copyright bits; frame length (13 bits,
  // filled per packet); buffer fullness 0x7ff (variable rate); one raw block.
  s.header_ = {0xff, 0xf1,
               static_cast<std::uint8_t>((object_type - 1) << 6 | frequency_index << 2 | channels >> 2),
               static_cast<std::uint8_t>((channels & 3) << 6),
               0x00, 0x1f, 0xfc};
  return s;
}

PacketPtr AdtsStream::packet(std::span<const std::uint8_t> frame) const {
  const std::size_t length = header_.size() + frame.size();
  if (frame.empty() || length > 0x1fff) return nullptr;
  auto pkt = new_packet(length);
  std::memcpy(pkt->data, header_.data(), header_.size());
  pkt->data[3] = static_cast<std::uint8_t>(header_[3] | length >> 11);
  pkt->data[4] = static_cast<std::uint8_t>(length >> 3);
  pkt->data[5] = static_cast<std::uint8_t>((length & 7) << 5 | 0x1f);
  std::memcpy(pkt->data + header_.size(), frame.data(), frame.size());
  return pkt;
}

}  // namespace souk::packager
