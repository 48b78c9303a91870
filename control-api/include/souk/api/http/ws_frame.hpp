// The header of a WebSocket frame a server sends (RFC 6455 5.2): FIN, an opcode,
// and the payload length in 7, 7+16 or 7+64 bits; never masked. Pure.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace souk::api {

struct WsFrameHeader {
  std::array<std::uint8_t, 10> bytes{};
  std::size_t size = 0;
};

// A final (unfragmented) text frame of `length` payload bytes.
inline WsFrameHeader ws_text_frame_header(std::uint64_t length) {
  WsFrameHeader h;
  h.bytes[0] = 0x81;  // FIN, opcode 1 (text)
  if (length < 126) {
    h.bytes[1] = static_cast<std::uint8_t>(length);
    h.size = 2;
  } else if (length <= 0xffff) {
    h.bytes[1] = 126;
    h.bytes[2] = static_cast<std::uint8_t>(length >> 8);
    h.bytes[3] = static_cast<std::uint8_t>(length);
    h.size = 4;
  } else {
    h.bytes[1] = 127;
    for (int i = 0; i < 8; ++i) h.bytes[2 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(length >> (56 - 8 * i));
    h.size = 10;
  }
  return h;
}

// What a write of consecutive frames took: the frames it took whole, and the
// bytes it took of the next one.
struct WsFramesTaken {
  std::size_t frames = 0;
  std::size_t partial_bytes = 0;
};

// Splits `written` bytes over frames of the given sizes (header + payload).
inline WsFramesTaken ws_frames_taken(std::span<const std::size_t> frame_sizes, std::size_t written) {
  WsFramesTaken taken;
  for (; taken.frames < frame_sizes.size(); ++taken.frames) {
    if (written < frame_sizes[taken.frames]) {
      taken.partial_bytes = written;
      break;
    }
    written -= frame_sizes[taken.frames];
  }
  return taken;
}

}  // namespace souk::api
