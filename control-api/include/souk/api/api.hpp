// The control API: turns an HttpRequest into an HttpResponse. Synchronous: it is
// called on a blocking-work thread (it hashes passwords and queries SQLite),
// never on a network thread.
#pragma once

#include "souk/api/hashing_pool.hpp"
#include "souk/api/http/http_types.hpp"
#include "souk/api/login_limiter.hpp"
#include "souk/api/passwords.hpp"
#include "souk/api/router.hpp"
#include "souk/api/stream_lifecycle.hpp"
#include "souk/rate_limiter.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace souk {
class FileCache;
}

namespace souk::storage {
class Database;
}

namespace souk::api {

class RequestContext;

struct ApiOptions {
  std::filesystem::path data_dir;
  std::string public_http_url;  // "http://host:8080", no trailing slash
  std::string public_rtmp_url;  // "rtmp://host:1935/live"
  std::vector<std::string> cors_origins = {"*"};
  int login_max_failures = 5;
  std::chrono::seconds login_window{15 * 60};
  // Failed logins allowed per minute from one client address, and from all
  // together (429 beyond): what stops spraying many usernames.
  int login_failures_per_minute_per_address = 30;
  int login_failures_per_minute = 600;
  // The hashing pool: threads that hash at once, and requests that may wait (503 beyond).
  std::size_t hash_threads = 2;
  std::size_t hash_queue = 16;
  // Product events one user may post a minute (429 beyond).
  int product_events_per_minute = 120;
  std::chrono::seconds token_lifetime{std::int64_t{30} * 86400};  // --token-ttl-seconds
  double neighborhood_radius_m = 2000;  // "users within 2 km" of the seller
  PasswordCost password_cost = PasswordCost::interactive();
  // Hot HLS files in memory, kept by the packager (optional): /hls/ requests are
  // answered from it, and segments read from disk are put there.
  FileCache* hls_cache = nullptr;
};

class Api {
 public:
  using Handler = std::function<HttpResponse(RequestContext&)>;

  Api(storage::Database& db, ApiOptions options);
  ~Api();

  HttpResponse handle(const HttpRequest& request);
  // The response handle() would give, when it needs nothing but the HLS cache:
  // a GET or HEAD of a cached /hls/ file. Never blocks (no disk, no database),
  // so it may run on a network thread; nullopt means "ask handle()".
  std::optional<HttpResponse> try_serve_cached(const HttpRequest& request);

  // The stream lifecycle (go-live, end, URLs) and its observers, registered
  // there at wiring time. The idle reaper and restart recovery use it too.
  StreamLifecycle& lifecycle() { return lifecycle_; }

  // Shared with the route files.
  storage::Database& db() { return db_; }
  const ApiOptions& options() const { return options_; }
  // data_dir / "hls" as a string: the start of every HLS cache key.
  const std::string& hls_root() const { return hls_root_; }
  const PasswordHasher& passwords() const { return passwords_; }
  // Where passwords are hashed and checked: never on the request pool itself.
  HashingPool& hashing() { return hashing_; }
  LoginLimiter& login_limiter() { return login_limiter_; }
  // Failed logins by client address, and all of them under one key.
  RateLimiter& login_failures_by_address() { return login_failures_by_address_; }
  RateLimiter& login_failures_overall() { return login_failures_overall_; }
  // Product events by user id.
  RateLimiter& product_events_by_user() { return product_events_by_user_; }
  // Every (method, path pattern) the router answers, in the order registered: what
  // the OpenAPI document must describe.
  std::vector<Router<Handler>::Entry> routes() const { return router_.entries(); }

 private:
  // Both set `pattern` to the route template the path matched, if any.
  HttpResponse route(const HttpRequest& request, std::string_view& pattern);
  HttpResponse preflight(const HttpRequest& request, std::string_view& pattern);
  // What every response gets on its way out: CORS headers, and HEAD's no body.
  HttpResponse finish(const HttpRequest& request, HttpResponse response) const;
  void add_cors_headers(const HttpRequest& request, HttpResponse& response) const;

  storage::Database& db_;
  ApiOptions options_;
  std::string hls_root_;
  std::string_view hls_route_;  // the media route's pattern, for cached responses
  PasswordHasher passwords_;
  HashingPool hashing_;
  LoginLimiter login_limiter_;
  RateLimiter login_failures_by_address_;
  RateLimiter login_failures_overall_;
  RateLimiter product_events_by_user_;
  StreamLifecycle lifecycle_;
  Router<Handler> router_;
};

// Route registration, one function per area (accounts_routes.cpp, ...).
void add_health_routes(Api& api, Router<Api::Handler>& router);
void add_account_routes(Api& api, Router<Api::Handler>& router);
void add_product_routes(Api& api, Router<Api::Handler>& router);
void add_stream_routes(Api& api, Router<Api::Handler>& router);
void add_stream_product_routes(Api& api, Router<Api::Handler>& router);
void add_media_routes(Api& api, Router<Api::Handler>& router);
void add_webhook_routes(Api& api, Router<Api::Handler>& router);
void add_openapi_routes(Router<Api::Handler>& router);
void add_metrics_routes(Api& api, Router<Api::Handler>& router);
// The media route's response from the HLS cache alone (media_routes.cpp); nullopt
// when the request is not a well-formed /hls/ path or the file is not cached.
// Throws ApiError as the route does (416).
std::optional<HttpResponse> cached_media_response(const Api& api, const HttpRequest& request);

}  // namespace souk::api
