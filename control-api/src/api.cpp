// Dispatch: CORS, routing, and turning every failure into the JSON envelope.
#include "souk/api/api.hpp"

#include "souk/api/api_error.hpp"
#include "souk/api/http/cors.hpp"
#include "souk/api/request_context.hpp"
#include "souk/log.hpp"
#include "souk/storage/database.hpp"
#include "souk/storage/sqlite.hpp"

#include <algorithm>
#include <exception>

namespace souk::api {
namespace {

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

// A database error: a full disk is the operator's to fix, not a bug.
ApiError database_failure(const HttpRequest& request, const storage::SqliteError& e) {
  log::error("request failed", {{"method", request.method}, {"path", request.path}, {"error", e.what()}});
  if (e.is_full()) {
    // Nothing was written (the transaction rolled back): the client may retry
    // once an operator has made room.
    ApiError full(503, "storage_full", "the server's storage is full; try again later");
    full.headers.emplace_back("Retry-After", "60");
    return full;
  }
  return ApiError(500, "internal_error", "the server failed to handle this request");
}

// The HTTP answer to a lifecycle refusal: the status, code and field the API
// has always given for it, with the service's message.
ApiError lifecycle_failure(const LifecycleError& e) {
  switch (e.code()) {
    case LifecycleErrc::stream_not_found:
      return ApiError::not_found("stream_not_found", e.what());
    case LifecycleErrc::not_owner:
      return ApiError::forbidden(e.what());
    case LifecycleErrc::already_live:
      return ApiError::conflict("stream_already_live", e.what());
    case LifecycleErrc::not_scheduled:
      return ApiError::conflict("stream_not_scheduled", e.what());
    case LifecycleErrc::not_live:
      return ApiError::conflict("stream_not_live", e.what());
    case LifecycleErrc::camera_not_ready:
      return ApiError(422, "checklist_incomplete", e.what(), "camera_ready");
    case LifecycleErrc::checklist_incomplete:
      return ApiError(422, "checklist_incomplete", e.what(), "checklist_complete");
    case LifecycleErrc::no_products:
      return ApiError::conflict("no_products", e.what());
  }
  return ApiError(500, "internal_error", "the server failed to handle this request");
}

// A limit of n a minute: n at once after a quiet minute, then one every 60/n s.
RateLimiter per_minute(int n) {
  const double allowed = std::max(1, n);
  return RateLimiter(allowed / 60.0, allowed);
}

}  // namespace

Api::Api(storage::Database& db, ApiOptions options)
    : db_(db),
      options_(std::move(options)),
      hls_root_((options_.data_dir / "hls").string()),
      passwords_(options_.password_cost),
      hashing_(options_.hash_threads, options_.hash_queue),
      login_limiter_(options_.login_max_failures, options_.login_window),
      login_failures_by_address_(per_minute(options_.login_failures_per_minute_per_address)),
      login_failures_overall_(per_minute(options_.login_failures_per_minute)),
      product_events_by_user_(per_minute(options_.product_events_per_minute)),
      lifecycle_(db, LifecycleOptions{options_.public_http_url, options_.neighborhood_radius_m}) {
  add_health_routes(*this, router_);
  add_account_routes(*this, router_);
  add_product_routes(*this, router_);
  add_stream_routes(*this, router_);
  add_stream_product_routes(*this, router_);
  add_media_routes(*this, router_);
  add_webhook_routes(*this, router_);
  add_openapi_routes(router_);
  add_metrics_routes(*this, router_);
  // Requests answered from the HLS cache count under the media route's template.
  hls_route_ = router_.match("GET", "/hls/{id}/{file}").pattern;
}

Api::~Api() = default;

HttpResponse Api::handle(const HttpRequest& request) {
  HttpResponse response;
  std::string_view pattern = unmatched_route;
  try {
    if (request.body_too_large) {
      throw ApiError(413, "payload_too_large", "the request body is larger than the server accepts");
    }
    response = request.method == "OPTIONS" ? preflight(request, pattern) : route(request, pattern);
  } catch (const ApiError& e) {
    response = error_response(e);
  } catch (const LifecycleError& e) {
    response = error_response(lifecycle_failure(e));
  } catch (const storage::SqliteError& e) {
    response = error_response(database_failure(request, e));
  } catch (const std::exception& e) {
    // A bug or an environment failure (disk, database), never bad input.
    log::error("request failed", {{"method", request.method}, {"path", request.path},
                                  {"error", e.what()}});
    response = error_response(ApiError(500, "internal_error", "the server failed to handle this request"));
  }
  response.route = pattern;
  return finish(request, std::move(response));
}

std::optional<HttpResponse> Api::try_serve_cached(const HttpRequest& request) {
  if (request.body_too_large || (request.method != "GET" && request.method != "HEAD")) {
    return std::nullopt;
  }
  std::optional<HttpResponse> response;
  try {
    response = cached_media_response(*this, request);
  } catch (const ApiError& e) {
    response = error_response(e);
  } catch (const std::exception&) {
    return std::nullopt;  // handle() will say what went wrong
  }
  if (!response) return std::nullopt;
  response->route = hls_route_;
  return finish(request, std::move(*response));
}

HttpResponse Api::finish(const HttpRequest& request, HttpResponse response) const {
  add_cors_headers(request, response);
  // HEAD gets the headers a GET would, never a body (whatever the route did).
  if (request.method == "HEAD") response.head = true;
  return response;
}

HttpResponse Api::route(const HttpRequest& request, std::string_view& pattern) {
  auto match = router_.match(request.method, request.path);
  if (!match.pattern.empty()) pattern = match.pattern;
  switch (match.outcome) {
    case Router<Handler>::Outcome::found: {
      RequestContext ctx(*this, request, std::move(match.params));
      return (*match.handler)(ctx);
    }
    case Router<Handler>::Outcome::method_not_allowed: {
      ApiError e(405, "method_not_allowed",
                 request.method + " is not allowed here; use " + join(match.allowed, " or "));
      e.headers.emplace_back("Allow", join(match.allowed, ", "));
      throw e;
    }
    case Router<Handler>::Outcome::not_found:
      break;
  }
  throw ApiError(404, "not_found", "no such endpoint: " + request.path);
}

// A CORS preflight for any path that exists.
HttpResponse Api::preflight(const HttpRequest& request, std::string_view& pattern) {
  const auto match = router_.match(request.method, request.path);
  if (!match.pattern.empty()) pattern = match.pattern;
  if (match.allowed.empty()) throw ApiError(404, "not_found", "no such endpoint: " + request.path);
  auto allowed = match.allowed;
  allowed.emplace_back("OPTIONS");
  HttpResponse res;
  res.status = 204;
  res.set_header("Allow", join(allowed, ", "));
  const auto methods = join(allowed, ", ");
  cors::add_preflight_headers({methods, "Authorization, Content-Type", 600}, res);
  return res;
}

void Api::add_cors_headers(const HttpRequest& request, HttpResponse& response) const {
  cors::add_headers(options_.cors_origins, request.header("origin"), response);
}

}  // namespace souk::api
