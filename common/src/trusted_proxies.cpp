// The trusted proxy set and the X-Forwarded-For rule (see the header).
#include "souk/trusted_proxies.hpp"

#include <charconv>
#include <stdexcept>
#include <string>

namespace souk {
namespace {

namespace ip = boost::asio::ip;

std::string_view trim(std::string_view s) {
  const auto a = s.find_first_not_of(" \t");
  if (a == std::string_view::npos) return {};
  const auto b = s.find_last_not_of(" \t");
  return s.substr(a, b - a + 1);
}

std::optional<ip::address> parse_address(std::string_view text) {
  boost::system::error_code ec;
  const auto a = ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  return a;
}

std::array<std::uint8_t, 16> as_v6_bytes(const ip::address& a) {
  if (a.is_v4()) return ip::make_address_v6(ip::v4_mapped, a.to_v4()).to_bytes();
  return a.to_v6().to_bytes();
}

bool prefix_matches(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& b,
                    unsigned prefix) {
  const unsigned whole = prefix / 8;
  for (unsigned i = 0; i < whole; ++i) {
    if (a[i] != b[i]) return false;
  }
  const unsigned rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFFu << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

// One X-Forwarded-For entry: an address, optionally with a port; nullopt when not.
std::optional<ip::address> parse_forwarded_entry(std::string_view entry) {
  if (entry.starts_with('[')) {  // "[v6]" or "[v6]:port"
    const auto close = entry.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    return parse_address(entry.substr(1, close - 1));
  }
  // Exactly one ':' is an IPv4 address with a port; more is a bare IPv6 address.
  const auto colon = entry.find(':');
  if (colon != std::string_view::npos && entry.find(':', colon + 1) == std::string_view::npos) {
    entry = entry.substr(0, colon);
  }
  return parse_address(entry);
}

}  // namespace

ip::address unmapped(const ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return ip::make_address_v4(ip::v4_mapped, address.to_v6());
  }
  return address;
}

TrustedProxies TrustedProxies::parse(std::string_view list) {
  TrustedProxies out;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto item = trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (item.empty()) continue;

    const auto slash = item.find('/');
    const auto address = parse_address(item.substr(0, slash));
    if (!address) {
      throw std::invalid_argument("expected an IP address or CIDR network, got '" +
                                  std::string(item) + "'");
    }
    const unsigned bits = address->is_v4() ? 32 : 128;
    unsigned prefix = bits;
    if (slash != std::string_view::npos) {
      const auto digits = item.substr(slash + 1);
      const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
      if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() ||
          prefix > bits) {
        throw std::invalid_argument("expected a prefix length 0.." + std::to_string(bits) +
                                    " in '" + std::string(item) + "'");
      }
    }
    Network network{as_v6_bytes(*address), prefix + (address->is_v4() ? 96 : 0)};
    // A host part in a network ("10.0.0.1/8") is most likely a typo for a single
    // address or another network: refuse it rather than guess.
    Network masked{};
    masked.prefix = network.prefix;
    for (unsigned i = 0; i < network.prefix; ++i) {
      masked.bytes[i / 8] |= static_cast<std::uint8_t>(network.bytes[i / 8] & (0x80u >> (i % 8)));
    }
    if (masked.bytes != network.bytes) {
      throw std::invalid_argument("'" + std::string(item) +
                                  "' has bits set after its prefix length");
    }
    out.networks_.push_back(network);
  }
  return out;
}

bool TrustedProxies::contains(const ip::address& address) const {
  const auto bytes = as_v6_bytes(unmapped(address));
  for (const auto& n : networks_) {
    if (prefix_matches(bytes, n.bytes, n.prefix)) return true;
  }
  return false;
}

std::optional<ip::address> forwarded_client(const TrustedProxies& trusted, const ip::address& peer,
                                            std::string_view x_forwarded_for) {
  if (!trusted.contains(peer)) return std::nullopt;
  std::optional<ip::address> leftmost;
  // Walk from the right: the nearest hop first.
  while (!trim(x_forwarded_for).empty()) {
    const auto comma = x_forwarded_for.rfind(',');
    const auto entry = trim(comma == std::string_view::npos ? x_forwarded_for
                                                            : x_forwarded_for.substr(comma + 1));
    x_forwarded_for = comma == std::string_view::npos ? std::string_view()
                                                      : x_forwarded_for.substr(0, comma);
    if (entry.empty()) continue;
    const auto address = parse_forwarded_entry(entry);
    if (!address) return std::nullopt;
    const auto client = unmapped(*address);
    if (!trusted.contains(client)) return client;
    leftmost = client;
  }
  return leftmost;
}

}  // namespace souk
