// The chat rate limit: a rolling minute per user, slots given back, pruning.
#include "souk/api/realtime/chat_limiter.hpp"

#include <doctest/doctest.h>

using souk::api::ChatLimiter;
using namespace std::chrono_literals;

TEST_CASE("chat limiter: N messages in any rolling minute, per user") {
  ChatLimiter limiter(3, 4096);
  const auto t0 = ChatLimiter::Clock::time_point{} + 1h;
  CHECK(limiter.take("u", t0));
  CHECK(limiter.take("u", t0 + 10s));
  CHECK(limiter.take("u", t0 + 20s));
  CHECK_FALSE(limiter.take("u", t0 + 30s));
  CHECK(limiter.take("other", t0 + 30s));  // each user has their own allowance
  CHECK_FALSE(limiter.take("u", t0 + 59s));
  // A minute after the first message, its slot is free again (and only that one).
  CHECK(limiter.take("u", t0 + 60s));
  CHECK_FALSE(limiter.take("u", t0 + 61s));
  CHECK(limiter.take("u", t0 + 70s));
  CHECK(limiter.per_minute() == 3);
}

TEST_CASE("chat limiter: a slot given back can be taken again") {
  ChatLimiter limiter(2, 4096);
  const auto t0 = ChatLimiter::Clock::time_point{} + 1h;
  const auto first = limiter.take("u", t0);
  REQUIRE(first);
  REQUIRE(limiter.take("u", t0 + 1s));
  CHECK_FALSE(limiter.take("u", t0 + 2s));
  limiter.give_back("u", *first);
  CHECK(limiter.take("u", t0 + 3s));
  CHECK_FALSE(limiter.take("u", t0 + 4s));
  limiter.give_back("nobody", t0);   // unknown user: nothing happens
  limiter.give_back("u", t0 + 42s);  // not a slot of theirs: nothing happens
  CHECK_FALSE(limiter.take("u", t0 + 5s));
}

TEST_CASE("chat limiter: past the threshold, users whose minute has passed are forgotten") {
  ChatLimiter limiter(1, 3);
  const auto t0 = ChatLimiter::Clock::time_point{} + 1h;
  for (const char* user : {"a", "b", "c"}) CHECK(limiter.take(user, t0));
  CHECK(limiter.tracked_users() == 3);
  CHECK(limiter.take("d", t0 + 30s));  // 4 > 3, but every minute is still running
  CHECK(limiter.tracked_users() == 4);
  CHECK(limiter.take("e", t0 + 61s));  // a, b, c have aged out
  CHECK(limiter.tracked_users() == 2);
  CHECK_FALSE(limiter.take("d", t0 + 62s));  // d's minute still runs: kept and limited
}
