#include "souk/ingest/proxy_protocol.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace pp = souk::ingest::proxy_protocol;

namespace {

std::vector<std::uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

pp::Result parse(const std::vector<std::uint8_t>& b) { return pp::parse(b); }

// Every proper prefix needs more; the whole gives `expected`.
void check_byte_by_byte(const std::vector<std::uint8_t>& whole, pp::Status expected) {
  for (std::size_t n = 1; n < whole.size(); ++n) {
    CAPTURE(n);
    const auto r = pp::parse(std::span(whole.data(), n));
    CHECK(r.status == pp::Status::need_more);
  }
  CHECK(pp::parse(whole).status == expected);
}

// The v2 signature, then ver|cmd, family, length (big-endian).
std::vector<std::uint8_t> v2_head(std::uint8_t ver_cmd, std::uint8_t family, std::uint16_t length) {
  return {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
          ver_cmd, family, static_cast<std::uint8_t>(length >> 8),
          static_cast<std::uint8_t>(length & 0xFF)};
}

}  // namespace

TEST_CASE("PROXY v1: TCP4 and TCP6 name the client; RTMP bytes after it are left alone") {
  const std::string line = "PROXY TCP4 203.0.113.7 192.0.2.1 51234 1936\r\n";
  auto in = bytes_of(line);
  in.push_back(0x03);  // C0 follows
  const auto r = parse(in);
  REQUIRE(r.status == pp::Status::header);
  CHECK(r.size == line.size());
  REQUIRE(r.source);
  CHECK(r.source->address().to_string() == "203.0.113.7");
  CHECK(r.source->port() == 51234);
  check_byte_by_byte(bytes_of(line), pp::Status::header);

  const auto v6 = parse(bytes_of("PROXY TCP6 2001:db8::7 2001:db8::1 65535 1936\r\n"));
  REQUIRE(v6.status == pp::Status::header);
  REQUIRE(v6.source);
  CHECK(v6.source->address().to_string() == "2001:db8::7");
  CHECK(v6.source->port() == 65535);
}

TEST_CASE("PROXY v1: UNKNOWN is a header without a client") {
  const auto r = parse(bytes_of("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"));
  CHECK(r.status == pp::Status::header);
  CHECK(r.size == 35);
  CHECK_FALSE(r.source);
  CHECK(parse(bytes_of("PROXY UNKNOWN\r\n")).status == pp::Status::header);
}

TEST_CASE("PROXY v1: malformed lines are refused with a reason") {
  for (const char* bad : {
           "PROXY TCP4 203.0.113.7 192.0.2.1 51234\r\n",           // a field short
           "PROXY TCP4 203.0.113.7 192.0.2.1 51234 1936 9\r\n",    // a field more
           "PROXY TCP4 203.0.113.7  192.0.2.1 51234 1936\r\n",     // two spaces
           "PROXY UDP4 203.0.113.7 192.0.2.1 51234 1936\r\n",      // not TCP
           "PROXY TCP4 2001:db8::7 192.0.2.1 51234 1936\r\n",      // family mismatch
           "PROXY TCP6 203.0.113.7 2001:db8::1 51234 1936\r\n",
           "PROXY TCP4 203.0.113.300 192.0.2.1 51234 1936\r\n",    // not an address
           "PROXY TCP4 203.0.113.7 192.0.2.1 65536 1936\r\n",      // port range
           "PROXY TCP4 203.0.113.7 192.0.2.1 051234 1936\r\n",     // leading zero
           "PROXY TCP4 203.0.113.7 192.0.2.1 -1 1936\r\n",
           "PROXY TCP4 203.0.113.7 192.0.2.1 1 x\r\n",
       }) {
    CAPTURE(bad);
    const auto r = parse(bytes_of(bad));
    CHECK(r.status == pp::Status::invalid);
    CHECK_FALSE(r.error.empty());
  }
  // No CRLF within 107 bytes: never a header.
  CHECK(parse(bytes_of("PROXY " + std::string(101, 'x'))).status == pp::Status::invalid);
  CHECK(parse(bytes_of("PROXY " + std::string(100, 'x'))).status == pp::Status::need_more);
}

TEST_CASE("PROXY: anything else is not a header") {
  CHECK(parse({0x03, 0x00, 0x00}).status == pp::Status::none);  // RTMP C0
  CHECK(parse(bytes_of("PROXX")).status == pp::Status::none);
  CHECK(parse(bytes_of("GET / HTTP/1.1\r\n")).status == pp::Status::none);
  CHECK(parse({0x0D, 0x0A, 0x0D, 0x0B}).status == pp::Status::none);
  CHECK(parse({}).status == pp::Status::need_more);
}

TEST_CASE("PROXY v2: IPv4 and IPv6 TCP name the client, TLVs are skipped") {
  auto v4 = v2_head(0x21, 0x11, 12 + 5);
  const std::vector<std::uint8_t> addresses = {203, 0, 113, 7, 192, 0, 2, 1, 0xC8, 0x22, 0x07, 0x90};
  v4.insert(v4.end(), addresses.begin(), addresses.end());
  const std::vector<std::uint8_t> tlv = {0x04, 0x00, 0x02, 0xAB, 0xCD};  // PP2_TYPE_NOOP
  v4.insert(v4.end(), tlv.begin(), tlv.end());
  check_byte_by_byte(v4, pp::Status::header);
  v4.push_back(0x03);
  const auto r = parse(v4);
  REQUIRE(r.status == pp::Status::header);
  CHECK(r.size == 16 + 17);
  REQUIRE(r.source);
  CHECK(r.source->address().to_string() == "203.0.113.7");
  CHECK(r.source->port() == 0xC822);

  auto v6 = v2_head(0x21, 0x21, 36);
  std::vector<std::uint8_t> src(16, 0);
  src[0] = 0x20; src[1] = 0x01; src[2] = 0x0d; src[3] = 0xb8; src[15] = 0x07;
  v6.insert(v6.end(), src.begin(), src.end());
  v6.insert(v6.end(), 16, 0);  // destination
  v6.push_back(0x01); v6.push_back(0xBB); v6.push_back(0x07); v6.push_back(0x90);
  const auto r6 = parse(v6);
  REQUIRE(r6.status == pp::Status::header);
  REQUIRE(r6.source);
  CHECK(r6.source->address().to_string() == "2001:db8::7");
  CHECK(r6.source->port() == 443);
}

TEST_CASE("PROXY v2: LOCAL and other families keep the peer; bad headers are refused") {
  const auto local = parse(v2_head(0x20, 0x00, 0));
  CHECK(local.status == pp::Status::header);
  CHECK(local.size == 16);
  CHECK_FALSE(local.source);

  auto unix_socket = v2_head(0x21, 0x31, 216);
  unix_socket.insert(unix_socket.end(), 216, 0);
  CHECK(parse(unix_socket).status == pp::Status::header);
  CHECK_FALSE(parse(unix_socket).source);

  CHECK(parse(v2_head(0x11, 0x11, 12)).status == pp::Status::invalid);  // version 1
  CHECK(parse(v2_head(0x22, 0x11, 12)).status == pp::Status::invalid);  // command 2
  CHECK(parse(v2_head(0x21, 0x11, 0xFFFF)).status == pp::Status::invalid);  // too long
  auto short_v4 = v2_head(0x21, 0x11, 4);
  short_v4.insert(short_v4.end(), 4, 1);
  CHECK(parse(short_v4).status == pp::Status::invalid);
  CHECK(parse(v2_head(0x21, 0x11, 12)).status == pp::Status::need_more);  // body not here yet
}
