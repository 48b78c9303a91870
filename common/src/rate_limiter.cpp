// Token buckets by keyed hash.
#include "souk/rate_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace souk {

RateLimiter::RateLimiter(double rate_per_second, double burst, std::size_t max_keys)
    : rate_(rate_per_second), burst_(std::max(1.0, burst)), max_keys_(std::max<std::size_t>(1, max_keys)) {
  if (!(rate_per_second > 0)) throw std::invalid_argument("rate limiter: the rate must be positive");
}

void RateLimiter::make_room(Clock::time_point now) {
  // First the buckets that have refilled: forgetting them changes nothing.
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    const double seconds = std::chrono::duration<double>(now - it->second.updated).count();
    it = it->second.tokens + seconds * rate_ >= burst_ ? buckets_.erase(it) : std::next(it);
  }
  if (buckets_.size() < max_keys_) return;
  // Under a spray of keys, the oldest go (they are the nearest to full).
  const auto oldest = std::min_element(buckets_.begin(), buckets_.end(), [](const auto& a, const auto& b) {
    return a.second.updated < b.second.updated;
  });
  buckets_.erase(oldest);
}

RateLimiter::Bucket& RateLimiter::bucket(std::uint64_t h, Clock::time_point now) {
  auto it = buckets_.find(h);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) make_room(now);
    return buckets_.emplace(h, Bucket{burst_, now}).first->second;
  }
  Bucket& b = it->second;
  if (now > b.updated) {
    const double seconds = std::chrono::duration<double>(now - b.updated).count();
    b.tokens = std::min(burst_, b.tokens + seconds * rate_);
    b.updated = now;
  }
  return b;
}

bool RateLimiter::take(std::string_view key, Clock::time_point now, double cost) {
  const auto h = hash_(key);
  std::lock_guard lock(mutex_);
  Bucket& b = bucket(h, now);
  if (b.tokens < cost) return false;
  b.tokens -= cost;
  return true;
}

void RateLimiter::give_back(std::string_view key, Clock::time_point now, double cost) {
  const auto h = hash_(key);
  std::lock_guard lock(mutex_);
  Bucket& b = bucket(h, now);
  b.tokens = std::min(burst_, b.tokens + cost);
}

std::chrono::milliseconds RateLimiter::wait(std::string_view key, Clock::time_point now, double cost) {
  const auto h = hash_(key);
  std::lock_guard lock(mutex_);
  const Bucket& b = bucket(h, now);
  if (b.tokens >= cost) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil((cost - b.tokens) / rate_ * 1000)));
}

std::size_t RateLimiter::tracked_keys() const {
  std::lock_guard lock(mutex_);
  return buckets_.size();
}

}  // namespace souk
