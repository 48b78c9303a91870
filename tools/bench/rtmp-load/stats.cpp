// Lateness histogram of rtmp-load (see stats.hpp).
#include "stats.hpp"

#include <algorithm>
#include <cmath>

namespace rtmp_load {
namespace {
constexpr std::int64_t fine_limit_us = 100'000;       // 0.1 ms buckets below
constexpr std::int64_t coarse_limit_us = 10'000'000;  // 1 ms buckets below
constexpr std::size_t fine_buckets = fine_limit_us / 100;
constexpr std::size_t coarse_buckets = (coarse_limit_us - fine_limit_us) / 1000;
}  // namespace

LatenessHistogram::LatenessHistogram() : buckets_(fine_buckets + coarse_buckets + 1, 0) {}

std::size_t LatenessHistogram::bucket_of(std::int64_t us) {
  if (us < 0) us = 0;
  if (us < fine_limit_us) return static_cast<std::size_t>(us / 100);
  if (us < coarse_limit_us)
    return fine_buckets + static_cast<std::size_t>((us - fine_limit_us) / 1000);
  return fine_buckets + coarse_buckets;
}

double LatenessHistogram::bucket_upper_ms(std::size_t b) {
  if (b < fine_buckets) return static_cast<double>(b + 1) * 0.1;
  if (b < fine_buckets + coarse_buckets)
    return static_cast<double>(fine_limit_us) / 1000.0 + static_cast<double>(b - fine_buckets + 1);
  return static_cast<double>(coarse_limit_us) / 1000.0;
}

void LatenessHistogram::add(std::int64_t micros) {
  ++buckets_[bucket_of(micros)];
  ++count_;
  max_us_ = std::max(max_us_, micros);
  sum_us_ += static_cast<double>(std::max<std::int64_t>(micros, 0));
}

void LatenessHistogram::merge(const LatenessHistogram& other) {
  for (std::size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  max_us_ = std::max(max_us_, other.max_us_);
  sum_us_ += other.sum_us_;
}

double LatenessHistogram::percentile_ms(double p) const {
  if (count_ == 0) return 0;
  const auto rank = static_cast<std::uint64_t>(
      std::ceil(std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(count_)));
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    seen += buckets_[b];
    if (seen >= std::max<std::uint64_t>(rank, 1)) {
      // The bucket's upper edge, never above the largest value seen.
      return std::min(bucket_upper_ms(b), max_ms());
    }
  }
  return max_ms();
}

double LatenessHistogram::mean_ms() const {
  return count_ == 0 ? 0 : sum_us_ / static_cast<double>(count_) / 1000.0;
}

}  // namespace rtmp_load
