#include "souk/api/login_limiter.hpp"

#include <doctest/doctest.h>

#include <string>

using souk::api::LoginLimiter;
using namespace std::chrono_literals;

TEST_CASE("login limiter: refuses after max failures until the window passes") {
  LoginLimiter limiter(3, 60s);
  const auto t0 = LoginLimiter::Clock::time_point{} + 1000s;
  CHECK_FALSE(limiter.retry_after("bob", t0));
  limiter.record_failure("bob", t0);
  limiter.record_failure("bob", t0 + 10s);
  CHECK_FALSE(limiter.retry_after("bob", t0 + 10s));
  limiter.record_failure("bob", t0 + 20s);
  CHECK(limiter.retry_after("bob", t0 + 20s) == 40s);  // the first failure ages out at t0+60
  CHECK(limiter.retry_after("BOB", t0 + 30s) == 30s);  // usernames are case-insensitive
  CHECK_FALSE(limiter.retry_after("alice", t0 + 30s));
  CHECK_FALSE(limiter.retry_after("bob", t0 + 60s));
}

TEST_CASE("login limiter: success clears the record") {
  LoginLimiter limiter(2, 60s);
  const auto t0 = LoginLimiter::Clock::time_point{} + 1000s;
  limiter.record_failure("bob", t0);
  limiter.record_success("bob");
  limiter.record_failure("bob", t0 + 1s);
  CHECK_FALSE(limiter.retry_after("bob", t0 + 1s));
}

TEST_CASE("login limiter: retry-after is at least one second") {
  LoginLimiter limiter(1, 10s);
  const auto t0 = LoginLimiter::Clock::time_point{} + 1000s;
  limiter.record_failure("bob", t0);
  CHECK(limiter.retry_after("bob", t0 + 9999ms) == 1s);
}

TEST_CASE("login limiter: memory stays bounded under a spray of usernames") {
  LoginLimiter limiter(3, 60s, 100);
  const auto t0 = LoginLimiter::Clock::time_point{} + 1000s;
  for (int i = 0; i < 1000; ++i) limiter.record_failure("user" + std::to_string(i), t0);
  // Still tracking the latest ones.
  limiter.record_failure("target", t0);
  limiter.record_failure("target", t0);
  limiter.record_failure("target", t0);
  CHECK(limiter.retry_after("target", t0));
}

// Issue 21: a failed login's username was kept as sent for the whole window (a
// megabyte each, 100,000 of them allowed). It is kept as a 64-bit hash now.
TEST_CASE("login limiter: a huge username is kept as a hash, case-insensitively") {
  LoginLimiter limiter(2, 60s, 100);
  const auto t0 = LoginLimiter::Clock::time_point{} + 1000s;
  std::string megabyte(1 << 20, 'x');
  limiter.record_failure(megabyte, t0);
  megabyte[0] = 'X';
  limiter.record_failure(megabyte, t0);
  CHECK(limiter.tracked() == 1);
  CHECK(limiter.retry_after(megabyte, t0 + 1s));
  CHECK_FALSE(limiter.retry_after(std::string(1 << 20, 'y'), t0 + 1s));
}
