// URL query strings: "status=live&limit=20" with percent-decoding.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace souk::api {

class QueryString {
 public:
  // nullopt for a malformed percent escape.
  static std::optional<QueryString> parse(std::string_view query);

  // The first value of `name`, if present.
  std::optional<std::string> get(std::string_view name) const;

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// Decodes %XX escapes and '+' (as space); nullopt when malformed.
std::optional<std::string> percent_decode(std::string_view s);

}  // namespace souk::api
