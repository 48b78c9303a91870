// RTMP handshake, simple and complex.
#include "souk/ingest/handshake.hpp"

#include <sodium.h>

#include <algorithm>

namespace souk::ingest::handshake {
namespace {

// "Genuine Adobe Flash Player 001" / "Genuine Adobe Flash Media Server 001",
// each followed by the same 32 bytes in the full form.
constexpr std::uint8_t key_tail[32] = {
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
    0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE};

template <std::size_t N>
std::array<std::uint8_t, N + 32> with_tail(const char (&text)[N + 1]) {
  std::array<std::uint8_t, N + 32> out{};
  std::copy(text, text + N, out.begin());
  std::copy(std::begin(key_tail), std::end(key_tail), out.begin() + N);
  return out;
}

const auto fp_key = with_tail<30>("Genuine Adobe Flash Player 001");
const auto fms_key = with_tail<36>("Genuine Adobe Flash Media Server 001");

Digest hmac(std::span<const std::uint8_t> key, std::span<const std::uint8_t> a,
            std::span<const std::uint8_t> b = {}) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key.data(), key.size());
  crypto_auth_hmacsha256_update(&st, a.data(), a.size());
  if (!b.empty()) crypto_auth_hmacsha256_update(&st, b.data(), b.size());
  Digest out{};
  crypto_auth_hmacsha256_final(&st, out.data());
  return out;
}

void put_be32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

}  // namespace

std::span<const std::uint8_t> flash_player_key(bool full) {
  return std::span(fp_key).first(full ? fp_key.size() : 30);
}

std::span<const std::uint8_t> flash_media_server_key(bool full) {
  return std::span(fms_key).first(full ? fms_key.size() : 36);
}

std::size_t digest_offset(std::span<const std::uint8_t> p, int scheme) {
  // The four bytes at the start of the digest block, summed, pick the position
  // within the block's 728 usable bytes.
  const std::size_t base = scheme == 0 ? 8 : 772;
  const std::size_t sum = std::size_t{p[base]} + p[base + 1] + p[base + 2] + p[base + 3];
  return sum % 728 + base + 4;
}

Digest packet_digest(std::span<const std::uint8_t> packet, std::size_t offset,
                     std::span<const std::uint8_t> key) {
  return hmac(key, packet.first(offset), packet.subspan(offset + 32));
}

std::optional<int> find_client_scheme(std::span<const std::uint8_t> c1) {
  for (int scheme : {0, 1}) {
    const auto off = digest_offset(c1, scheme);
    const auto d = packet_digest(c1, off, flash_player_key(false));
    if (sodium_memcmp(d.data(), c1.data() + off, d.size()) == 0) return scheme;
  }
  return std::nullopt;
}

std::optional<Response> respond(std::span<const std::uint8_t> c0c1, std::uint32_t server_time,
                                const std::function<void(std::span<std::uint8_t>)>& fill_random) {
  if (c0c1.size() != 1 + packet_size || c0c1[0] != rtmp_version) return std::nullopt;
  const auto c1 = c0c1.subspan(1);

  Response r;
  r.s0s1s2.resize(1 + 2 * packet_size);
  r.s0s1s2[0] = rtmp_version;
  const std::span<std::uint8_t> s1(r.s0s1s2.data() + 1, packet_size);
  const std::span<std::uint8_t> s2(r.s0s1s2.data() + 1 + packet_size, packet_size);
  fill_random(s1);
  put_be32(s1.data(), server_time);

  // A client that sends no version (bytes 4..7 zero) speaks the simple handshake.
  const bool versioned = c1[4] != 0 || c1[5] != 0 || c1[6] != 0 || c1[7] != 0;
  const auto scheme = versioned ? find_client_scheme(c1) : std::nullopt;
  if (!scheme) {
    std::fill(s1.begin() + 4, s1.begin() + 8, std::uint8_t{0});
    std::copy(c1.begin(), c1.end(), s2.begin());  // S2 echoes C1
    return r;
  }

  r.complex = true;
  // S1: our version, then our digest where the client's scheme puts it.
  const std::uint8_t server_version[4] = {0x04, 0x05, 0x00, 0x01};
  std::copy(std::begin(server_version), std::end(server_version), s1.begin() + 4);
  const auto s1_off = digest_offset(s1, *scheme);
  const auto s1_digest = packet_digest(s1, s1_off, flash_media_server_key(false));
  std::copy(s1_digest.begin(), s1_digest.end(), s1.begin() + static_cast<std::ptrdiff_t>(s1_off));

  // S2: random bytes signed with a key derived from the client's digest.
  const auto c1_off = digest_offset(c1, *scheme);
  const auto key = hmac(flash_media_server_key(true), c1.subspan(c1_off, 32));
  fill_random(s2);
  const auto signature = hmac(key, s2.first(packet_size - 32));
  std::copy(signature.begin(), signature.end(), s2.end() - 32);
  return r;
}

}  // namespace souk::ingest::handshake
