#include "souk/api/http/ws_frame.hpp"

#include <doctest/doctest.h>

#include <vector>

using souk::api::ws_frames_taken;
using souk::api::ws_text_frame_header;

namespace {
std::vector<int> bytes(std::uint64_t length) {
  const auto h = ws_text_frame_header(length);
  return std::vector<int>(h.bytes.begin(), h.bytes.begin() + static_cast<std::ptrdiff_t>(h.size));
}
}  // namespace

TEST_CASE("websocket frame header: a final text frame, unmasked, in the shortest length form") {
  CHECK(bytes(0) == std::vector<int>{0x81, 0});
  CHECK(bytes(125) == std::vector<int>{0x81, 125});
  CHECK(bytes(126) == std::vector<int>{0x81, 126, 0, 126});
  CHECK(bytes(65535) == std::vector<int>{0x81, 126, 0xff, 0xff});
  CHECK(bytes(65536) == std::vector<int>{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0});
  CHECK(bytes(0x0102030405060708ull) == std::vector<int>{0x81, 127, 1, 2, 3, 4, 5, 6, 7, 8});
}

TEST_CASE("websocket frames taken: a partial write splits into whole frames and the next one's bytes") {
  const std::vector<std::size_t> sizes{10, 4, 130};
  const auto taken = [&](std::size_t written) {
    const auto t = ws_frames_taken(sizes, written);
    return std::vector<std::size_t>{t.frames, t.partial_bytes};
  };
  CHECK(taken(0) == std::vector<std::size_t>{0, 0});
  CHECK(taken(9) == std::vector<std::size_t>{0, 9});
  CHECK(taken(10) == std::vector<std::size_t>{1, 0});
  CHECK(taken(13) == std::vector<std::size_t>{1, 3});
  CHECK(taken(14) == std::vector<std::size_t>{2, 0});
  CHECK(taken(143) == std::vector<std::size_t>{2, 129});
  CHECK(taken(144) == std::vector<std::size_t>{3, 0});
  CHECK(ws_frames_taken({}, 0).frames == 0);
}
