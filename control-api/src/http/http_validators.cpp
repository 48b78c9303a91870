// Conditional-request helpers (see http_validators.hpp).
#include "souk/api/http/http_validators.hpp"

namespace souk::api {

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool none_match_hits(std::string_view header, std::string_view etag) {
  while (true) {
    header = trim_ows(header);
    while (!header.empty() && header.front() == ',') header = trim_ows(header.substr(1));
    if (header.empty()) return false;
    if (header.front() == '*') return true;
    if (header.substr(0, 2) == "W/") header.remove_prefix(2);
    if (header.empty() || header.front() != '"') return false;
    const auto close = header.find('"', 1);
    if (close == std::string_view::npos) return false;
    if (header.substr(0, close + 1) == etag) return true;
    header.remove_prefix(close + 1);
  }
}

}  // namespace souk::api
