// HTTP behaviour common to every endpoint: the error envelope, 404/405/413,
// JSON body parsing whatever the Content-Type, CORS, keep-alive, health checks.
#include "api_client.hpp"
#include "raw_http.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>

using namespace souk_it;

namespace {

constexpr std::size_t default_body_limit = 1024 * 1024;

// A login body padded with spaces to exactly `size` bytes: valid JSON, unknown user.
std::string padded_login_body(std::size_t size) {
  std::string body = R"({"username":"nobody_padded","password":"not-the-password"})";
  REQUIRE(body.size() <= size);
  body.insert(body.size() - 1, std::string(size - body.size(), ' '));
  return body;
}

// Register body for a new buyer, as raw text.
std::string register_text() {
  return json{
      {"username", unique_username("ct")}, {"password", unique_password()}, {"role", "buyer"}}
      .dump();
}

// A chunked request whose chunks add up to `total` bytes.
std::string chunked_request(const std::string& path, std::size_t total) {
  std::string r = "POST " + path +
                  " HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                  "Content-Type: application/json\r\n\r\n";
  const std::size_t chunk = 64 * 1024;
  std::string first = "{\"pad\":\"";
  std::size_t sent = 0;
  while (sent < total) {
    std::size_t n = std::min(chunk, total - sent);
    std::string data = sent == 0 ? first + std::string(n - first.size(), 'a') : std::string(n, 'a');
    char size_hex[32];
    std::snprintf(size_hex, sizeof size_hex, "%zx", n);
    r += std::string(size_hex) + "\r\n" + data + "\r\n";
    sent += n;
  }
  r += "0\r\n\r\n";
  return r;
}

}  // namespace

TEST_CASE("http: unknown paths are 404 not_found, wrong methods 405 with Allow") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());

  SUBCASE("unknown paths") {
    for (const auto& [method, path] :
         std::vector<std::pair<std::string, std::string>>{{"GET", "/api/v1/nope"},
                                                          {"GET", "/nope"},
                                                          {"POST", "/api/v1/nope"},
                                                          {"GET", "/api/v1/users/me/extra"},
                                                          {"GET", "/api/v2/users/me"}}) {
      CAPTURE(method);
      CAPTURE(path);
      const auto res = client.request(method, path);
      CHECK_ERROR(res, 404, "not_found");
      CHECK_NO_FIELD(res);
    }
  }
  SUBCASE("known paths, wrong method") {
    struct Case {
      std::string method, path, allowed;
    };
    for (const auto& c : std::vector<Case>{{"DELETE", "/api/v1/auth/login", "POST"},
                                           {"GET", "/api/v1/auth/login", "POST"},
                                           {"GET", "/api/v1/products", "POST"},
                                           {"PUT", "/api/v1/auth/register", "POST"},
                                           {"POST", "/api/v1/users/me", "GET"}}) {
      CAPTURE(c.method);
      CAPTURE(c.path);
      const auto res = client.request(c.method, c.path, json::object());
      CHECK_ERROR(res, 405, "method_not_allowed");
      CHECK_NO_FIELD(res);
      INFO("Allow: " << res.header("Allow"));
      CHECK(res.has_header("Allow"));
      CHECK(header_list_contains(res.header("Allow"), c.allowed));
    }
  }
  SUBCASE("odd paths are never a 500") {
    for (const std::string& path : std::vector<std::string>{
             "/api/v1/products/%00", "/api/v1/products/" + std::string(3000, 'x'),
             "/api/v1/products/%E2%9D%A4", "/api/v1/users/..%2F..%2Fetc/follow",
             "/api/v1//products", "/api/v1/products/?x=1"}) {
      CAPTURE(path);
      const auto res = client.get(path);
      INFO("response: " << res.describe());
      CHECK(res.status >= 400);
      CHECK(res.status < 500);
      CHECK(res.body.is_object());
    }
  }
}

