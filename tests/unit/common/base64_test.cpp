#include "souk/base64.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

TEST_CASE("base64url round trip and rejects") {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "1:4a27787a", std::string("\0\xff", 2)}) {
    CHECK(souk::base64url_decode(souk::base64url_encode(s)) == s);
  }
  CHECK(souk::base64url_encode("\xfb\xff") == "-_8");
  CHECK_FALSE(souk::base64url_decode("a+b/"));
  CHECK_FALSE(souk::base64url_decode("YQ=="));  // padding is not ours
  CHECK_FALSE(souk::base64url_decode("!!!"));
}
