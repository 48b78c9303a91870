// Shared field checks.
#include "souk/api/validate.hpp"

#include "souk/api/api_error.hpp"

namespace souk::api::validate {
namespace {

constexpr std::size_t min_password = 8;
constexpr std::size_t max_password = 128;

}  // namespace

std::size_t utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (const char ch : s) {
    if ((static_cast<unsigned char>(ch) & 0xC0) != 0x80) ++n;  // count every byte that is not a continuation byte
  }
  return n;
}

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

std::string text(const char* field, std::string_view value, std::size_t min, std::size_t max) {
  std::string t = trim(value);
  const auto len = utf8_length(t);
  if (len < min || len > max) {
    throw ApiError::invalid_value(field, std::string("'") + field + "' must be " +
                                             std::to_string(min) + " to " + std::to_string(max) +
                                             " characters");
  }
  return t;
}

void http_url(const char* field, std::string_view value) {
  const bool scheme_ok = value.starts_with("https://") || value.starts_with("http://");
  const auto host_start = value.find("://") + 3;
  bool chars_ok = value.size() <= 2048;
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f) chars_ok = false;
  }
  if (!scheme_ok || !chars_ok || host_start >= value.size() || value[host_start] == '/') {
    throw ApiError::invalid_value(field, std::string("'") + field +
                                             "' must be an http(s) URL of at most 2048 characters");
  }
}

void username(const std::string& value) {
  bool ok = value.size() >= 3 && value.size() <= 32;
  for (char c : value) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    ok = ok && allowed;
  }
  if (!ok) {
    throw ApiError::invalid_value(
        "username", "'username' must be 3 to 32 characters of letters, digits, '_', '.' or '-'");
  }
}

void password(const std::string& value) {
  const auto len = utf8_length(value);
  if (len < min_password || len > max_password) {
    throw ApiError::invalid_value("password", "'password' must be 8 to 128 characters");
  }
}

void role(const std::string& value) {
  if (value != "seller" && value != "buyer") {
    throw ApiError::invalid_value("role", "'role' must be \"seller\" or \"buyer\"");
  }
}

}  // namespace souk::api::validate
