// Receiver URL parsing.
#include "souk/webhooks/url.hpp"

#include <charconv>
#include <stdexcept>

namespace souk::webhooks {
namespace {

[[noreturn]] void bad(const std::string& why) { throw std::invalid_argument(why); }

}  // namespace

HttpUrl parse_http_url(std::string_view url) {
  const std::string shown(url);
  for (const char ch : url) {
    if (static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f) {
      bad("expected a URL without spaces or control characters, got '" + shown + "'");
    }
  }
  constexpr std::string_view http = "http://";
  if (url.starts_with("https://")) {
    bad("https:// receivers are not supported; use an http:// URL (for example through a "
        "local TLS proxy), got '" + shown + "'");
  }
  if (!url.starts_with(http)) bad("expected a URL starting with http://, got '" + shown + "'");
  auto rest = url.substr(http.size());
  if (rest.find('#') != std::string_view::npos) bad("a webhook URL has no fragment: '" + shown + "'");

  const auto authority_end = rest.find_first_of("/?");
  const auto authority = rest.substr(0, authority_end);
  std::string target(authority_end == std::string_view::npos ? "/" : rest.substr(authority_end));
  if (target.front() == '?') target = "/" + target;
  if (authority.find('@') != std::string_view::npos) {
    bad("a webhook URL carries no user name or password: '" + shown + "'");
  }

  HttpUrl out;
  std::string_view port_text;
  if (authority.starts_with("[")) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) bad("unclosed '[' in '" + shown + "'");
    out.host = std::string(authority.substr(1, close - 1));
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') bad("expected ':PORT' after ']' in '" + shown + "'");
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    if (out.host.find(':') != std::string::npos) bad("write an IPv6 host in brackets: '" + shown + "'");
  }
  if (out.host.empty()) bad("expected a host in '" + shown + "'");
  if (!port_text.empty()) {
    unsigned port = 0;
    const auto* end = port_text.data() + port_text.size();
    const auto [p, ec] = std::from_chars(port_text.data(), end, port);
    if (ec != std::errc() || p != end || port == 0 || port > 65535) {
      bad("expected a port 1..65535 in '" + shown + "'");
    }
    out.port = static_cast<std::uint16_t>(port);
  }
  out.target = std::move(target);
  out.host_header = std::string(authority);
  return out;
}

std::string without_query(std::string_view url) {
  return std::string(url.substr(0, url.find('?')));
}

}  // namespace souk::webhooks
