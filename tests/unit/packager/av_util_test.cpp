// av_util: a frame as a packet (OutputFile is exercised by the writers' tests).
#include "souk/packager/av_util.hpp"

#include "packager_fixtures.hpp"

#include "souk/log.hpp"

#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <cstring>
#include <sstream>
#include <string>

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

namespace {
std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = 0; (at = text.find(needle, at)) != std::string::npos; at += needle.size()) ++n;
  return n;
}
}  // namespace

// Regression (issue 21): a decoder warning for every frame wrote 2,000 lines for
// 2,000 frames. Each format string gets one line per interval.
TEST_CASE("route_ffmpeg_logs: a line FFmpeg repeats for every frame is logged once per interval") {
  souk::log::init(spdlog::level::trace, souk::log::Format::text);
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  sink->set_formatter(souk::log::make_formatter(souk::log::Format::text));
  spdlog::default_logger()->sinks() = {sink};
  route_ffmpeg_logs();

  for (int frame = 0; frame < 2000; ++frame) {
    av_log(nullptr, AV_LOG_ERROR, "issue21 test: corrupt frame %d\n", frame);
  }
  av_log(nullptr, AV_LOG_ERROR, "issue21 test: another complaint\n");  // another format: its own line

  av_log_set_callback(av_log_default_callback);
  souk::log::init(spdlog::level::off, souk::log::Format::text);
  const std::string text = out.str();
  CHECK(count_of(text, "issue21 test: corrupt frame") == 1);
  CHECK(text.find("corrupt frame 0") != std::string::npos);
  CHECK(count_of(text, "issue21 test: another complaint") == 1);
}
