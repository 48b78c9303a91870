#include "souk/api/api_error.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace souk::api;

TEST_CASE("error envelope: code, message, and field only when given") {
  auto res = error_response(ApiError::invalid_value("x", "x must be between 0 and 1"));
  CHECK(res.status == 422);
  CHECK(res.header("Content-Type") == "application/json; charset=utf-8");
  auto j = nlohmann::json::parse(res.body);
  CHECK(j == nlohmann::json{{"error",
                             {{"code", "invalid_value"},
                              {"message", "x must be between 0 and 1"},
                              {"field", "x"}}}});

  res = error_response(ApiError::not_found("stream_not_found", "no such stream"));
  CHECK(res.status == 404);
  j = nlohmann::json::parse(res.body);
  CHECK_FALSE(j["error"].contains("field"));
  CHECK(j["error"]["code"] == "stream_not_found");
}

TEST_CASE("error envelope: extra headers are carried") {
  const auto res = error_response(ApiError::unauthorized());
  CHECK(res.status == 401);
  CHECK(res.header("WWW-Authenticate") == "Bearer");
}

TEST_CASE("data envelope") {
  const auto res = data_response({{"a", 1}}, 201);
  CHECK(res.status == 201);
  CHECK(nlohmann::json::parse(res.body) == nlohmann::json{{"data", {{"a", 1}}}});
}
