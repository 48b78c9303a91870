// Requests straight into Api::handle, for the in-process API tests (api_test,
// routes/streams_routes_test): one way to make a request and read its answer.
#pragma once

#include "souk/api/api.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <utility>

namespace souk::api::test {

struct ApiReply {
  int status;
  nlohmann::json body;  // null when the answer has no body
  HttpResponse raw;
};

inline ApiReply call_api(Api& api, const std::string& method, const std::string& target,
                         const std::string& body = "", const std::string& token = "") {
  HttpRequest req;
  req.method = method;
  req.target = target;
  split_target(target, req.path, req.query);
  req.body = body;
  if (!token.empty()) req.headers["authorization"] = "Bearer " + token;
  auto res = api.handle(req);
  auto json = res.body.empty() ? nlohmann::json() : nlohmann::json::parse(res.body);
  return {res.status, std::move(json), std::move(res)};
}

// Registers a user with password "password1"; returns {user id, token}.
inline std::pair<std::string, std::string> register_user(Api& api, const std::string& name,
                                                         const std::string& role) {
  const auto r = call_api(
      api, "POST", "/api/v1/auth/register",
      nlohmann::json{{"username", name}, {"password", "password1"}, {"role", role}}.dump());
  REQUIRE(r.status == 201);
  return {r.body["data"]["user"]["id"], r.body["data"]["token"]};
}

}  // namespace souk::api::test
