#include "souk/packager/ts_packets.hpp"

#include <doctest/doctest.h>

#include <initializer_list>
#include <vector>

using namespace souk::packager;
using Bytes = std::vector<std::uint8_t>;

namespace {

// A record x264 wrote (Constrained Baseline 640x360): one SPS, one PPS, 4-byte lengths.
const Bytes avcc = {0x01, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0x00, 0x19, 0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02,
                    0x80, 0xbf, 0xe5, 0xc0, 0x44, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00,
                    0xf2, 0x3c, 0x58, 0xba, 0x80, 0x01, 0x00, 0x04, 0x68, 0xce, 0x0f, 0xc8};
const Bytes sps = Bytes(avcc.begin() + 8, avcc.begin() + 8 + 0x19);
const Bytes pps = {0x68, 0xce, 0x0f, 0xc8};
const Bytes aud = {0x09, 0xf0};
const Bytes sei = {0x06, 0x05, 0x01, 0xaa, 0x80};
const Bytes idr = {0x65, 0x88, 0x84, 0x00, 0x33};
const Bytes slice = {0x41, 0x9a, 0x21, 0x6c};

// NAL units behind `length_size`-byte lengths, as RTMP carries them.
Bytes length_prefixed(std::initializer_list<Bytes> units, int length_size = 4) {
  Bytes out;
  for (const auto& u : units) {
    for (int i = length_size - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(u.size() >> (8 * i)));
    out.insert(out.end(), u.begin(), u.end());
  }
  return out;
}

// NAL units behind 4-byte start codes.
Bytes annexb(std::initializer_list<Bytes> units) {
  Bytes out;
  for (const auto& u : units) {
    out.insert(out.end(), {0, 0, 0, 1});
    out.insert(out.end(), u.begin(), u.end());
  }
  return out;
}

Bytes bytes_of(const PacketPtr& pkt) {
  REQUIRE(pkt);
  return Bytes(pkt->data, pkt->data + pkt->size);
}

}  // namespace

TEST_CASE("avc stream: length size and the parameter sets, from the avcC record") {
  const auto s = AvcStream::from_avcc(avcc);
  REQUIRE(s);
  CHECK(s->nal_length_size == 4);
  CHECK(s->parameter_sets == annexb({sps, pps}));

  auto two = avcc;
  two[4] = 0xfd;  // lengthSizeMinusOne = 1
  CHECK(AvcStream::from_avcc(two)->nal_length_size == 2);
  auto three = avcc;
  three[4] = 0xfe;  // 3-byte lengths do not exist
  CHECK_FALSE(AvcStream::from_avcc(three));
  CHECK_FALSE(AvcStream::from_avcc(Bytes(avcc.begin(), avcc.end() - 1)));  // PPS cut short
  auto version = avcc;
  version[0] = 0;
  CHECK_FALSE(AvcStream::from_avcc(version));
  CHECK_FALSE(AvcStream::from_avcc(Bytes{}));
}

TEST_CASE("annexb packet: AUD first, parameter sets before an IDR picture, start codes") {
  const auto s = *AvcStream::from_avcc(avcc);
  // An IDR picture with an SEI: AUD, SPS, PPS, then the frame's units.
  CHECK(bytes_of(annexb_packet(length_prefixed({sei, idr}), s)) == annexb({aud, sps, pps, sei, idr}));
  // A picture that is not IDR gets only the delimiter.
  CHECK(bytes_of(annexb_packet(length_prefixed({slice}), s)) == annexb({aud, slice}));
  // What the frame has is not added again: its AUD, its own SPS and PPS.
  CHECK(bytes_of(annexb_packet(length_prefixed({aud, sps, pps, idr}), s)) == annexb({aud, sps, pps, idr}));
  // The parameter sets go after the frame's own delimiter.
  CHECK(bytes_of(annexb_packet(length_prefixed({aud, idr}), s)) == annexb({aud, sps, pps, idr}));
  // 2-byte lengths.
  auto two = s;
  two.nal_length_size = 2;
  CHECK(bytes_of(annexb_packet(length_prefixed({slice, slice}, 2), two)) == annexb({aud, slice, slice}));
}

TEST_CASE("annexb packet: lengths that run past the frame, or are zero, make no packet") {
  const auto s = *AvcStream::from_avcc(avcc);
  const auto frame = length_prefixed({idr});
  CHECK_FALSE(annexb_packet(Bytes(frame.begin(), frame.end() - 1), s));  // the unit cut short
  CHECK_FALSE(annexb_packet(Bytes(frame.begin(), frame.begin() + 3), s));  // the length cut short
  CHECK_FALSE(annexb_packet(Bytes{0, 0, 0, 0}, s));                        // an empty unit
  CHECK_FALSE(annexb_packet(Bytes{}, s));
  CHECK_FALSE(annexb_packet(Bytes{0xff, 0xff, 0xff, 0xff, 0x65}, s));
}

TEST_CASE("adts: the header of the AudioSpecificConfig, with each frame's length") {
  // AAC LC, 44.1 kHz (index 4), stereo: a frame of 100 bytes is 107 with the header.
  const auto lc = AdtsStream::from_audio_specific_config(Bytes{0x12, 0x10});
  REQUIRE(lc);
  const Bytes frame(100, 0x21);
  auto expected = Bytes{0xff, 0xf1, 0x50, 0x80, 0x0d, 0x7f, 0xfc};
  expected.insert(expected.end(), frame.begin(), frame.end());
  CHECK(bytes_of(lc->packet(frame)) == expected);

  // AAC LC, 48 kHz (index 3), mono; the longest frame ADTS can state.
  const auto mono = AdtsStream::from_audio_specific_config(Bytes{0x11, 0x88});
  REQUIRE(mono);
  const auto longest = bytes_of(mono->packet(Bytes(0x1fff - 7, 0)));
  CHECK(Bytes(longest.begin(), longest.begin() + 7) == Bytes{0xff, 0xf1, 0x4c, 0x43, 0xff, 0xff, 0xfc});
  CHECK_FALSE(mono->packet(Bytes(0x1fff - 6, 0)));
  CHECK_FALSE(mono->packet(Bytes{}));

  // What ADTS cannot state: HE-AAC signalled explicitly (object type 5), an
  // explicit sampling rate (index 15), a program config element (channels 0).
  CHECK_FALSE(AdtsStream::from_audio_specific_config(Bytes{0x2b, 0x92, 0x08, 0x00}));
  CHECK_FALSE(AdtsStream::from_audio_specific_config(Bytes{0x17, 0x80, 0x00, 0x00, 0x10}));
  CHECK_FALSE(AdtsStream::from_audio_specific_config(Bytes{0x12, 0x00}));
  CHECK_FALSE(AdtsStream::from_audio_specific_config(Bytes{0x12}));
}
