// The RTMP handshake, server side: C0+C1 in, S0+S1+S2 out, C2 read and ignored.
//
//   client                       server
//   C0 (version 3) + C1 (1536) -->
//                             <-- S0 + S1 (1536) + S2 (1536)
//   C2 (1536)                  -->
//
// Simple handshake (RTMP spec 5.2): S2 echoes C1. Complex handshake (what Flash
// Player, FFmpeg and OBS send when C1 bytes 4..7 carry a version): C1 hides an
// HMAC-SHA256 digest at an offset derived from one of two 764-byte blocks
// ("scheme 0": digest block at byte 8; "scheme 1": at byte 772). The server
// answers with S1 signed the same way with its own key, and S2 signed with a key
// derived from the client's digest, so the client can tell a real server.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

namespace souk::ingest::handshake {

inline constexpr std::size_t packet_size = 1536;
inline constexpr std::uint8_t rtmp_version = 3;

using Digest = std::array<std::uint8_t, 32>;

// The offset of the 32-byte digest inside a 1536-byte C1/S1 for a scheme (0 or 1).
std::size_t digest_offset(std::span<const std::uint8_t> packet, int scheme);

// HMAC-SHA256 over the packet without its digest bytes at `offset`.
Digest packet_digest(std::span<const std::uint8_t> packet, std::size_t offset,
                     std::span<const std::uint8_t> key);

// The scheme whose digest verifies with the Flash Player key, if any.
std::optional<int> find_client_scheme(std::span<const std::uint8_t> c1);

// The keys (public constants of the protocol).
std::span<const std::uint8_t> flash_player_key(bool full);        // 30 or 62 bytes
std::span<const std::uint8_t> flash_media_server_key(bool full);  // 36 or 68 bytes

struct Response {
  std::vector<std::uint8_t> s0s1s2;  // 1 + 1536 + 1536 bytes
  bool complex = false;
};

// Builds the answer to C0+C1 (1537 bytes); nullopt if C0 is not version 3.
// `fill_random` fills a buffer with random bytes (injected for tests).
std::optional<Response> respond(std::span<const std::uint8_t> c0c1, std::uint32_t server_time,
                                const std::function<void(std::span<std::uint8_t>)>& fill_random);

}  // namespace souk::ingest::handshake
