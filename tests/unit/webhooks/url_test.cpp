#include "souk/webhooks/url.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

using souk::webhooks::parse_http_url;

TEST_CASE("webhook URLs: http:// with host, port, path and query") {
  const auto u = parse_http_url("http://127.0.0.1:8081/hooks/souk?token=a%20b");
  CHECK(u.host == "127.0.0.1");
  CHECK(u.port == 8081);
  CHECK(u.target == "/hooks/souk?token=a%20b");
  CHECK(u.host_header == "127.0.0.1:8081");

  const auto bare = parse_http_url("http://hooks.example.com");
  CHECK(bare.host == "hooks.example.com");
  CHECK(bare.port == 80);
  CHECK(bare.target == "/");
  CHECK(bare.host_header == "hooks.example.com");

  CHECK(parse_http_url("http://example.com?x=1").target == "/?x=1");

  const auto v6 = parse_http_url("http://[::1]:9000/h");
  CHECK(v6.host == "::1");
  CHECK(v6.port == 9000);
  CHECK(v6.host_header == "[::1]:9000");
}

TEST_CASE("webhook URLs: anything else is refused with the reason") {
  const auto reason = [](const char* url) {
    try {
      parse_http_url(url);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(reason("https://example.com/h").find("https:// receivers are not supported") != std::string::npos);
  CHECK(reason("ftp://example.com/h").find("http://") != std::string::npos);
  CHECK(reason("example.com/h").find("http://") != std::string::npos);
  CHECK(reason("http://user:pw@example.com/").find("user name") != std::string::npos);
  CHECK(reason("http://example.com/#frag").find("fragment") != std::string::npos);
  CHECK(reason("http://example.com:0/").find("port") != std::string::npos);
  CHECK(reason("http://example.com:65536/").find("port") != std::string::npos);
  CHECK(reason("http://example.com:80x/").find("port") != std::string::npos);
  CHECK(reason("http://:80/").find("host") != std::string::npos);
  CHECK(reason("http:///path").find("host") != std::string::npos);
  CHECK(reason("http://exa mple.com/").find("spaces") != std::string::npos);
  CHECK(reason("http://example.com/\r\nX: y").find("control") != std::string::npos);
  CHECK(reason("http://[::1/").find("[") != std::string::npos);
  CHECK(reason("http://::1/").find("brackets") != std::string::npos);
}

TEST_CASE("webhook URLs: the query is left out of what the API shows") {
  CHECK(souk::webhooks::without_query("http://h/p?token=s") == "http://h/p");
  CHECK(souk::webhooks::without_query("http://h/p") == "http://h/p");
}
