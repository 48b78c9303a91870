// What a route handler gets: the request, its path parameters, and helpers for
// the body and the caller's identity.
#pragma once

#include "souk/api/http/http_types.hpp"
#include "souk/api/json_body.hpp"
#include "souk/api/router.hpp"
#include "souk/storage/users.hpp"

#include <optional>
#include <string_view>

namespace souk::api {

class Api;

class RequestContext {
 public:
  RequestContext(Api& api, const HttpRequest& request, PathParams params)
      : api_(api), request_(request), params_(std::move(params)) {}

  const HttpRequest& request() const { return request_; }
  std::string_view param(std::string_view name) const { return params_.get(name); }
  Api& api() { return api_; }

  // The body as a JSON object (400 if it is not one).
  JsonBody body() const { return JsonBody::parse(request_.body); }

  // The caller: 401 without a valid bearer token.
  const storage::User& user();
  // The caller if a token was sent (401 if the token is bad), else nullopt.
  const storage::User* optional_user();
  // The bearer token as sent, if any.
  std::optional<std::string_view> bearer_token() const;

 private:
  Api& api_;
  const HttpRequest& request_;
  PathParams params_;
  bool user_loaded_ = false;
  std::optional<storage::User> user_;
};

}  // namespace souk::api
