#include "souk/ingest/handshake.hpp"

#include <doctest/doctest.h>
#include <sodium.h>

#include <algorithm>

using namespace souk::ingest::handshake;

namespace {

// Deterministic "random" bytes for reproducible packets.
void pattern(std::span<std::uint8_t> b) {
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(i * 7 + 3);
}

std::array<std::uint8_t, 32> hmac(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
  std::array<std::uint8_t, 32> out{};
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key.data(), key.size());
  crypto_auth_hmacsha256_update(&st, data.data(), data.size());
  crypto_auth_hmacsha256_final(&st, out.data());
  return out;
}

// A C0+C1 as a Flash-era client (or FFmpeg) builds it with a digest in `scheme`.
std::vector<std::uint8_t> complex_c0c1(int scheme) {
  std::vector<std::uint8_t> p(1 + packet_size);
  p[0] = 3;
  const std::span<std::uint8_t> c1(p.data() + 1, packet_size);
  pattern(c1);
  const std::uint8_t version[4] = {0x80, 0x00, 0x07, 0x02};  // FFmpeg's
  std::copy(std::begin(version), std::end(version), c1.begin() + 4);
  const auto off = digest_offset(c1, scheme);
  const auto d = packet_digest(c1, off, flash_player_key(false));
  std::copy(d.begin(), d.end(), c1.begin() + static_cast<std::ptrdiff_t>(off));
  return p;
}

}  // namespace

TEST_CASE("handshake: digest offsets follow the block sums") {
  std::vector<std::uint8_t> p(packet_size, 0);
  p[8] = 1;
  p[9] = 2;
  p[10] = 3;
  p[11] = 4;
  CHECK(digest_offset(p, 0) == 10 % 728 + 12);
  p[772] = 200;
  p[773] = 200;
  p[774] = 200;
  p[775] = 200;
  CHECK(digest_offset(p, 1) == 800 % 728 + 776);
}

TEST_CASE("handshake: simple clients get S1 with zero version and S2 echoing C1") {
  std::vector<std::uint8_t> c0c1(1 + packet_size);
  c0c1[0] = 3;
  pattern(std::span(c0c1).subspan(1));
  std::fill(c0c1.begin() + 5, c0c1.begin() + 9, std::uint8_t{0});  // no version: simple
  const auto r = respond(c0c1, 1234, pattern);
  REQUIRE(r);
  CHECK_FALSE(r->complex);
  REQUIRE(r->s0s1s2.size() == 1 + 2 * packet_size);
  CHECK(r->s0s1s2[0] == 3);
  CHECK(r->s0s1s2[1] == 0);
  CHECK(r->s0s1s2[4] == 0xd2);  // server time 1234 big-endian
  CHECK(std::equal(r->s0s1s2.begin() + 1 + packet_size, r->s0s1s2.end(), c0c1.begin() + 1));
}

TEST_CASE("handshake: complex digest round trip, both schemes") {
  for (int scheme : {0, 1}) {
    CAPTURE(scheme);
    const auto c0c1 = complex_c0c1(scheme);
    const auto c1 = std::span(c0c1).subspan(1);
    REQUIRE(find_client_scheme(c1) == scheme);

    const auto r = respond(c0c1, 0, pattern);
    REQUIRE(r);
    CHECK(r->complex);
    const auto s1 = std::span(r->s0s1s2).subspan(1, packet_size);
    const auto s2 = std::span(r->s0s1s2).subspan(1 + packet_size, packet_size);

    // The client checks S1's digest with the server key...
    const auto s1_off = digest_offset(s1, scheme);
    const auto expect_s1 = packet_digest(s1, s1_off, flash_media_server_key(false));
    CHECK(std::equal(expect_s1.begin(), expect_s1.end(), s1.begin() + static_cast<std::ptrdiff_t>(s1_off)));

    // ...and S2's signature with a key derived from its own C1 digest.
    const auto c1_off = digest_offset(c1, scheme);
    const auto key = hmac(flash_media_server_key(true), c1.subspan(c1_off, 32));
    const auto sig = hmac(key, s2.first(packet_size - 32));
    CHECK(std::equal(sig.begin(), sig.end(), s2.end() - 32));
  }
}

TEST_CASE("handshake: a versioned C1 without a valid digest falls back to simple") {
  auto c0c1 = complex_c0c1(0);
  c0c1[100] ^= 0xff;  // corrupt
  c0c1[900] ^= 0xff;
  const auto r = respond(c0c1, 0, pattern);
  REQUIRE(r);
  CHECK_FALSE(r->complex);
}

TEST_CASE("handshake: wrong version or size is refused") {
  auto c0c1 = complex_c0c1(0);
  c0c1[0] = 6;  // RTMPE
  CHECK_FALSE(respond(c0c1, 0, pattern));
  c0c1[0] = 3;
  CHECK_FALSE(respond(std::span(c0c1).first(100), 0, pattern));
}
