// av_util: a frame as a packet (OutputFile is exercised by the writers' tests).
#include "souk/packager/av_util.hpp"

#include "packager_fixtures.hpp"

#include <doctest/doctest.h>

#include <cstring>

using namespace souk::packager;
using namespace souk::packager::test;

TEST_CASE(
    "packet_of: the payload copied, timestamps in milliseconds, shifted, pts never before dts") {
  auto f = video(1000, true, {1, 2, 3});
  f.pts_ms = 1040;  // composition time 40 ms
  const auto pkt = packet_of(f, 500);
  REQUIRE(pkt);
  REQUIRE(pkt->size == 3);
  CHECK(std::memcmp(pkt->data, f.data().data(), 3) == 0);
  CHECK(pkt->data != f.data().data());
  CHECK(pkt->dts == 1500);
  CHECK(pkt->pts == 1540);
  CHECK((pkt->flags & AV_PKT_FLAG_KEY) != 0);

  auto g = audio(2000, {9});
  g.pts_ms = 1990;  // a pts before its dts cannot be presented: it is the dts
  g.offset = 0;
  const auto audio_pkt = packet_of(g);
  CHECK(audio_pkt->dts == 2000);
  CHECK(audio_pkt->pts == 2000);
  CHECK((audio_pkt->flags & AV_PKT_FLAG_KEY) == 0);
}

TEST_CASE("packet_of: only the codec payload, after the frame's offset") {
  auto f = video(0, false, {0x27, 0x01, 0, 0, 0, 7, 8});  // FLV video header, then the payload
  f.offset = 5;
  const auto pkt = packet_of(f);
  REQUIRE(pkt->size == 2);
  CHECK(pkt->data[0] == 7);
  CHECK(pkt->data[1] == 8);
}
