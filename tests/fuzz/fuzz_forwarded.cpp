// Fuzz target: X-Forwarded-For from trusted and untrusted peers, and the
// trusted-proxies list itself (operator input, but parsed by the same hand).
// Oracles: the answer equals a plain model of the rule in the header comment
// (split on ',', walk from the right, the first untrusted hop wins, else the
// leftmost; any entry that is not an address answers "the peer"); an untrusted
// peer is never believed; the answer is never an IPv4-mapped IPv6 address; and
// a list that parses contains the address of each of its items.
#include "souk/trusted_proxies.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace ip = boost::asio::ip;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto comma = s.find(',');
    out.push_back(trim(s.substr(0, comma)));
    if (comma == std::string_view::npos) return out;
    s.remove_prefix(comma + 1);
  }
}

std::optional<ip::address> address(std::string_view text) {
  boost::system::error_code ec;
  const auto a = ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  return a;
}

// An entry as the header comment describes it: an address, "v4:port", "[v6]"
// or "[v6]:port".
std::optional<ip::address> entry_address(std::string_view entry) {
  if (entry.starts_with('[')) {
    const auto close = entry.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    return address(entry.substr(1, close - 1));
  }
  if (std::count(entry.begin(), entry.end(), ':') == 1) entry = entry.substr(0, entry.find(':'));
  return address(entry);
}

std::optional<ip::address> model(const souk::TrustedProxies& trusted, const ip::address& peer,
                                 std::string_view header) {
  if (!trusted.contains(peer)) return std::nullopt;
  std::vector<std::string_view> entries;
  for (const auto e : split(header)) {
    if (!e.empty()) entries.push_back(e);
  }
  std::optional<ip::address> leftmost;
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    const auto a = entry_address(*it);
    if (!a) return std::nullopt;
    const auto client = souk::unmapped(*a);
    if (!trusted.contains(client)) return client;
    leftmost = client;
  }
  return leftmost;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const auto trusted =
      souk::TrustedProxies::parse("127.0.0.0/8, 10.0.0.0/8, ::1, fd00::/8");
  static const auto peers = {ip::make_address("127.0.0.2"), ip::make_address("::ffff:10.1.2.3"),
                             ip::make_address("fd00::7"), ip::make_address("192.0.2.1"),
                             ip::make_address("2001:db8::1")};
  for (const auto& peer : peers) {
    const auto client = souk::forwarded_client(trusted, peer, text);
    if (client != model(trusted, peer, text)) __builtin_trap();
    if (client && !trusted.contains(peer)) __builtin_trap();
    if (client && client->is_v6() && client->to_v6().is_v4_mapped()) __builtin_trap();
  }

  try {
    const auto list = souk::TrustedProxies::parse(text);
    for (const auto item : split(text)) {
      if (item.empty()) continue;
      const auto a = address(item.substr(0, item.find('/')));
      if (!a || !list.contains(*a)) __builtin_trap();
    }
  } catch (const std::invalid_argument& e) {
    if (std::string_view(e.what()).empty()) __builtin_trap();  // refused with a reason
  }
  return 0;
}
