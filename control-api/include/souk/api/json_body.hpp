// Reading a JSON request body field by field. Type errors are 400 naming the
// field; range and format checks (422) are the handler's, via ApiError::invalid_value.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace souk::api {

class JsonBody {
 public:
  // Parses a request body; an empty body is an empty object. Throws ApiError 400
  // (invalid_json) for malformed JSON, nesting deeper than max_depth, or a value
  // that is not an object.
  static JsonBody parse(std::string_view body, int max_depth = 32);

  bool has(const char* field) const;  // present and not null

  std::string required_string(const char* field) const;
  std::optional<std::string> optional_string(const char* field) const;
  std::int64_t required_int(const char* field) const;
  std::optional<std::int64_t> optional_int(const char* field) const;
  std::optional<double> optional_number(const char* field) const;
  std::optional<bool> optional_bool(const char* field) const;
  // An array of strings (absent or null: nullopt).
  std::optional<std::vector<std::string>> optional_string_array(const char* field) const;

  const nlohmann::json& raw() const { return json_; }

 private:
  explicit JsonBody(nlohmann::json j) : json_(std::move(j)) {}
  const nlohmann::json* find(const char* field) const;

  nlohmann::json json_;
};

}  // namespace souk::api
