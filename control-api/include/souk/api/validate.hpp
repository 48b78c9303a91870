// Field checks shared by the routes. Each throws ApiError::invalid_value (422)
// naming the field.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace souk::api::validate {

// Number of Unicode code points in valid UTF-8 text.
std::size_t utf8_length(std::string_view s);

// Trims ASCII whitespace at both ends.
std::string trim(std::string_view s);

// Text of min..max code points after trimming; returns the trimmed text.
std::string text(const char* field, std::string_view value, std::size_t min, std::size_t max);

// An absolute http(s) URL of at most 2048 bytes, without spaces or control characters.
void http_url(const char* field, std::string_view value);

// Account fields, shared by POST /auth/register and `souk-live user create`.
// 3..32 letters, digits, '_', '.' or '-'.
void username(const std::string& value);
// 8..128 characters.
void password(const std::string& value);
// "seller" or "buyer".
void role(const std::string& value);

}  // namespace souk::api::validate
