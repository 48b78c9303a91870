// Sliding-window login throttling.
#include "souk/api/login_limiter.hpp"

#include <sodium.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace souk::api {

LoginLimiter::LoginLimiter(int max_failures, std::chrono::seconds window, std::size_t max_tracked)
    : max_failures_(std::max(1, max_failures)), window_(window), max_tracked_(max_tracked) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialize");
  static_assert(crypto_shorthash_KEYBYTES == 16);
  crypto_shorthash_keygen(hash_key_.data());
}

// Usernames are unique without regard to case, so "Bob" and "bob" share a record.
std::uint64_t LoginLimiter::key(std::string_view username) const {
  std::string lower(username);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  std::uint64_t h = 0;
  static_assert(crypto_shorthash_BYTES == sizeof h);
  crypto_shorthash(reinterpret_cast<unsigned char*>(&h), reinterpret_cast<const unsigned char*>(lower.data()),
                   lower.size(), hash_key_.data());
  return h;
}

void LoginLimiter::prune(std::deque<Clock::time_point>& failures, Clock::time_point now) const {
  while (!failures.empty() && failures.front() + window_ <= now) failures.pop_front();
}

void LoginLimiter::prune_all(Clock::time_point now) {
  for (auto it = failures_.begin(); it != failures_.end();) {
    prune(it->second, now);
    it = it->second.empty() ? failures_.erase(it) : std::next(it);
  }
}

std::optional<std::chrono::seconds> LoginLimiter::retry_after(std::string_view username,
                                                              Clock::time_point now) {
  const auto k = key(username);
  std::lock_guard lock(mutex_);
  auto it = failures_.find(k);
  if (it == failures_.end()) return std::nullopt;
  prune(it->second, now);
  if (static_cast<int>(it->second.size()) < max_failures_) return std::nullopt;
  // Wait until enough failures have aged out to fall below the limit.
  const auto until = it->second[it->second.size() - static_cast<std::size_t>(max_failures_)] + window_;
  const auto wait = std::chrono::ceil<std::chrono::seconds>(until - now);
  return std::max(wait, std::chrono::seconds(1));
}

void LoginLimiter::record_failure(std::string_view username, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  const auto k = key(username);
  auto it = failures_.find(k);
  if (it == failures_.end()) {
    if (failures_.size() >= max_tracked_) prune_all(now);
    // Under a spray of usernames, forget one to stay bounded rather than stop tracking.
    if (failures_.size() >= max_tracked_) failures_.erase(failures_.begin());
    it = failures_.emplace(k, std::deque<Clock::time_point>{}).first;
  }
  auto& f = it->second;
  prune(f, now);
  f.push_back(now);
  // Only the newest max_failures matter.
  while (static_cast<int>(f.size()) > max_failures_) f.pop_front();
}

void LoginLimiter::record_success(std::string_view username) {
  const auto k = key(username);
  std::lock_guard lock(mutex_);
  failures_.erase(k);
}

std::size_t LoginLimiter::tracked() const {
  std::lock_guard lock(mutex_);
  return failures_.size();
}

}  // namespace souk::api
