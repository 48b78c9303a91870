#include "souk/api/http/http_validators.hpp"

#include <doctest/doctest.h>

using souk::api::none_match_hits;
using souk::api::trim_ows;

TEST_CASE("http validators: trim_ows strips spaces and tabs only") {
  CHECK(trim_ows(" \t bytes \t") == "bytes");
  CHECK(trim_ows("") == "");
  CHECK(trim_ows(" \t ") == "");
  CHECK(trim_ows("a\nb") == "a\nb");
}

TEST_CASE("http validators: If-None-Match compares weakly, in lists, and * matches") {
  const std::string_view tag = "\"abc\"";
  CHECK(none_match_hits("\"abc\"", tag));
  CHECK(none_match_hits("W/\"abc\"", tag));
  CHECK(none_match_hits("\"x\", \"y\" ,W/\"abc\"", tag));
  CHECK(none_match_hits(" * ", tag));
  CHECK_FALSE(none_match_hits("", tag));
  CHECK_FALSE(none_match_hits("\"abcd\"", tag));
  CHECK_FALSE(none_match_hits("abc", tag));        // unquoted: not a tag
  CHECK_FALSE(none_match_hits("\"abc", tag));      // unterminated
  CHECK_FALSE(none_match_hits("\"x\", abc", tag));  // stops at garbage
}
