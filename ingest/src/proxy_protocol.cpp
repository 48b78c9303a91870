// PROXY protocol v1 and v2 headers (see the header file and
// https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt).
#include "souk/ingest/proxy_protocol.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <string_view>
#include <vector>

namespace souk::ingest::proxy_protocol {
namespace {

namespace ip = boost::asio::ip;

constexpr std::string_view v1_prefix = "PROXY ";
constexpr std::array<std::uint8_t, 12> v2_signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                       0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

Result invalid(std::string why) {
  Result r;
  r.status = Status::invalid;
  r.error = std::move(why);
  return r;
}

// Does `bytes` start like `prefix` (as far as it goes)? 0: no, 1: so far, 2: whole.
int starts_like(std::span<const std::uint8_t> bytes, std::span<const std::uint8_t> prefix) {
  const auto n = std::min(bytes.size(), prefix.size());
  if (!std::equal(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n), prefix.begin())) {
    return 0;
  }
  return n == prefix.size() ? 2 : 1;
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  // Decimal 0..65535 without a sign or leading zeros (the spec's form).
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  unsigned v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

Result parse_v1(std::span<const std::uint8_t> bytes) {
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()),
                              std::min(bytes.size(), max_v1_size));
  const auto crlf = text.find("\r\n");
  if (crlf == std::string_view::npos) {
    if (bytes.size() >= max_v1_size) return invalid("PROXY v1 line longer than 107 bytes");
    return Result{};
  }
  const std::string_view line = text.substr(v1_prefix.size(), crlf - v1_prefix.size());
  Result r;
  r.status = Status::header;
  r.size = crlf + 2;
  if (line.starts_with("UNKNOWN")) return r;  // the rest of the line is to be ignored

  // "TCP4 src dst sport dport", single spaces.
  std::vector<std::string_view> fields;
  for (std::size_t from = 0;;) {
    const auto space = line.find(' ', from);
    fields.push_back(line.substr(from, space == std::string_view::npos ? space : space - from));
    if (space == std::string_view::npos || fields.size() > 5) break;
    from = space + 1;
  }
  if (fields.size() != 5) return invalid("PROXY v1 line does not have 5 fields");
  const bool v4 = fields[0] == "TCP4";
  if (!v4 && fields[0] != "TCP6") return invalid("PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN");
  boost::system::error_code ec;
  const auto source = ip::make_address(std::string(fields[1]), ec);
  if (ec || source.is_v4() != v4) return invalid("PROXY v1 source address is not valid");
  const auto destination = ip::make_address(std::string(fields[2]), ec);
  if (ec || destination.is_v4() != v4) return invalid("PROXY v1 destination address is not valid");
  const auto source_port = parse_port(fields[3]);
  if (!source_port || !parse_port(fields[4])) return invalid("PROXY v1 port is not valid");
  r.source = ip::tcp::endpoint(source, *source_port);
  return r;
}

Result parse_v2(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 16) return Result{};
  const std::uint8_t version = bytes[12] >> 4;
  const std::uint8_t command = bytes[12] & 0x0F;
  if (version != 2) return invalid("PROXY v2 header with version " + std::to_string(version));
  if (command > 1) return invalid("PROXY v2 command is neither LOCAL nor PROXY");
  const std::size_t length = (std::size_t{bytes[14]} << 8) | bytes[15];
  if (16 + length > max_v2_size) return invalid("PROXY v2 header longer than we accept");
  if (bytes.size() < 16 + length) return Result{};

  Result r;
  r.status = Status::header;
  r.size = 16 + length;
  if (command == 0) return r;  // LOCAL: the proxy speaking for itself
  const auto body = bytes.subspan(16, length);
  const auto port_at = [&](std::size_t i) {
    return static_cast<std::uint16_t>((body[i] << 8) | body[i + 1]);
  };
  switch (bytes[13]) {
    case 0x11: {  // TCP over IPv4: src, dst (4 each), sport, dport
      if (length < 12) return invalid("PROXY v2 IPv4 addresses cut short");
      ip::address_v4::bytes_type a;
      std::copy_n(body.begin(), 4, a.begin());
      r.source = ip::tcp::endpoint(ip::address_v4(a), port_at(8));
      return r;
    }
    case 0x21: {  // TCP over IPv6: src, dst (16 each), sport, dport
      if (length < 36) return invalid("PROXY v2 IPv6 addresses cut short");
      ip::address_v6::bytes_type a;
      std::copy_n(body.begin(), 16, a.begin());
      r.source = ip::tcp::endpoint(ip::address_v6(a), port_at(32));
      return r;
    }
    default:  // UNSPEC, UDP, unix sockets: no TCP client address to take
      return r;
  }
}

}  // namespace

Result parse(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return Result{};
  const std::span<const std::uint8_t> v1(reinterpret_cast<const std::uint8_t*>(v1_prefix.data()),
                                         v1_prefix.size());
  switch (starts_like(bytes, v1)) {
    case 1: return Result{};
    case 2: return parse_v1(bytes);
    default: break;
  }
  switch (starts_like(bytes, v2_signature)) {
    case 1: return Result{};
    case 2: return parse_v2(bytes);
    default: break;
  }
  Result r;
  r.status = Status::none;
  return r;
}

}  // namespace souk::ingest::proxy_protocol
