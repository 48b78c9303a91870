// API failures and the response envelope of docs/api.md:
//   success {"data": ...}; failure {"error": {"code", "message", "field"?}}.
// Handlers throw ApiError; the dispatcher turns it into the JSON response.
#pragma once

#include "souk/api/http/http_types.hpp"

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <stdexcept>
#include <string>

namespace souk::api {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string code, const std::string& message,
           std::optional<std::string> field = std::nullopt)
      : std::runtime_error(message), status_(status), code_(std::move(code)), field_(std::move(field)) {}

  int status() const { return status_; }
  const std::string& code() const { return code_; }
  const std::optional<std::string>& field() const { return field_; }

  // Extra response headers (Retry-After, Allow, WWW-Authenticate).
  std::vector<std::pair<std::string, std::string>> headers;

  // The common cases.
  static ApiError missing_field(const std::string& field);
  static ApiError invalid_type(const std::string& field, const std::string& expected);
  static ApiError invalid_value(const std::string& field, const std::string& message);
  static ApiError unauthorized();
  static ApiError invalid_token();
  static ApiError forbidden(const std::string& message);
  static ApiError not_found(std::string code, const std::string& message);
  static ApiError conflict(std::string code, const std::string& message);

 private:
  int status_;
  std::string code_;
  std::optional<std::string> field_;
};

HttpResponse json_response(int status, const nlohmann::json& body);
HttpResponse data_response(const nlohmann::json& data, int status = 200);
HttpResponse error_response(const ApiError& e);

}  // namespace souk::api
