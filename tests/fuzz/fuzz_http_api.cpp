// Fuzz target: an HTTP request (method, target, body) through routing, auth and
// JSON validation of the real API, on an in-memory database. Every answer must
// be a well-formed envelope and never a 500: a JSON body holds "data" or an
// "error" with a string code and message (docs/api.md), and an error status
// carries the error envelope.
#include "fuzz_api.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

using souk_fuzz::api;

// Input: "METHOD TARGET\nAuthorization-token\nbody..." (missing parts are empty).
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto line_end = text.find('\n');
  const std::string first = text.substr(0, line_end);
  const std::string rest = line_end == std::string::npos ? "" : text.substr(line_end + 1);
  const auto token_end = rest.find('\n');
  souk::api::HttpRequest req;
  const auto space = first.find(' ');
  req.method = first.substr(0, space);
  req.target = space == std::string::npos ? "/" : first.substr(space + 1);
  souk::api::split_target(req.target, req.path, req.query);
  const std::string token = rest.substr(0, token_end);
  if (!token.empty()) req.headers["authorization"] = "Bearer " + token;
  req.body = token_end == std::string::npos ? "" : rest.substr(token_end + 1);

  const auto res = api().handle(req);
  if (res.status >= 500 && res.status != 503) __builtin_trap();
  if (!res.body.empty() && !res.file) {
    const auto j = nlohmann::json::parse(res.body, nullptr, false);
    if (res.header("Content-Type").starts_with("application/json") &&
        (j.is_discarded() || !(j.contains("data") || j.contains("error")))) {
      __builtin_trap();
    }
    if (res.status >= 400 && res.header("Content-Type").starts_with("application/json")) {
      const auto e = j.find("error");
      if (e == j.end() || !e->is_object() || !e->contains("code") || !e->contains("message") ||
          !(*e)["code"].is_string() || !(*e)["message"].is_string()) {
        __builtin_trap();
      }
    }
  }
  return 0;
}
