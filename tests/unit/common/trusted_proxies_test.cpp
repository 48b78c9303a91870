#include "souk/trusted_proxies.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

namespace {

boost::asio::ip::address addr(const char* text) { return boost::asio::ip::make_address(text); }

std::string client(const souk::TrustedProxies& trusted, const char* peer, const char* xff) {
  const auto c = souk::forwarded_client(trusted, addr(peer), xff);
  return c ? c->to_string() : "peer";
}

}  // namespace

TEST_CASE("trusted proxies: addresses and networks of both families") {
  const auto t = souk::TrustedProxies::parse(" 10.1.2.3, 192.168.0.0/16 ,::1, fd00::/8,");
  CHECK_FALSE(t.empty());
  CHECK(t.contains(addr("10.1.2.3")));
  CHECK_FALSE(t.contains(addr("10.1.2.4")));
  CHECK(t.contains(addr("192.168.0.1")));
  CHECK(t.contains(addr("192.168.255.255")));
  CHECK_FALSE(t.contains(addr("192.169.0.1")));
  CHECK(t.contains(addr("::1")));
  CHECK(t.contains(addr("fdab::7")));
  CHECK_FALSE(t.contains(addr("fe00::1")));
  // A dual-stack socket reports IPv4 peers as mapped IPv6.
  CHECK(t.contains(addr("::ffff:192.168.3.4")));
  CHECK_FALSE(t.contains(addr("::ffff:8.8.8.8")));
  // An IPv4 rule does not match an IPv6 address with the same low bytes.
  CHECK_FALSE(t.contains(addr("::10.1.2.3")));

  const auto odd = souk::TrustedProxies::parse("172.16.0.0/12, 2001:db8::/33");
  CHECK(odd.contains(addr("172.31.255.1")));
  CHECK_FALSE(odd.contains(addr("172.32.0.1")));
  CHECK(odd.contains(addr("2001:db8:7fff::1")));
  CHECK_FALSE(odd.contains(addr("2001:db8:8000::1")));

  const auto all = souk::TrustedProxies::parse("0.0.0.0/0");
  CHECK(all.contains(addr("203.0.113.9")));
  CHECK_FALSE(all.contains(addr("2001:db8::1")));
}

TEST_CASE("trusted proxies: the empty list and bad items") {
  CHECK(souk::TrustedProxies::parse("").empty());
  CHECK(souk::TrustedProxies::parse(" , ").empty());
  CHECK_FALSE(souk::TrustedProxies().contains(addr("127.0.0.1")));
  for (const char* bad : {"localhost", "10.0.0.1/33", "::1/129", "10.0.0.0/", "10.0.0.0/8x",
                          "10.0.0.0/-1", "10.0.0.1/8", "fd00::1/8", "1.2.3", "10.0.0.0/8/8"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(souk::TrustedProxies::parse(bad), std::invalid_argument);
  }
  try {
    (void)souk::TrustedProxies::parse("10.0.0.0/8, nginx");
    FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("'nginx'") != std::string::npos);
  }
}

TEST_CASE("X-Forwarded-For is believed only from a trusted peer") {
  const auto t = souk::TrustedProxies::parse("127.0.0.2, 10.0.0.0/8");
  // Not trusted: the header is ignored whatever it says.
  CHECK(client(t, "127.0.0.1", "203.0.113.7") == "peer");
  CHECK(client(t, "198.51.100.1", "10.0.0.1") == "peer");
  // Trusted, one hop.
  CHECK(client(t, "127.0.0.2", "203.0.113.7") == "203.0.113.7");
  CHECK(client(t, "::ffff:127.0.0.2", "203.0.113.7") == "203.0.113.7");
  // The rightmost untrusted hop: what the client wrote to the left is a forgery.
  CHECK(client(t, "127.0.0.2", "6.6.6.6, 203.0.113.7") == "203.0.113.7");
  CHECK(client(t, "127.0.0.2", "6.6.6.6, 203.0.113.7, 10.1.1.1,10.2.2.2") == "203.0.113.7");
  // Every hop trusted: the farthest.
  CHECK(client(t, "127.0.0.2", "10.3.3.3, 10.1.1.1") == "10.3.3.3");
  // No header, or an empty one: the peer.
  CHECK(client(t, "127.0.0.2", "") == "peer");
  CHECK(client(t, "127.0.0.2", " , ") == "peer");
  // Ports, brackets, IPv6 and mapped IPv4.
  CHECK(client(t, "127.0.0.2", "203.0.113.7:4711") == "203.0.113.7");
  CHECK(client(t, "127.0.0.2", "[2001:db8::5]:443") == "2001:db8::5");
  CHECK(client(t, "127.0.0.2", "2001:db8::5") == "2001:db8::5");
  CHECK(client(t, "127.0.0.2", "::ffff:203.0.113.7") == "203.0.113.7");
  // Garbage before an untrusted hop is found: nothing behind it can be believed.
  CHECK(client(t, "127.0.0.2", "203.0.113.7, unknown") == "peer");
  CHECK(client(t, "127.0.0.2", "203.0.113.7, [2001:db8::5") == "peer");
  CHECK(client(t, "127.0.0.2", "unknown, 203.0.113.7") == "203.0.113.7");
  // Duplicate headers arrive joined with ", " (RFC 9110 5.3): one list.
  CHECK(client(t, "127.0.0.2", "6.6.6.6, 198.51.100.4, 10.0.0.9") == "198.51.100.4");
}
