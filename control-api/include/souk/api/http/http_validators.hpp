// Pieces of HTTP header handling shared by the routes that answer conditional
// requests (media files, the OpenAPI document).
#pragma once

#include <string_view>

namespace souk::api {

// `s` without leading and trailing spaces and tabs (HTTP's optional whitespace).
std::string_view trim_ows(std::string_view s);

// If-None-Match: "*" or a list of tags, compared weakly (RFC 7232 §3.2, §2.3.2).
// `etag` is a strong tag with its quotes: "\"abc\"".
bool none_match_hits(std::string_view header, std::string_view etag);

}  // namespace souk::api
