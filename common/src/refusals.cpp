// The refusal counter and the log throttle.
#include "souk/refusals.hpp"

#include "souk/metrics.hpp"

#include <string>
#include <utility>

namespace souk {

void count_refusal(std::string_view reason) {
  // Reasons come from code, so the set is small; the cap only guards a mistake.
  static auto& family = metrics::Registry::global().counter(
      "souk_refused_total", "Requests, messages and connections refused by a bound on what one client may use.",
      {"reason"}, 64);
  family.with({reason}).inc();
}

std::optional<std::uint64_t> LogThrottle::admit(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (last_ && now - *last_ < interval_) {
    ++suppressed_;
    return std::nullopt;
  }
  last_ = now;
  return std::exchange(suppressed_, 0);
}

}  // namespace souk
