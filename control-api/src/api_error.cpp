// ApiError and the JSON envelope.
#include "souk/api/api_error.hpp"

#include <nlohmann/json.hpp>

namespace souk::api {

ApiError ApiError::missing_field(const std::string& field) {
  return ApiError(400, "missing_field", "'" + field + "' is required", field);
}

ApiError ApiError::invalid_type(const std::string& field, const std::string& expected) {
  return ApiError(400, "invalid_type", "'" + field + "' must be " + expected, field);
}

ApiError ApiError::invalid_value(const std::string& field, const std::string& message) {
  return ApiError(422, "invalid_value", message, field);
}

ApiError ApiError::unauthorized() {
  ApiError e(401, "unauthorized", "sign in: send 'Authorization: Bearer <token>'");
  e.headers.emplace_back("WWW-Authenticate", "Bearer");
  return e;
}

ApiError ApiError::invalid_token() {
  ApiError e(401, "invalid_token", "the token is unknown, expired or revoked");
  e.headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
  return e;
}

ApiError ApiError::forbidden(const std::string& message) {
  return ApiError(403, "forbidden", message);
}

ApiError ApiError::not_found(std::string code, const std::string& message) {
  return ApiError(404, std::move(code), message);
}

ApiError ApiError::conflict(std::string code, const std::string& message) {
  return ApiError(409, std::move(code), message);
}

HttpResponse json_response(int status, const nlohmann::json& body) {
  HttpResponse res;
  res.status = status;
  res.set_header("Content-Type", "application/json; charset=utf-8");
  res.set_header("Cache-Control", "no-store");
  // Replace rather than throw on invalid UTF-8: stored text is validated on the
  // way in, so this only guards against a bug becoming a failed response.
  res.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return res;
}

HttpResponse data_response(const nlohmann::json& data, int status) {
  return json_response(status, nlohmann::json{{"data", data}});
}

HttpResponse error_response(const ApiError& e) {
  nlohmann::json err = {{"code", e.code()}, {"message", e.what()}};
  if (e.field()) err["field"] = *e.field();
  HttpResponse res = json_response(e.status(), nlohmann::json{{"error", std::move(err)}});
  for (const auto& [k, v] : e.headers) res.set_header(k, v);
  return res;
}

}  // namespace souk::api
