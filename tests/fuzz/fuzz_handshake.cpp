// Fuzz target: the RTMP handshake answer to any C0+C1 (the first 1537 bytes of
// the input, zero-padded). A fuzzer cannot forge an HMAC digest, so when the
// input goes on past C0+C1, its next byte may ask the target to sign C1 itself
// (bit 0: sign; bit 1: scheme 1 rather than 0), which reaches the complex
// handshake. Oracles, checked as a client would check them:
//   C0 other than 3: no answer. Otherwise S0 is 3, S1 starts with the server time;
//   no valid client digest: the simple handshake, S1 bytes 4..7 zero, S2 == C1;
//   a valid one: the complex handshake, S1's digest verifies with the Flash Media
//   Server key where the client's scheme puts it, and S2 ends with the HMAC of
//   its first 1504 bytes under HMAC(full FMS key, the client's digest).
#include "souk/ingest/handshake.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

namespace {

using namespace souk::ingest::handshake;

// HMAC-SHA256(key, message) through the public packet_digest: the message with
// 32 ignored bytes after it, digest offset at its end.
Digest hmac(std::span<const std::uint8_t> key, std::span<const std::uint8_t> message) {
  std::vector<std::uint8_t> packet(message.begin(), message.end());
  packet.resize(message.size() + 32);
  return packet_digest(packet, message.size(), key);
}

bool equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> c0c1(data, data + std::min(size, 1 + packet_size));
  c0c1.resize(1 + packet_size, 0);
  const std::span<std::uint8_t> c1(c0c1.data() + 1, packet_size);
  std::optional<int> signed_scheme;
  if (size > 1 + packet_size && (data[1 + packet_size] & 1) != 0) {
    const int scheme = (data[1 + packet_size] >> 1) & 1;
    if (c1[4] == 0 && c1[5] == 0 && c1[6] == 0 && c1[7] == 0) c1[4] = 9;  // a version
    const auto off = digest_offset(c1, scheme);
    const auto d = packet_digest(c1, off, flash_player_key(false));
    std::copy(d.begin(), d.end(), c1.begin() + static_cast<std::ptrdiff_t>(off));
    signed_scheme = scheme;
  }
  const bool versioned = c1[4] != 0 || c1[5] != 0 || c1[6] != 0 || c1[7] != 0;
  const auto client_scheme = find_client_scheme(c1);
  // A digest planted for scheme 1 may also verify for scheme 0 only by a SHA-256 collision.
  if (signed_scheme && client_scheme != signed_scheme) __builtin_trap();

  const auto fill = [](std::span<std::uint8_t> b) { std::fill(b.begin(), b.end(), std::uint8_t{7}); };
  constexpr std::uint32_t server_time = 0x01020304;
  const auto r = respond(c0c1, server_time, fill);
  if (c0c1[0] != rtmp_version) {
    if (r) __builtin_trap();
    return 0;
  }
  if (!r || r->s0s1s2.size() != 1 + 2 * packet_size || r->s0s1s2[0] != rtmp_version) {
    __builtin_trap();
  }
  const std::span<const std::uint8_t> s1(r->s0s1s2.data() + 1, packet_size);
  const std::span<const std::uint8_t> s2(r->s0s1s2.data() + 1 + packet_size, packet_size);
  const std::uint8_t time_bytes[4] = {1, 2, 3, 4};
  if (!equal(s1.first(4), time_bytes)) __builtin_trap();

  const auto scheme = versioned ? client_scheme : std::nullopt;
  if (r->complex != scheme.has_value()) __builtin_trap();
  if (!scheme) {
    if (s1[4] != 0 || s1[5] != 0 || s1[6] != 0 || s1[7] != 0) __builtin_trap();
    if (!equal(s2, c1)) __builtin_trap();
    return 0;
  }
  const auto s1_off = digest_offset(s1, *scheme);
  if (!equal(packet_digest(s1, s1_off, flash_media_server_key(false)), s1.subspan(s1_off, 32))) {
    __builtin_trap();
  }
  const auto key = hmac(flash_media_server_key(true), c1.subspan(digest_offset(c1, *scheme), 32));
  if (!equal(hmac(key, s2.first(packet_size - 32)), s2.last(32))) __builtin_trap();
  return 0;
}
