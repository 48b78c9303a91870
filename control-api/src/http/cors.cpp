// CORS headers for REST and realtime responses (see cors.hpp).
#include "souk/api/http/cors.hpp"

#include <algorithm>

namespace souk::api::cors {

Headers headers_for(std::span<const std::string> allowed_origins, std::string_view request_origin) {
  if (std::find(allowed_origins.begin(), allowed_origins.end(), "*") != allowed_origins.end()) {
    return {{"Access-Control-Allow-Origin", "*"}};
  }
  Headers headers{{"Vary", "Origin"}};
  if (!request_origin.empty() &&
      std::find(allowed_origins.begin(), allowed_origins.end(), request_origin) != allowed_origins.end()) {
    headers.emplace_back("Access-Control-Allow-Origin", std::string(request_origin));
  }
  return headers;
}

void add_headers(std::span<const std::string> allowed_origins, std::string_view request_origin,
                 HttpResponse& response) {
  for (auto& [name, value] : headers_for(allowed_origins, request_origin)) {
    response.set_header(std::move(name), std::move(value));
  }
}

void add_preflight_headers(const Preflight& preflight, HttpResponse& response) {
  response.set_header("Access-Control-Allow-Methods", std::string(preflight.methods));
  response.set_header("Access-Control-Allow-Headers", std::string(preflight.headers));
  if (preflight.max_age_seconds > 0) {
    response.set_header("Access-Control-Max-Age", std::to_string(preflight.max_age_seconds));
  }
}

}  // namespace souk::api::cors