TEST_CASE("http: request bodies are JSON objects whatever the Content-Type") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());

  SUBCASE("malformed JSON is 400 invalid_json") {
    for (const std::string body :
         {"{\"username\":", "not json", "{'username':'x'}", "{\"a\":1,}"}) {
      CAPTURE(body);
      const auto res = client.post(api_path("/auth/register"), Body::raw(body));
      CHECK_ERROR(res, 400, "invalid_json");
      CHECK_NO_FIELD(res);
    }
  }
  SUBCASE("JSON that is not an object is 400 invalid_json") {
    for (const std::string body : {"[1]", "\"text\"", "42", "null", "true"}) {
      CAPTURE(body);
      const auto res = client.post(api_path("/auth/login"), Body::raw(body));
      CHECK_ERROR(res, 400, "invalid_json");
    }
  }
  SUBCASE("a body with text/plain is parsed as JSON") {
    const auto res =
        client.post(api_path("/auth/register"), Body::raw(register_text()), {}, "text/plain");
    CHECK_STATUS(res, 201);
  }
  SUBCASE("a body with a form Content-Type is parsed as JSON") {
    const auto res = client.post(api_path("/auth/register"), Body::raw(register_text()), {},
                                 "application/x-www-form-urlencoded");
    CHECK_STATUS(res, 201);
  }
  SUBCASE("a body without a Content-Type is parsed as JSON") {
    const auto res = raw_exchange(
        server.http_port(), raw_request_text("POST", "/api/v1/auth/register", register_text(), {},
                                             /*keep_alive=*/false));
    REQUIRE(res.has_value());
    INFO("body: " << res->body);
    CHECK(res->status == 201);
    CHECK(res->json["data"]["token"].is_string());

    const auto bad = raw_exchange(
        server.http_port(), raw_request_text("POST", "/api/v1/auth/login", std::string("[1]"), {},
                                             /*keep_alive=*/false));
    REQUIRE(bad.has_value());
    CHECK(bad->status == 400);
    CHECK(bad->json["error"]["code"] == "invalid_json");
  }
  SUBCASE("a body over the default 1 MiB limit is 413 payload_too_large") {
    const auto res =
        client.post(api_path("/auth/login"), Body::raw(padded_login_body(default_body_limit + 1)));
    CHECK_ERROR(res, 413, "payload_too_large");
  }
  SUBCASE("a body of exactly 1 MiB is accepted") {
    const auto res =
        client.post(api_path("/auth/login"), Body::raw(padded_login_body(default_body_limit)));
    CHECK_ERROR(res, 401, "invalid_credentials");
  }
  SUBCASE("a chunked body over the limit is 413 payload_too_large") {
    RawConnection conn(server.http_port());
    conn.send(chunked_request("/api/v1/auth/login", default_body_limit + 4096));
    const auto res = conn.read_response();
    REQUIRE(res.has_value());
    INFO("body: " << res->body);
    CHECK(res->status == 413);
    CHECK(res->json["error"]["code"] == "payload_too_large");
  }
}

TEST_CASE("http: --max-body-bytes sets the body limit") {
  ServerOptions opts;
  opts.extra_args = {"--max-body-bytes", "1000"};
  auto& server = test_case_server("limit", opts);
  ApiClient client(server.http_port());

  CHECK_ERROR(client.post(api_path("/auth/login"), Body::raw(padded_login_body(1001))), 413,
              "payload_too_large");
  CHECK_ERROR(client.post(api_path("/auth/login"), Body::raw(padded_login_body(1000))), 401,
              "invalid_credentials");
  CHECK_ERROR(client.post(api_path("/auth/register"), Body::raw(std::string(5000, ' '))), 413,
              "payload_too_large");
  // The server still works afterwards.
  CHECK_STATUS(client.get("/healthz"), 200);
}

TEST_CASE("http: CORS with the default origins (*)") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());
  const httplib::Headers origin{{"Origin", "https://app.example"}};

  SUBCASE("every response carries Access-Control-Allow-Origin: *") {
    const auto buyer = client.register_user("buyer");
    std::vector<Response> responses{
        client.get("/healthz"),
        client.get("/readyz"),
        client.get(api_path("/users/me"), buyer.token),
        client.get(api_path("/users/me")),
        client.get(api_path("/nope")),
        client.request("DELETE", api_path("/auth/login")),
        client.post(api_path("/auth/login"), Body::raw("[1]")),
        client.post(api_path("/auth/register"), json{{"username", unique_username()},
                                                     {"password", unique_password()},
                                                     {"role", "buyer"}}),
        client.get(api_path("/users/me"), {}, origin),
    };
    for (const auto& res : responses) {
      INFO("response: " << res.describe());
      CHECK(res.header("Access-Control-Allow-Origin") == "*");
    }
  }
  SUBCASE("a preflight is 204 with the allowed methods and headers") {
    for (const auto& [path, method] : std::vector<std::pair<std::string, std::string>>{
             {"/api/v1/products", "POST"}, {"/api/v1/auth/login", "POST"}}) {
      CAPTURE(path);
      const auto res =
          client.options(path, {{"Origin", "https://app.example"},
                                {"Access-Control-Request-Method", method},
                                {"Access-Control-Request-Headers", "authorization, content-type"}});
      INFO("response: " << res.describe());
      for (const auto& [k, v] : res.headers) INFO(k << ": " << v);
      CHECK(res.status == 204);
      CHECK(res.header("Access-Control-Allow-Origin") == "*");
      CHECK(header_list_contains(res.header("Access-Control-Allow-Methods"), method));
      CHECK(header_list_contains(res.header("Access-Control-Allow-Headers"), "Authorization"));
      CHECK(header_list_contains(res.header("Access-Control-Allow-Headers"), "Content-Type"));
    }
  }
}

