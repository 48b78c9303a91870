// Accounts: register, login, logout, /users/me, follow and unfollow.
#include "souk/api/api.hpp"
#include "souk/api/api_error.hpp"
#include "souk/api/request_context.hpp"
#include "souk/api/validate.hpp"
#include "souk/api/views.hpp"
#include "souk/random.hpp"
#include "souk/refusals.hpp"
#include "souk/storage/auth_tokens.hpp"
#include "souk/storage/database.hpp"
#include "souk/storage/users.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <utility>

namespace souk::api {
namespace {

using storage::Connection;

constexpr std::size_t token_bytes = 32;  // 256 bits

// Issues a token in the caller's write transaction; returns the plain value,
// which is never stored.
std::string issue_token(Api& api, Connection& c, const std::string& user_id) {
  std::string token = random_token(token_bytes);
  const auto now = now_millis();
  const auto lifetime = std::chrono::duration_cast<std::chrono::milliseconds>(
      api.options().token_lifetime);
  storage::auth_tokens::insert(c, sha256(token), user_id, now, now + lifetime.count());
  return token;
}

// Runs a password hash or check on the hashing pool, waiting for it; 503 when
// its queue is full (nothing was done: the client may simply retry).
template <class F>
auto on_hashing_pool(Api& api, F&& f) {
  auto result = api.hashing().run(std::forward<F>(f));
  if (!result) {
    count_refusal("hash_queue_full");
    ApiError e(503, "server_busy", "the server is busy checking passwords; try again shortly");
    e.headers.emplace_back("Retry-After", "1");
    throw e;
  }
  return std::move(*result);
}

ApiError rate_limited(std::string_view reason, const std::string& message, std::chrono::milliseconds wait) {
  count_refusal(reason);
  ApiError e(429, "rate_limited", message);
  const auto seconds = std::chrono::ceil<std::chrono::seconds>(wait).count();
  e.headers.emplace_back("Retry-After", std::to_string(std::max<std::int64_t>(1, seconds)));
  return e;
}

HttpResponse register_user(Api& api, RequestContext& ctx) {
  const auto body = ctx.body();
  storage::User u;
  u.username = body.required_string("username");
  const std::string password = body.required_string("password");
  u.role = body.required_string("role");
  const auto display_name = body.optional_string("display_name");
  u.avatar_url = body.optional_string("avatar_url");
  u.lat = body.optional_number("lat");
  u.lon = body.optional_number("lon");

  validate::username(u.username);
  validate::password(password);
  validate::role(u.role);
  u.display_name = display_name ? validate::text("display_name", *display_name, 1, 64) : u.username;
  if (u.avatar_url) validate::http_url("avatar_url", *u.avatar_url);
  if (u.lat.has_value() != u.lon.has_value()) {
    throw ApiError::invalid_value(u.lat ? "lon" : "lat", "'lat' and 'lon' go together");
  }
  if (u.lat && (*u.lat < -90 || *u.lat > 90)) {
    throw ApiError::invalid_value("lat", "'lat' must be between -90 and 90");
  }
  if (u.lon && (*u.lon < -180 || *u.lon > 180)) {
    throw ApiError::invalid_value("lon", "'lon' must be between -180 and 180");
  }

  const auto taken = [&](Connection& c) {
    return storage::users::find_by_username(c, u.username).has_value();
  };
  const auto username_taken = ApiError::conflict("username_taken", "that username is taken");
  // Checked before the (slow) hash, and again under the write lock for races.
  if (api.db().read(taken)) throw username_taken;
  u.password_hash = on_hashing_pool(api, [&] { return api.passwords().hash(password); });
  u.id = uuid_v4();
  u.created_at = now_millis();

  const auto token = api.db().write([&](Connection& c) {
    if (taken(c)) throw username_taken;
    storage::users::insert(c, u);
    return issue_token(api, c, u.id);
  });
  return data_response({{"user", self_json(u)}, {"token", token}}, 201);
}

HttpResponse login(Api& api, RequestContext& ctx) {
  const auto body = ctx.body();
  const std::string username = body.required_string("username");
  // No account has any other form: refused before it costs a lookup, a hash or
  // a limiter's record (a megabyte "username" used to be kept for the window).
  validate::username(username);
  const std::string password = body.required_string("password");

  // Spraying guesses over many usernames is bounded by failures per client
  // address, then by failures overall; one username's guesses by its delay.
  const auto now = LoginLimiter::Clock::now();
  const std::string& client = ctx.request().client_address;
  if (const auto wait = api.login_failures_by_address().wait(client, now); wait.count() > 0) {
    throw rate_limited("login_address_rate", "too many failed logins from this address; try again later",
                       wait);
  }
  if (const auto wait = api.login_failures_overall().wait({}, now); wait.count() > 0) {
    throw rate_limited("login_global_rate", "too many failed logins on this server; try again later", wait);
  }
  auto& limiter = api.login_limiter();
  if (const auto wait = limiter.retry_after(username, now)) {
    // Told before the password is checked, so it reveals nothing about it.
    throw rate_limited("login_delay", "too many failed logins for this username; try again later",
                       *wait);
  }

  const auto user = api.db().read(
      [&](Connection& c) { return storage::users::find_by_username(c, username); });
  const bool ok = on_hashing_pool(api, [&] {
    return user ? api.passwords().verify(user->password_hash, password)
                : (api.passwords().verify_dummy(password), false);
  });
  if (!ok) {
    const auto failed_at = LoginLimiter::Clock::now();
    limiter.record_failure(username, failed_at);
    (void)api.login_failures_by_address().take(client, failed_at);
    (void)api.login_failures_overall().take({}, failed_at);
    throw ApiError(401, "invalid_credentials", "wrong username or password");
  }
  limiter.record_success(username);
  // Told only to whoever knows the password, so it reveals nothing to a guesser.
  if (user->disabled_at) {
    throw ApiError(403, "account_disabled", "this account has been disabled by an administrator");
  }
  const auto token = api.db().write([&](Connection& c) { return issue_token(api, c, user->id); });
  return data_response({{"user", self_json(*user)}, {"token", token}});
}

HttpResponse logout(Api& api, RequestContext& ctx) {
  ctx.user();  // 401 unless the token is valid
  const auto hash = sha256(*ctx.bearer_token());
  api.db().write([&](Connection& c) { storage::auth_tokens::revoke(c, hash, now_millis()); });
  return data_response({{"loggedOut", true}});
}

// POST and DELETE /users/{id}/follow share everything but the change itself.
HttpResponse follow(Api& api, RequestContext& ctx, bool on) {
  const auto& me = ctx.user();
  const std::string seller_id(ctx.param("id"));
  if (!is_uuid(seller_id)) throw ApiError::not_found("user_not_found", "no such user");
  const auto followers = api.db().write([&](Connection& c) {
    const auto seller = storage::users::find_by_id(c, seller_id);
    if (!seller) throw ApiError::not_found("user_not_found", "no such user");
    if (on) {
      if (seller->id == me.id) {
        throw ApiError(422, "cannot_follow_self", "you cannot follow yourself");
      }
      if (seller->role != "seller") {
        throw ApiError(422, "not_a_seller", "only sellers can be followed");
      }
      storage::follows::add(c, me.id, seller->id, now_millis());
    } else {
      storage::follows::remove(c, me.id, seller->id);
    }
    return storage::follows::count_followers(c, seller->id);
  });
  return data_response({{"sellerId", seller_id}, {"following", on}, {"followerCount", followers}});
}

}  // namespace

void add_account_routes(Api& api, Router<Api::Handler>& router) {
  router.add("POST", "/api/v1/auth/register",
             [&api](RequestContext& ctx) { return register_user(api, ctx); });
  router.add("POST", "/api/v1/auth/login", [&api](RequestContext& ctx) { return login(api, ctx); });
  router.add("POST", "/api/v1/auth/logout",
             [&api](RequestContext& ctx) { return logout(api, ctx); });
  router.add("GET", "/api/v1/users/me",
             [](RequestContext& ctx) { return data_response(self_json(ctx.user())); });
  router.add("POST", "/api/v1/users/{id}/follow",
             [&api](RequestContext& ctx) { return follow(api, ctx, true); });
  router.add("DELETE", "/api/v1/users/{id}/follow",
             [&api](RequestContext& ctx) { return follow(api, ctx, false); });
}

}  // namespace souk::api
