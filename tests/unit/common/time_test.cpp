#include "souk/time.hpp"

#include <doctest/doctest.h>

using souk::format_iso8601;
using souk::parse_iso8601;

TEST_CASE("format_iso8601 prints UTC with milliseconds") {
  CHECK(format_iso8601(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_iso8601(1795515980123) == "2026-11-24T10:26:20.123Z");
  CHECK(format_iso8601(951782400000) == "2000-02-29T00:00:00.000Z");  // leap day
}

TEST_CASE("parse_iso8601 accepts zones and fractions") {
  CHECK(parse_iso8601("2026-11-24T10:26:20.123Z") == 1795515980123);
  CHECK(parse_iso8601("2026-11-24T10:26:20Z") == 1795515980000);
  CHECK(parse_iso8601("2026-11-24T10:26:20.1Z") == 1795515980100);
  CHECK(parse_iso8601("2026-11-24T10:26:20.123456Z") == 1795515980123);
  CHECK(parse_iso8601("2026-11-24T12:26:20.123+02:00") == 1795515980123);
  CHECK(parse_iso8601("2026-11-24T05:26:20.123-05:00") == 1795515980123);
}

TEST_CASE("parse_iso8601 round-trips format_iso8601") {
  for (souk::UnixMillis t : {0LL, 1LL, 86399999LL, 1795515980123LL, 4102444800000LL}) {
    CHECK(parse_iso8601(format_iso8601(t)) == t);
  }
}

TEST_CASE("parse_iso8601 rejects malformed or impossible times") {
  for (const char* bad : {"", "2026-11-24", "2026-11-24T10:26:20", "2026-13-01T00:00:00Z",
                          "2026-02-30T00:00:00Z", "2026-11-24T24:00:00Z", "2026-11-24T10:60:00Z",
                          "2026-11-24T10:26:20.Z", "2026-11-24T10:26:20Zjunk", "x026-11-24T10:26:20Z",
                          "2026-11-24T10:26:20+2:00"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_iso8601(bad).has_value());
  }
}
