// The chat rate limit: at most N messages per user in any rolling minute,
// across all their sockets (thread-safe; time is passed in, for tests).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace souk::api {

class ChatLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // `prune_threshold`: past this many users tracked, those whose minute has
  // passed are forgotten.
  ChatLimiter(int per_minute, std::size_t prune_threshold);

  // Takes a slot for a message `user_id` sends at `now`, or nullopt if they
  // already sent per_minute() in the minute before it.
  std::optional<Clock::time_point> take(const std::string& user_id, Clock::time_point now);
  // Gives back a slot taken for a message that was then not sent.
  void give_back(const std::string& user_id, Clock::time_point slot);

  int per_minute() const { return per_minute_; }
  std::size_t tracked_users() const;

 private:
  const int per_minute_;
  const std::size_t prune_threshold_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::deque<Clock::time_point>> times_;  // by user id
};

}  // namespace souk::api
