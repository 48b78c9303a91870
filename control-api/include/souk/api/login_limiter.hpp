// Per-username login throttling: after `max_failures` failed logins within
// `window`, further attempts are refused until the oldest failure leaves the
// window. Thread-safe; memory bounded whatever clients send: usernames are kept
// as keyed 64-bit hashes (SipHash, a key chosen at start), never as sent.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>

namespace souk::api {

class LoginLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  LoginLimiter(int max_failures, std::chrono::seconds window, std::size_t max_tracked = 100000);

  // How long the caller must wait before trying this username again, if at all.
  std::optional<std::chrono::seconds> retry_after(std::string_view username, Clock::time_point now);
  void record_failure(std::string_view username, Clock::time_point now);
  void record_success(std::string_view username);

  // Usernames with failures on record.
  std::size_t tracked() const;

 private:
  std::uint64_t key(std::string_view username) const;
  void prune(std::deque<Clock::time_point>& failures, Clock::time_point now) const;
  void prune_all(Clock::time_point now);

  int max_failures_;
  std::chrono::seconds window_;
  std::size_t max_tracked_;
  std::array<unsigned char, 16> hash_key_{};
  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, std::deque<Clock::time_point>> failures_;
};

}  // namespace souk::api