TEST_CASE("http: CORS with --cors-origins echoes only the allowed origin") {
  ServerOptions opts;
  opts.extra_args = {"--cors-origins", "https://shop.example"};
  auto& server = test_case_server("cors", opts);
  ApiClient client(server.http_port());

  SUBCASE("an allowed origin is echoed with Vary: Origin") {
    for (const auto& res :
         {client.get("/healthz", {}, {{"Origin", "https://shop.example"}}),
          client.get(api_path("/users/me"), {}, {{"Origin", "https://shop.example"}}),
          client.options(api_path("/products"), {{"Origin", "https://shop.example"},
                                                 {"Access-Control-Request-Method", "POST"}})}) {
      INFO("response: " << res.describe());
      CHECK(res.header("Access-Control-Allow-Origin") == "https://shop.example");
      CHECK(header_list_contains(res.header("Vary"), "Origin"));
    }
  }
  SUBCASE("another origin gets no Access-Control-Allow-Origin") {
    for (const auto& res :
         {client.get("/healthz", {}, {{"Origin", "https://evil.example"}}),
          client.get(api_path("/users/me"), {}, {{"Origin", "https://evil.example"}}),
          client.options(api_path("/products"), {{"Origin", "https://evil.example"},
                                                 {"Access-Control-Request-Method", "POST"}})}) {
      INFO("response: " << res.describe());
      CHECK_FALSE(res.has_header("Access-Control-Allow-Origin"));
    }
  }
}

TEST_CASE("http: several requests on one keep-alive connection") {
  auto& server = test_case_server();

  SUBCASE("httplib client with keep-alive") {
    ApiClient client(server.http_port(), /*keep_alive=*/true);
    CHECK_STATUS(client.get("/healthz"), 200);
    const auto sock = client.http().socket();
    const auto buyer = client.register_user("buyer");
    CHECK_STATUS(client.get(api_path("/users/me"), buyer.token), 200);
    CHECK_ERROR(client.get(api_path("/nope")), 404, "not_found");
    CHECK_ERROR(client.post(api_path("/auth/login"), Body::raw("{")), 400, "invalid_json");
    CHECK_STATUS(client.get("/readyz"), 200);
    // Same connection throughout.
    CHECK(client.http().socket() == sock);
    CHECK(client.http().is_socket_open());
  }
  SUBCASE("raw connection") {
    RawConnection conn(server.http_port());
    for (int i = 0; i < 3; ++i) {
      CAPTURE(i);
      REQUIRE(conn.send(raw_request_text("GET", "/healthz")));
      auto res = conn.read_response();
      REQUIRE(res.has_value());
      CHECK(res->status == 200);
      REQUIRE(conn.send(raw_request_text("POST", "/api/v1/auth/login", std::string("[1]"))));
      res = conn.read_response();
      REQUIRE(res.has_value());
      CHECK(res->status == 400);
    }
  }
}

TEST_CASE("http: health checks") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());

  const auto health = client.get("/healthz");
  CHECK_STATUS(health, 200);
  CHECK(health.body == json{{"data", {{"status", "ok"}}}});

  const auto ready = client.get("/readyz");
  CHECK_STATUS(ready, 200);
  INFO("readyz: " << ready.raw);
  CHECK(ready.body["data"]["status"] == "ready");
  REQUIRE(ready.body["data"]["schemaVersion"].is_number_integer());
  CHECK(ready.body["data"]["schemaVersion"].get<long long>() > 0);
}
