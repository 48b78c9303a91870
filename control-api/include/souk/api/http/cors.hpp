// CORS, one policy for the REST API and the realtime plane: which browser origins
// may read our responses (--cors-origins), and what a preflight allows.
#pragma once

#include "souk/api/http/http_types.hpp"

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace souk::api::cors {

using Headers = std::vector<std::pair<std::string, std::string>>;

// The headers that let the page at `request_origin` (the request's Origin
// header, empty when absent) read a response. With "*" among the allowed
// origins every page may: `Access-Control-Allow-Origin: *`. Otherwise a listed
// origin is echoed, and `Vary: Origin` is always set, since the answer then
// depends on the request's Origin and a cache must not share it across origins.
Headers headers_for(std::span<const std::string> allowed_origins, std::string_view request_origin);

// Adds headers_for(...) to `response`.
void add_headers(std::span<const std::string> allowed_origins, std::string_view request_origin,
                 HttpResponse& response);

// What a preflight (OPTIONS) answer allows, beyond the origin.
struct Preflight {
  std::string_view methods;  // Access-Control-Allow-Methods, e.g. "GET, POST, OPTIONS"
  std::string_view headers;  // Access-Control-Allow-Headers, e.g. "Content-Type"
  int max_age_seconds = 0;   // Access-Control-Max-Age when positive
};

void add_preflight_headers(const Preflight& preflight, HttpResponse& response);

}  // namespace souk::api::cors
