// Receiver URLs: absolute http:// URLs taken apart for the HTTP client.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace souk::webhooks {

struct HttpUrl {
  std::string host;         // a name or an IP address (without IPv6 brackets)
  std::uint16_t port = 80;
  std::string target;       // path and query, "/" at least
  std::string host_header;  // host[:port] as the Host header carries it
};

// Parses "http://host[:port][/path][?query]". Throws std::invalid_argument with the
// reason for anything else: https:// (not supported), user info, a fragment, a
// bad port, spaces or control characters.
HttpUrl parse_http_url(std::string_view url);

// The URL without its query string (what the API shows: a token an operator put
// in the query stays theirs).
std::string without_query(std::string_view url);

}  // namespace souk::webhooks
