// JSON body parsing with field-level errors.
#include "souk/api/json_body.hpp"

#include "souk/api/api_error.hpp"

namespace souk::api {
namespace {

// nlohmann's parser recurses per nesting level: bound the depth before parsing so
// a body of a million '[' cannot exhaust the stack.
bool nesting_within(std::string_view s, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : s) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

bool is_blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

}  // namespace

JsonBody JsonBody::parse(std::string_view body, int max_depth) {
  if (is_blank(body)) return JsonBody(nlohmann::json::object());
  if (!nesting_within(body, max_depth)) {
    throw ApiError(400, "invalid_json", "the request body nests deeper than allowed");
  }
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    throw ApiError(400, "invalid_json", "the request body is not valid JSON");
  }
  if (!j.is_object()) {
    throw ApiError(400, "invalid_json", "the request body must be a JSON object");
  }
  return JsonBody(std::move(j));
}

const nlohmann::json* JsonBody::find(const char* field) const {
  auto it = json_.find(field);
  if (it == json_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool JsonBody::has(const char* field) const { return find(field) != nullptr; }

std::string JsonBody::required_string(const char* field) const {
  auto v = optional_string(field);
  if (!v) throw ApiError::missing_field(field);
  return *v;
}

std::optional<std::string> JsonBody::optional_string(const char* field) const {
  const auto* v = find(field);
  if (!v) return std::nullopt;
  if (!v->is_string()) throw ApiError::invalid_type(field, "a string");
  return v->get<std::string>();
}

std::int64_t JsonBody::required_int(const char* field) const {
  auto v = optional_int(field);
  if (!v) throw ApiError::missing_field(field);
  return *v;
}

std::optional<std::int64_t> JsonBody::optional_int(const char* field) const {
  const auto* v = find(field);
  if (!v) return std::nullopt;
  if (v->is_number_unsigned()) {
    const auto u = v->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(INT64_MAX)) {
      throw ApiError::invalid_value(field, std::string("'") + field + "' is out of range");
    }
    return static_cast<std::int64_t>(u);
  }
  if (!v->is_number_integer()) throw ApiError::invalid_type(field, "an integer");
  return v->get<std::int64_t>();
}

std::optional<double> JsonBody::optional_number(const char* field) const {
  const auto* v = find(field);
  if (!v) return std::nullopt;
  if (!v->is_number()) throw ApiError::invalid_type(field, "a number");
  return v->get<double>();
}

std::optional<bool> JsonBody::optional_bool(const char* field) const {
  const auto* v = find(field);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) throw ApiError::invalid_type(field, "true or false");
  return v->get<bool>();
}

std::optional<std::vector<std::string>> JsonBody::optional_string_array(const char* field) const {
  const auto* v = find(field);
  if (!v) return std::nullopt;
  if (!v->is_array()) throw ApiError::invalid_type(field, "an array of strings");
  std::vector<std::string> out;
  out.reserve(v->size());
  for (const auto& item : *v) {
    if (!item.is_string()) throw ApiError::invalid_type(field, "an array of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace souk::api
