// render_head: the hand-written header block must be the bytes Beast's serializer
// writes for the same response (the hot path skips Beast; nothing else may change).
#include "souk/api/http/response_head.hpp"

#include <boost/beast/http.hpp>
#include <doctest/doctest.h>

#include <sstream>
#include <string>

using souk::api::HttpResponse;
using souk::api::render_head;

namespace {

namespace http = boost::beast::http;

HttpResponse response(int status, std::initializer_list<std::pair<std::string, std::string>> headers) {
  HttpResponse res;
  res.status = status;
  for (const auto& [name, value] : headers) res.set_header(name, value);
  return res;
}

std::string rendered(const HttpResponse& res, unsigned version, bool keep_alive, std::size_t length) {
  std::string out = "left over from the last response";
  render_head(out, res, version, keep_alive, length);
  return out;
}

// What Beast writes before the body, built as the session builds its responses.
std::string beast_head(const HttpResponse& res, unsigned version, bool keep_alive, std::size_t length) {
  http::response<http::string_body> b(static_cast<http::status>(res.status), version);
  b.set(http::field::server, "souk-live");
  for (const auto& [name, value] : res.headers) b.insert(name, value);
  b.keep_alive(keep_alive);
  b.body() = std::string(length, 'x');
  b.prepare_payload();
  std::ostringstream os;
  os << b;
  const auto text = os.str();
  return text.substr(0, text.find("\r\n\r\n") + 4);
}

}  // namespace

TEST_CASE("response head: status line, Server, the handler's fields in order, Content-Length") {
  const auto res = response(200, {{"Content-Type", "application/vnd.apple.mpegurl"},
                                  {"Cache-Control", "no-cache"}});
  CHECK(rendered(res, 11, true, 42) ==
        "HTTP/1.1 200 OK\r\n"
        "Server: souk-live\r\n"
        "Content-Type: application/vnd.apple.mpegurl\r\n"
        "Cache-Control: no-cache\r\n"
        "Content-Length: 42\r\n"
        "\r\n");
}

TEST_CASE("response head: Connection as each HTTP version needs it said") {
  const auto res = response(404, {});
  // 1.1 keeps the connection unless told; 1.0 closes it unless told.
  CHECK(rendered(res, 11, true, 0) == "HTTP/1.1 404 Not Found\r\nServer: souk-live\r\nContent-Length: 0\r\n\r\n");
  CHECK(rendered(res, 11, false, 0) ==
        "HTTP/1.1 404 Not Found\r\nServer: souk-live\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  CHECK(rendered(res, 10, true, 0) ==
        "HTTP/1.0 404 Not Found\r\nServer: souk-live\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n");
  CHECK(rendered(res, 10, false, 0) == "HTTP/1.0 404 Not Found\r\nServer: souk-live\r\nContent-Length: 0\r\n\r\n");
}

TEST_CASE("response head: the same bytes as Beast's serializer") {
  const HttpResponse responses[] = {
      response(200, {{"Content-Type", "video/mp2t"}, {"Access-Control-Allow-Origin", "*"}}),
      response(206, {{"Content-Range", "bytes 0-9/100"}}),
      response(404, {}),
      response(503, {{"Retry-After", "1"}}),
  };
  for (const auto& res : responses) {
    for (const unsigned version : {10u, 11u}) {
      for (const bool keep_alive : {true, false}) {
        for (const std::size_t length : {std::size_t{0}, std::size_t{1}, std::size_t{188 * 1000}}) {
          CAPTURE(res.status);
          CAPTURE(version);
          CAPTURE(keep_alive);
          CAPTURE(length);
          CHECK(rendered(res, version, keep_alive, length) == beast_head(res, version, keep_alive, length));
        }
      }
    }
  }
}
