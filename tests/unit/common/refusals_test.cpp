#include "souk/refusals.hpp"

#include "refusal_count.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace std::chrono_literals;

using souk::test::refusal_count;

TEST_CASE("a refusal is counted under its reason") {
  const double before = refusal_count("test_reason");
  souk::count_refusal("test_reason");
  souk::count_refusal("test_reason");
  CHECK(refusal_count("test_reason") == before + 2);
}

TEST_CASE("the log throttle lets one line through per interval and counts the rest") {
  souk::LogThrottle throttle(10s);
  const auto t0 = souk::LogThrottle::Clock::time_point{} + 1h;
  CHECK(throttle.admit(t0) == std::optional<std::uint64_t>{0});
  CHECK_FALSE(throttle.admit(t0 + 1s));
  CHECK_FALSE(throttle.admit(t0 + 9s));
  CHECK(throttle.admit(t0 + 10s) == std::optional<std::uint64_t>{2});
  CHECK(throttle.admit(t0 + 30s) == std::optional<std::uint64_t>{0});
}
