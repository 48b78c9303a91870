// Which peers may speak for their clients: the --trusted-proxies set (addresses
// and CIDR networks, IPv4 and IPv6) and the X-Forwarded-For rule built on it.
// Pure: no sockets, no logging.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace souk {

class TrustedProxies {
 public:
  TrustedProxies() = default;

  // Parses "10.0.0.1, 192.168.0.0/16, ::1, fd00::/8" (an empty list is the empty
  // set). Throws std::invalid_argument naming the first bad item.
  static TrustedProxies parse(std::string_view list);

  bool empty() const { return networks_.empty(); }
  // An IPv4 address matches whether it comes as 1.2.3.4 or as ::ffff:1.2.3.4 (a
  // dual-stack socket's view of an IPv4 peer).
  bool contains(const boost::asio::ip::address& address) const;

 private:
  // Every network as IPv6 bytes: IPv4 ones in the mapped form (::ffff:a.b.c.d,
  // prefix + 96), so one comparison serves both families.
  struct Network {
    std::array<std::uint8_t, 16> bytes{};
    unsigned prefix = 0;
  };
  std::vector<Network> networks_;
};

// The address of the client behind `peer`. Only a trusted peer is believed: then
// the answer is the rightmost X-Forwarded-For address that is not itself trusted
// (each proxy appends the address it received from, so everything left of the
// first untrusted hop may be forged), or the leftmost when every one is trusted.
// nullopt means "the peer itself": an untrusted peer, no header, or an entry that
// is not an address (what lies left of it cannot be believed either). Entries may
// carry a port ("1.2.3.4:5678", "[::1]:80"), which is dropped.
std::optional<boost::asio::ip::address> forwarded_client(const TrustedProxies& trusted,
                                                         const boost::asio::ip::address& peer,
                                                         std::string_view x_forwarded_for);

// IPv4-mapped IPv6 (::ffff:1.2.3.4) as the IPv4 address it stands for; others unchanged.
boost::asio::ip::address unmapped(const boost::asio::ip::address& address);

}  // namespace souk
