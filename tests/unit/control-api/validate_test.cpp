#include "souk/api/validate.hpp"

#include "souk/api/api_error.hpp"

#include <doctest/doctest.h>

using namespace souk::api;

TEST_CASE("utf8_length counts code points") {
  CHECK(validate::utf8_length("") == 0);
  CHECK(validate::utf8_length("abc") == 3);
  CHECK(validate::utf8_length("\xE2\x9D\xA4\xEF\xB8\x8F") == 2);  // ❤️ is two code points
  CHECK(validate::utf8_length("caf\xC3\xA9") == 4);
}

TEST_CASE("text trims and bounds length") {
  CHECK(validate::text("title", "  hi  ", 1, 5) == "hi");
  CHECK_THROWS_AS(validate::text("title", "   ", 1, 5), ApiError);
  CHECK_THROWS_AS(validate::text("title", "toolong", 1, 5), ApiError);
  try {
    validate::text("title", "", 1, 5);
  } catch (const ApiError& e) {
    CHECK(e.status() == 422);
    CHECK(e.field() == "title");
  }
}

TEST_CASE("http_url accepts http(s) URLs only") {
  CHECK_NOTHROW(validate::http_url("u", "https://img.example/a.png"));
  CHECK_NOTHROW(validate::http_url("u", "http://localhost:8080/x"));
  for (const char* bad : {"", "ftp://x", "javascript:alert(1)", "https://", "https:///x",
                          "https://a b", "https://a\nb", "//x"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(validate::http_url("u", bad), ApiError);
  }
  CHECK_THROWS_AS(validate::http_url("u", "https://x/" + std::string(3000, 'a')), ApiError);
}

TEST_CASE("account fields: username, password and role, as register and the admin CLI check them") {
  for (const char* good : {"abc", "Amina_99", "a.b-c", "abcdefghijklmnopqrstuvwxyz012345"}) {
    CAPTURE(good);
    CHECK_NOTHROW(validate::username(good));
  }
  for (const char* bad : {"ab", "has space", "émile", "a/b", "abcdefghijklmnopqrstuvwxyz0123456"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(validate::username(bad), ApiError);
  }
  CHECK_NOTHROW(validate::password("12345678"));
  CHECK_NOTHROW(validate::password("ééééééé\xc3\xa9"));  // 8 characters in 16 bytes
  CHECK_THROWS_AS(validate::password("1234567"), ApiError);
  CHECK_THROWS_AS(validate::password(std::string(129, 'x')), ApiError);
  CHECK_NOTHROW(validate::role("seller"));
  CHECK_NOTHROW(validate::role("buyer"));
  try {
    validate::role("admin");
    FAIL("expected an error");
  } catch (const ApiError& e) {
    CHECK(e.status() == 422);
    CHECK(e.field() == "role");
  }
}
