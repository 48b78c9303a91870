#include "souk/api/ws_frame.hpp"

#include <doctest/doctest.h>

#include <vector>

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
