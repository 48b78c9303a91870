// A token bucket per key (a user, an address, a socket): `rate` events a second
// on average, `burst` at once. Memory is bounded whatever the keys: each key is
// kept as a keyed 64-bit hash (SipHash with a key chosen at start, so a client
// cannot aim collisions at someone else's bucket), and past `max_keys` the full
// buckets are forgotten, then the oldest. Thread-safe; time is passed in, for tests.
#pragma once

#include "souk/random.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace souk {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  RateLimiter(double rate_per_second, double burst, std::size_t max_keys = 100000);

  // Takes `cost` tokens from the key's bucket if it has them.
  bool take(std::string_view key, Clock::time_point now, double cost = 1);
  // Returns `cost` tokens taken for something that then did not happen (never
  // beyond the burst).
  void give_back(std::string_view key, Clock::time_point now, double cost = 1);
  // How long until `cost` tokens are there (zero if they are now).
  std::chrono::milliseconds wait(std::string_view key, Clock::time_point now, double cost = 1);

  double rate() const { return rate_; }
  double burst() const { return burst_; }
  std::size_t tracked_keys() const;

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  Bucket& bucket(std::uint64_t h, Clock::time_point now);  // refilled to now; mutex_ held
  void make_room(Clock::time_point now);                   // mutex_ held

  const double rate_;
  const double burst_;
  const std::size_t max_keys_;
  const KeyedHash hash_;
  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, Bucket> buckets_;
};

}  // namespace souk
