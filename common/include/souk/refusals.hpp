// What every bound the server enforces against a client shares: a counter per
// reason (souk_refused_total{reason}), so an operator sees an attack, and a
// throttle for the log line each refusal would otherwise write.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string_view>

namespace souk {

// Counts one refusal: souk_refused_total{reason="..."}. Reasons are a fixed set
// of snake_case names chosen in code (never client input), such as
// "rtmp_partial_bytes" or "reaction_rate"; docs/operations.md lists them.
void count_refusal(std::string_view reason);

// At most one log line per interval for one kind of event, however often it
// happens: admit() says whether to log now and how many were left unlogged
// since the last line. Thread-safe.
class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LogThrottle(std::chrono::milliseconds interval = std::chrono::seconds(10)) : interval_(interval) {}

  // nullopt: do not log. Otherwise log now, with the number of events since the
  // previous line that were not logged (0 for the first).
  std::optional<std::uint64_t> admit(Clock::time_point now = Clock::now());

 private:
  const std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::optional<Clock::time_point> last_;
  std::uint64_t suppressed_ = 0;
};

}  // namespace souk
