// Fuzz target: an HTTP request (method, target, body) through routing, auth and
// JSON validation of the real API, on an in-memory database. Every answer must
// be a well-formed envelope and never a 500.
#include "souk/api/api.hpp"
#include "souk/log.hpp"
#include "souk/random.hpp"
#include "souk/storage/database.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace {

souk::api::Api& api() {
  static const bool ready = [] {
    souk::init_crypto();
    souk::log::init(spdlog::level::off, souk::log::Format::text);
    return true;
  }();
  (void)ready;
  static souk::storage::Database db(":memory:");
  static souk::api::Api instance(db, [] {
    souk::api::ApiOptions o;
    o.data_dir = "/tmp";
    o.password_cost = souk::api::PasswordCost::minimum();
    return o;
  }());
  return instance;
}

}  // namespace

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
  }
  return 0;
}
