// The chat rate limit: a rolling minute of send times per user.
#include "souk/api/realtime/chat_limiter.hpp"

#include <algorithm>

namespace souk::api {

ChatLimiter::ChatLimiter(int per_minute, std::size_t prune_threshold)
    : per_minute_(per_minute), prune_threshold_(prune_threshold) {}

std::optional<ChatLimiter::Clock::time_point> ChatLimiter::take(const std::string& user_id,
                                                                Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto& times = times_[user_id];
  while (!times.empty() && now - times.front() >= std::chrono::minutes(1)) times.pop_front();
  if (static_cast<int>(times.size()) >= per_minute_) return std::nullopt;
  times.push_back(now);
  // Forget users whose minute has passed, so the map stays as small as the
  // set of recent chatters.
  if (times_.size() > prune_threshold_) {
    std::erase_if(times_, [&](const auto& entry) {
      return entry.second.empty() || now - entry.second.back() >= std::chrono::minutes(1);
    });
  }
  return now;
}

void ChatLimiter::give_back(const std::string& user_id, Clock::time_point slot) {
  std::lock_guard lock(mutex_);
  auto it = times_.find(user_id);
  if (it == times_.end()) return;
  auto& times = it->second;
  if (auto pos = std::find(times.begin(), times.end(), slot); pos != times.end()) times.erase(pos);
}

std::size_t ChatLimiter::tracked_users() const {
  std::lock_guard lock(mutex_);
  return times_.size();
}

}  // namespace souk::api
