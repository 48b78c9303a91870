// Fuzz target: the HTTP session (control-api/src/http/http_session.cpp) with
// Beast's parser, the request limits and the real Api behind it, as a client
// meets it: the input is everything the client sends on one keep-alive
// connection over loopback TCP, then half-closed. Two servers get each input:
// one with the production limits (HttpServerOptions{}), one with small ones,
// so body and header limits are reached by short inputs.
//
// Oracles, besides no crash, UB or leak:
//  - the session ends once its client is done (loopback_client.hpp's bound);
//  - the server writes exactly one well-formed response per request it owes
//    (http_model.hpp: each request read, until one closes the connection, and
//    one refusal for bytes that are not a request: 400, 413 or 431), nothing
//    more; where Beast's verdict depends on how reads cut the input (near the
//    header limit), what every cut owes;
//  - no answer is a 5xx other than 503, and a JSON body is an envelope: "data",
//    or an "error" with a string code and message (docs/api.md).
#include "fuzz_api.hpp"
#include "http_model.hpp"
#include "loopback_client.hpp"

#include "souk/api/http/http_server.hpp"

#include <nlohmann/json.hpp>

#include <boost/asio/thread_pool.hpp>

#include <cstdint>
#include <memory>

namespace {

namespace net = boost::asio;
using namespace souk::api;

constexpr souk_fuzz::HttpLimits small_limits{256, 512};

struct Servers {
  net::io_context ioc;
  net::thread_pool blocking{1};
  std::unique_ptr<HttpServer> production;
  std::unique_ptr<HttpServer> small;

  Servers() {
    auto& api = souk_fuzz::api();
    const auto handler = [&api](const HttpRequest& r) { return api.handle(r); };
    const auto fast = [&api](const HttpRequest& r) { return api.try_serve_cached(r); };
    const net::ip::tcp::endpoint any_port(net::ip::make_address("127.0.0.1"), 0);
    production = std::make_unique<HttpServer>(ioc, blocking, HttpServerOptions{}, handler);
    production->set_fast_handler(fast);
    production->listen(any_port);
    HttpServerOptions options;
    options.max_body_bytes = small_limits.max_body_bytes;
    options.max_header_bytes = small_limits.max_header_bytes;
    small = std::make_unique<HttpServer>(ioc, blocking, options, handler);
    small->set_fast_handler(fast);
    small->listen(any_port);
    souk_fuzz::join_at_exit(blocking);
  }
};

Servers& servers() {
  static auto* s = new Servers;  // lives to the end of the process, as the server does
  return *s;
}

void run(HttpServer& server, souk_fuzz::HttpLimits limits, std::span<const std::uint8_t> input) {
  auto& s = servers();
  // Read in pieces of a size taken from the input, so no one read size decides.
  const std::size_t step = input.empty() ? 1 : 1 + input.back() % 512;
  const auto owed = souk_fuzz::owed_responses(input, limits, step, false);
  const auto result = souk_fuzz::exchange(s.ioc, server.local_endpoint(), input, nullptr,
                                          [&] { return server.connection_count(); });
  for (const auto& r : souk_fuzz::check_responses(result.received, owed)) {
    if (r.status >= 500 && r.status != 503) __builtin_trap();
    if (!r.content_type.starts_with("application/json") || r.body.empty()) continue;
    const auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) __builtin_trap();
    if (r.status >= 400 || !j.contains("data")) {
      const auto e = j.find("error");
      if (e == j.end() || !e->is_object() || !e->contains("code") || !e->contains("message") ||
          !(*e)["code"].is_string() || !(*e)["message"].is_string()) {
        __builtin_trap();
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& s = servers();
  const std::span<const std::uint8_t> input(data, size);
  run(*s.production, {HttpServerOptions{}.max_body_bytes, HttpServerOptions{}.max_header_bytes}, input);
  run(*s.small, small_limits, input);
  return 0;
}
