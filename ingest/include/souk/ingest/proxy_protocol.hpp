// The PROXY protocol header (HAProxy's spec, versions 1 and 2) that a TCP proxy
// such as nginx's stream module (`proxy_protocol on`) sends before the client's
// bytes, naming the client's address. Pure: bytes in, a result out.
//
//   v1: "PROXY TCP4 203.0.113.7 192.0.2.1 51234 1936\r\n"   (text, at most 107 bytes)
//       "PROXY UNKNOWN ...\r\n"                              (address not known)
//   v2: \r\n\r\n\0\r\nQUIT\n  ver|cmd  family  length(2, BE)  addresses [TLVs]
//       (binary; cmd LOCAL = the proxy's own connection, e.g. a health check)
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace souk::ingest::proxy_protocol {

inline constexpr std::size_t max_v1_size = 107;
// Addresses (at most 216 bytes for unix sockets) plus TLVs; more is not a header
// we want to buffer.
inline constexpr std::size_t max_v2_size = 16 + 1024;

enum class Status {
  need_more,  // a header so far: read more bytes
  header,     // a whole header of `size` bytes
  none,       // the bytes do not start a PROXY header (a plain RTMP client)
  invalid,    // a PROXY header, malformed: `error` says how
};

struct Result {
  Status status = Status::need_more;
  std::size_t size = 0;  // header bytes to skip, when status is header
  // The client, when the header names one (TCP over IPv4 or IPv6); otherwise the
  // connection's own peer stands (UNKNOWN, LOCAL, other families).
  std::optional<boost::asio::ip::tcp::endpoint> source;
  std::string error;
};

// Looks at the first bytes a connection received.
Result parse(std::span<const std::uint8_t> bytes);

}  // namespace souk::ingest::proxy_protocol
