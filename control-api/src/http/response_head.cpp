// Renders a response's header block as Beast's serializer would (see the header).
#include "souk/api/http/response_head.hpp"

// Only the status table: the reason phrase Beast would write.
#include <boost/beast/http/status.hpp>

#include <charconv>

namespace souk::api {

namespace http = boost::beast::http;

void render_head(std::string& out, const HttpResponse& res, unsigned version, bool keep_alive,
                 std::size_t content_length) {
  const auto digit = [](unsigned v) { return static_cast<char>('0' + v % 10); };
  const auto status = static_cast<unsigned>(res.status);
  const auto reason = http::obsolete_reason(static_cast<http::status>(res.status));
  out.clear();
  out += "HTTP/";
  out += digit(version / 10);
  out += '.';
  out += digit(version);
  out += ' ';
  out += digit(status / 100);
  out += digit(status / 10);
  out += digit(status);
  out += ' ';
  out.append(reason.data(), reason.size());
  out += "\r\nServer: souk-live\r\n";
  for (const auto& [name, value] : res.headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (version >= 11 && !keep_alive) out += "Connection: close\r\n";
  if (version < 11 && keep_alive) out += "Connection: keep-alive\r\n";
  out += "Content-Length: ";
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, content_length).ptr;
  out.append(digits, end);
  out += "\r\n\r\n";
}

}  // namespace souk::api
