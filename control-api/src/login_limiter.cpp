// Growing login delays per username, keyed by hash.
#include "souk/api/login_limiter.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace souk::api {

LoginLimiter::LoginLimiter(int free_failures, std::chrono::seconds window, std::size_t max_tracked)
    : free_failures_(std::max(1, free_failures)),
      window_(std::max(window, std::chrono::seconds(1))),
      max_tracked_(std::max<std::size_t>(1, max_tracked)) {
}

// Usernames are unique without regard to case, so "Bob" and "bob" share a record.
std::uint64_t LoginLimiter::key(std::string_view username) const {
  std::string lower(username);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return hash_(lower);
}

std::chrono::seconds LoginLimiter::delay_after(int failures) const {
  if (failures < free_failures_) return std::chrono::seconds(0);
  // 2^(k+1) seconds for the k-th failure past the free ones; past 2^20 the cap
  // (at most a week) has long been reached, and the shift stays defined.
  const int exponent = std::min(failures - free_failures_ + 1, 20);
  return std::min(window_, std::chrono::seconds(std::int64_t{1} << exponent));
}

std::optional<std::chrono::seconds> LoginLimiter::retry_after(std::string_view username,
                                                              Clock::time_point now) {
  const auto k = key(username);
  std::lock_guard lock(mutex_);
  const auto it = records_.find(k);
  if (it == records_.end()) return std::nullopt;
  if (forgotten(it->second, now)) {
    records_.erase(it);
    return std::nullopt;
  }
  const auto until = it->second.last_failure + delay_after(it->second.failures);
  if (until <= now) return std::nullopt;
  return std::max(std::chrono::ceil<std::chrono::seconds>(until - now), std::chrono::seconds(1));
}

void LoginLimiter::make_room(Clock::time_point now) {
  // First the records that have been forgotten anyway.
  for (auto it = records_.begin(); it != records_.end();) {
    it = forgotten(it->second, now) ? records_.erase(it) : std::next(it);
  }
  if (records_.size() < max_tracked_) return;
  // Under a spray of usernames, the oldest failure goes: its delay is the nearest to over.
  const auto oldest = std::min_element(records_.begin(), records_.end(), [](const auto& a, const auto& b) {
    return a.second.last_failure < b.second.last_failure;
  });
  records_.erase(oldest);
}

void LoginLimiter::record_failure(std::string_view username, Clock::time_point now) {
  const auto k = key(username);
  std::lock_guard lock(mutex_);
  auto it = records_.find(k);
  if (it == records_.end()) {
    if (records_.size() >= max_tracked_) make_room(now);
    it = records_.emplace(k, Record{}).first;
  } else if (forgotten(it->second, now)) {
    it->second.failures = 0;
  }
  Record& r = it->second;
  r.failures = std::min(r.failures + 1, free_failures_ + 1000);  // the delay is capped long before
  r.last_failure = std::max(r.last_failure, now);
}

void LoginLimiter::record_success(std::string_view username) {
  const auto k = key(username);
  std::lock_guard lock(mutex_);
  records_.erase(k);
}

std::size_t LoginLimiter::tracked() const {
  std::lock_guard lock(mutex_);
  return records_.size();
}

}  // namespace souk::api
