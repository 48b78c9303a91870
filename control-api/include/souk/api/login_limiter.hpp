// Per-username login delays: after `free_failures` failed logins in a row, each
// further login for that username must wait after the last failure, 2 s, then
// 4, 8, ... (at most `window`): guessing slows down exponentially while the
// rightful owner, who waits, still gets in (there is no lock-out). A username's
// failures are forgotten after a success, or `window` without a failure.
// Usernames are kept as keyed 64-bit hashes (SipHash, a key chosen at start),
// so memory is bounded whatever clients send. Thread-safe; time is passed in.
#pragma once

#include "souk/random.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>

namespace souk::api {

class LoginLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  LoginLimiter(int free_failures, std::chrono::seconds window, std::size_t max_tracked = 100000);

  // How long the caller must wait before trying this username again, if at all.
  std::optional<std::chrono::seconds> retry_after(std::string_view username, Clock::time_point now);
  void record_failure(std::string_view username, Clock::time_point now);
  void record_success(std::string_view username);

  // The wait after the given number of failures in a row (zero below free_failures).
  std::chrono::seconds delay_after(int failures) const;
  std::size_t tracked() const;

 private:
  struct Record {
    int failures = 0;
    Clock::time_point last_failure;
  };
  std::uint64_t key(std::string_view username) const;
  bool forgotten(const Record& r, Clock::time_point now) const { return now - r.last_failure >= window_; }
  void make_room(Clock::time_point now);  // mutex_ held

  const int free_failures_;
  const std::chrono::seconds window_;
  const std::size_t max_tracked_;
  const KeyedHash hash_;
  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, Record> records_;
};

}  // namespace souk::api
