#include "souk/api/query_string.hpp"

#include <doctest/doctest.h>

using souk::api::QueryString;

TEST_CASE("query string: pairs, decoding, first value wins") {
  const auto q = QueryString::parse("status=live&limit=20&seller_id=a%2Db&x=a+b&status=ended&flag&&");
  REQUIRE(q);
  CHECK(q->get("status") == "live");
  CHECK(q->get("limit") == "20");
  CHECK(q->get("seller_id") == "a-b");
  CHECK(q->get("x") == "a b");
  CHECK(q->get("flag") == "");
  CHECK_FALSE(q->get("missing"));
  CHECK(QueryString::parse("")->get("a") == std::nullopt);
}

TEST_CASE("query string: malformed escapes") {
  for (const char* bad : {"a=%", "a=%2", "a=%zz", "%g0=1"}) {
    CAPTURE(bad);
    CHECK_FALSE(QueryString::parse(bad));
  }
}
