#include "souk/api/login_limiter.hpp"

#include <doctest/doctest.h>

#include <string>

using souk::api::LoginLimiter;
using namespace std::chrono_literals;

namespace {
const auto t0 = LoginLimiter::Clock::time_point{} + 1000s;
}

// Issue 21: the limiter used to refuse every login, the right one included, until
// the oldest failure left the window (a 15-minute lock-out for anyone who sent 5
// bad passwords). Now the waits grow instead, and a login after one is judged.
TEST_CASE("login limiter: free failures, then waits of 2, 4, 8 s after the last failure, capped at the window") {
  LoginLimiter limiter(3, 60s);
  CHECK_FALSE(limiter.retry_after("bob", t0));
  limiter.record_failure("bob", t0);
  limiter.record_failure("bob", t0 + 1s);
  CHECK_FALSE(limiter.retry_after("bob", t0 + 1s));
  limiter.record_failure("bob", t0 + 2s);
  CHECK(limiter.retry_after("bob", t0 + 2s) == 2s);
  CHECK(limiter.retry_after("bob", t0 + 3s) == 1s);
  CHECK_FALSE(limiter.retry_after("bob", t0 + 4s));  // the wait is over: this login is judged
  limiter.record_failure("bob", t0 + 4s);
  CHECK(limiter.retry_after("bob", t0 + 4s) == 4s);
  limiter.record_failure("bob", t0 + 8s);
  CHECK(limiter.retry_after("bob", t0 + 8s) == 8s);

  CHECK(limiter.delay_after(2) == 0s);
  CHECK(limiter.delay_after(3) == 2s);
  CHECK(limiter.delay_after(4) == 4s);
  CHECK(limiter.delay_after(7) == 32s);
  CHECK(limiter.delay_after(8) == 60s);     // the window caps it
  CHECK(limiter.delay_after(1000) == 60s);  // and the exponent never overflows
}

TEST_CASE("login limiter: usernames are case-insensitive and kept apart") {
  LoginLimiter limiter(1, 60s);
  limiter.record_failure("Bob", t0);
  CHECK(limiter.retry_after("bOB", t0) == 2s);
  CHECK_FALSE(limiter.retry_after("alice", t0));
}

TEST_CASE("login limiter: the owner's success after the wait clears the record") {
  LoginLimiter limiter(2, 60s);
  limiter.record_failure("bob", t0);
  limiter.record_failure("bob", t0);
  CHECK(limiter.retry_after("bob", t0 + 1s));
  CHECK_FALSE(limiter.retry_after("bob", t0 + 2s));
  limiter.record_success("bob");
  limiter.record_failure("bob", t0 + 3s);  // one typo after it costs nothing
  CHECK_FALSE(limiter.retry_after("bob", t0 + 3s));
  CHECK(limiter.tracked() == 1);
}

TEST_CASE("login limiter: failures are forgotten a window after the last one") {
  LoginLimiter limiter(1, 10s);
  for (int i = 0; i < 5; ++i) limiter.record_failure("bob", t0);
  CHECK(limiter.retry_after("bob", t0 + 9999ms) == 1s);  // capped at the window, at least a second
  CHECK_FALSE(limiter.retry_after("bob", t0 + 10s));
  CHECK(limiter.tracked() == 0);
  limiter.record_failure("bob", t0 + 11s);  // counted from scratch
  CHECK(limiter.retry_after("bob", t0 + 11s) == 2s);
}

TEST_CASE("login limiter: memory stays bounded under a spray of usernames, huge ones included") {
  LoginLimiter limiter(3, 60s, 100);
  for (int i = 0; i < 1000; ++i) limiter.record_failure("user" + std::to_string(i), t0 + 1ms * i);
  CHECK(limiter.tracked() <= 100);
  // Issue 21: a username is kept as a 64-bit hash, whatever its length.
  const std::string megabyte(1 << 20, 'x');
  for (int i = 0; i < 3; ++i) limiter.record_failure(megabyte, t0 + 2s);
  CHECK(limiter.retry_after(megabyte, t0 + 2s) == 2s);
  CHECK(limiter.tracked() <= 100);
  // Still tracking the latest ones.
  limiter.record_failure("target", t0 + 3s);
  limiter.record_failure("target", t0 + 3s);
  limiter.record_failure("target", t0 + 3s);
  CHECK(limiter.retry_after("target", t0 + 3s));
}
