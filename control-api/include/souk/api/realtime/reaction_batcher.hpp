// Reactions gathered per room, so that a busy room hears one reaction:new per
// emoji per interval, with its count, instead of a packet per reaction: a
// room's first reaction after a quiet interval goes out at once; those that
// follow within the interval wait for its end. Pure (no timer: time is passed
// in and the caller flushes); thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace souk::api {

struct ReactionCount {
  std::string emoji;
  std::string user_id;  // the latest of the users who reacted with it
  std::int64_t count = 0;
};

struct RoomReactions {
  std::string room;
  std::vector<ReactionCount> counts;  // by emoji, in the order each first came
};

class ReactionBatcher {
 public:
  using Clock = std::chrono::steady_clock;

  // Zero interval: every reaction is sent at once, alone.
  explicit ReactionBatcher(std::chrono::milliseconds interval) : interval_(interval) {}

  struct Added {
    std::optional<ReactionCount> send_now;  // the room was quiet: send this now
    bool flush_needed = false;  // nothing was tracked before: the caller schedules flush()
  };
  Added add(const std::string& room, const std::string& emoji, const std::string& user_id,
            Clock::time_point now);

  // The reactions of each room whose interval has ended, to send now; rooms
  // quiet for a whole interval are forgotten.
  std::vector<RoomReactions> take_due(Clock::time_point now);
  // When take_due should run next; nullopt once no room is tracked.
  std::optional<Clock::time_point> next_due() const;

  std::size_t rooms_tracked() const;
  std::chrono::milliseconds interval() const { return interval_; }

 private:
  struct Room {
    Clock::time_point last_sent;
    std::vector<ReactionCount> waiting;
  };
  const std::chrono::milliseconds interval_;
  mutable std::mutex mutex_;
  std::map<std::string, Room> rooms_;  // rooms that sent reactions within the interval
};

}  // namespace souk::api
