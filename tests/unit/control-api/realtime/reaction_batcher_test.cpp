// The reaction batcher: a quiet room's reaction goes at once; a busy room's wait
// for the interval's end and go out as one count per emoji (issue 21).
#include "souk/api/realtime/reaction_batcher.hpp"

#include <doctest/doctest.h>

using namespace souk::api;
using namespace std::chrono_literals;

namespace {

const std::string heart = "\u2764\uFE0F";
const std::string fire = "\U0001F525";

}  // namespace

TEST_CASE("reaction batcher: the first reaction goes at once, the rest wait for the interval") {
  ReactionBatcher b(200ms);
  const auto t0 = ReactionBatcher::Clock::now();
  auto first = b.add("room", heart, "u1", t0);
  REQUIRE(first.send_now);
  CHECK(first.send_now->emoji == heart);
  CHECK(first.send_now->user_id == "u1");
  CHECK(first.send_now->count == 1);
  CHECK(first.flush_needed);  // nothing was tracked: the caller arms its timer

  // Within the interval: gathered per emoji, the latest user kept.
  for (int i = 0; i < 500; ++i) {
    std::string user = "u";  // (not "u" + to_string: GCC 12 warns falsely, -Wrestrict)
    user += std::to_string(i);
    const auto added = b.add("room", i % 3 == 0 ? fire : heart, user, t0 + 1ms);
    CHECK_FALSE(added.send_now);
    CHECK_FALSE(added.flush_needed);  // the timer is armed already
  }
  CHECK(b.take_due(t0 + 199ms).empty());
  CHECK(b.next_due() == t0 + 200ms);

  const auto due = b.take_due(t0 + 200ms);
  REQUIRE(due.size() == 1);
  CHECK(due[0].room == "room");
  REQUIRE(due[0].counts.size() == 2);
  CHECK(due[0].counts[0].emoji == fire);  // the order each emoji first came in
  CHECK(due[0].counts[0].count == 167);
  CHECK(due[0].counts[0].user_id == "u498");
  CHECK(due[0].counts[1].emoji == heart);
  CHECK(due[0].counts[1].count == 333);
  CHECK(due[0].counts[1].user_id == "u499");

  // Sent at t0 + 200 ms: the next reaction within 200 ms of that waits too.
  CHECK_FALSE(b.add("room", heart, "u1", t0 + 300ms).send_now);
  CHECK(b.take_due(t0 + 400ms).at(0).counts.at(0).count == 1);

  // A whole interval with nothing waiting: the room is forgotten, and its next
  // reaction goes at once again.
  CHECK(b.take_due(t0 + 600ms).empty());
  CHECK(b.rooms_tracked() == 0);
  CHECK_FALSE(b.next_due());
  const auto later = b.add("room", heart, "u2", t0 + 700ms);
  CHECK(later.send_now);
  CHECK(later.flush_needed);
}

TEST_CASE("reaction batcher: rooms are batched apart") {
  ReactionBatcher b(100ms);
  const auto t0 = ReactionBatcher::Clock::now();
  CHECK(b.add("a", heart, "u1", t0).send_now);
  CHECK(b.add("b", heart, "u1", t0).send_now);  // another room: its own first
  CHECK_FALSE(b.add("a", heart, "u2", t0 + 10ms).send_now);
  const auto due = b.take_due(t0 + 100ms);
  REQUIRE(due.size() == 1);
  CHECK(due[0].room == "a");
  CHECK(b.rooms_tracked() == 1);  // b was quiet for the interval
}

TEST_CASE("reaction batcher: a zero interval sends every reaction at once and keeps nothing") {
  ReactionBatcher b(0ms);
  const auto t0 = ReactionBatcher::Clock::now();
  for (int i = 0; i < 10; ++i) {
    const auto added = b.add("room", fire, "u1", t0);
    REQUIRE(added.send_now);
    CHECK(added.send_now->count == 1);
    CHECK_FALSE(added.flush_needed);
  }
  CHECK(b.rooms_tracked() == 0);
  CHECK_FALSE(b.next_due());
}
