#include "souk/rate_limiter.hpp"

#include <doctest/doctest.h>

#include <string>

using souk::RateLimiter;
using namespace std::chrono_literals;

TEST_CASE("a bucket allows its burst at once, then the rate") {
  RateLimiter limiter(2, 5);  // 2 a second, 5 at once
  const auto t0 = RateLimiter::Clock::time_point{} + 1h;
  for (int i = 0; i < 5; ++i) CHECK(limiter.take("alice", t0));
  CHECK_FALSE(limiter.take("alice", t0));
  CHECK(limiter.wait("alice", t0) == 500ms);
  CHECK_FALSE(limiter.take("alice", t0 + 499ms));
  CHECK(limiter.take("alice", t0 + 500ms));
  CHECK_FALSE(limiter.take("alice", t0 + 500ms));
  // A long pause refills to the burst, never beyond it.
  for (int i = 0; i < 5; ++i) CHECK(limiter.take("alice", t0 + 1h));
  CHECK_FALSE(limiter.take("alice", t0 + 1h));
}

TEST_CASE("keys have buckets of their own") {
  RateLimiter limiter(1, 1);
  const auto t0 = RateLimiter::Clock::time_point{} + 1h;
  CHECK(limiter.take("alice", t0));
  CHECK_FALSE(limiter.take("alice", t0));
  CHECK(limiter.take("bob", t0));
  CHECK(limiter.take("alice2", t0));
}

TEST_CASE("a cost takes several tokens, and one beyond the burst is never allowed") {
  RateLimiter limiter(10, 4);
  const auto t0 = RateLimiter::Clock::time_point{} + 1h;
  CHECK(limiter.take("k", t0, 3));
  CHECK_FALSE(limiter.take("k", t0, 3));
  CHECK(limiter.take("k", t0 + 200ms, 3));
  CHECK_FALSE(limiter.take("other", t0 + 1h, 5));
}

TEST_CASE("time that goes backwards neither refills nor breaks a bucket") {
  RateLimiter limiter(1, 1);
  const auto t0 = RateLimiter::Clock::time_point{} + 1h;
  CHECK(limiter.take("k", t0));
  CHECK_FALSE(limiter.take("k", t0 - 10s));
  CHECK(limiter.take("k", t0 + 1s));
}

TEST_CASE("memory is bounded whatever the keys: huge keys are hashed, and a spray of keys stays under the cap") {
  RateLimiter limiter(1, 2, 100);
  const auto t0 = RateLimiter::Clock::time_point{} + 1h;
  const std::string huge(1 << 20, 'x');
  CHECK(limiter.take(huge, t0));
  CHECK(limiter.take(huge, t0));
  CHECK_FALSE(limiter.take(huge, t0));
  for (int i = 0; i < 10000; ++i) limiter.take("user" + std::to_string(i), t0);
  CHECK(limiter.tracked_keys() <= 100);
  // Refilled buckets are the first to go: a key that comes back later starts full.
  for (int i = 0; i < 200; ++i) limiter.take("later" + std::to_string(i), t0 + 1h);
  CHECK(limiter.tracked_keys() <= 100);
  CHECK(limiter.take("user1", t0 + 1h));
}

TEST_CASE("tokens given back are there again, never beyond the burst") {
  RateLimiter limiter(1, 2);
  const auto t0 = RateLimiter::Clock::time_point{} + 1h;
  CHECK(limiter.take("k", t0));
  CHECK(limiter.take("k", t0));
  CHECK_FALSE(limiter.take("k", t0));
  limiter.give_back("k", t0);
  CHECK(limiter.take("k", t0));
  limiter.give_back("k", t0, 5);
  CHECK(limiter.take("k", t0));
  CHECK(limiter.take("k", t0));
  CHECK_FALSE(limiter.take("k", t0));
}
