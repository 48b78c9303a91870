// What rtmp-load measures: per-connection counters and keyframe send times, the
// sender's lateness histograms, and live totals for the progress line.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace rtmp_load {

using Clock = std::chrono::steady_clock;

// Lateness in microseconds: 0.1 ms buckets to 100 ms, 1 ms buckets to 10 s, then
// one overflow bucket; the exact maximum is kept beside.
class LatenessHistogram {
 public:
  LatenessHistogram();
  void add(std::int64_t micros);
  void merge(const LatenessHistogram& other);
  std::uint64_t count() const { return count_; }
  double percentile_ms(double p) const;  // p in [0, 100]
  double max_ms() const { return static_cast<double>(max_us_) / 1000.0; }
  double mean_ms() const;

 private:
  static std::size_t bucket_of(std::int64_t micros);
  static double bucket_upper_ms(std::size_t bucket);
  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0;
  std::int64_t max_us_ = 0;
  double sum_us_ = 0;
};

struct KeyframeRecord {
  std::uint32_t session = 0;    // 0 for the first publish of the connection, +1 per reconnect
  std::uint32_t timestamp = 0;  // RTMP/FLV timestamp of the keyframe (ms)
  std::int64_t sent_at_ms = 0;  // CLOCK_REALTIME when its last byte went to the socket
};

// One configured publisher (a URL), across its reconnects. Touched by one thread
// at a time (the connector while it connects, then its worker), read after join.
struct Slot {
  std::size_t index = 0;
  std::string url;
  Clock::time_point first_start{};  // when the first attempt began
  bool started = false;
  std::uint32_t attempts = 0;
  std::uint32_t established = 0;
  std::uint32_t failures = 0;
  std::uint32_t drops = 0;
  std::uint32_t completed = 0;  // sessions that sent the whole --duration
  std::uint64_t bytes_sent = 0;
  std::uint64_t tags_sent = 0;
  std::string last_error;  // never the URL (it holds the stream key)
  std::vector<KeyframeRecord> keyframes;
  bool finished = false;  // no more attempts will be made
};

// Live totals, updated with relaxed atomics by every thread.
struct Totals {
  std::atomic<std::uint64_t> attempts{0};
  std::atomic<std::uint64_t> established{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::int64_t> active{0};
  std::atomic<std::int64_t> peak_active{0};
  std::atomic<std::uint64_t> bytes_sent{0};
  std::atomic<std::uint64_t> tags_sent{0};
  std::atomic<std::uint64_t> backlogged{0};  // sessions with unsent data right now
  std::atomic<std::uint64_t> finished_slots{0};

  void session_started() {
    const auto now = active.fetch_add(1, std::memory_order_relaxed) + 1;
    auto peak = peak_active.load(std::memory_order_relaxed);
    while (now > peak && !peak_active.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
  }
};

// Failure and drop reasons, counted by kind (first words) for the report.
class ReasonCounter {
 public:
  void add(const std::string& reason) { ++counts_[reason]; }
  void merge(const ReasonCounter& other) {
    for (const auto& [k, v] : other.counts_) counts_[k] += v;
  }
  const std::map<std::string, std::uint64_t>& counts() const { return counts_; }

 private:
  std::map<std::string, std::uint64_t> counts_;
};

}  // namespace rtmp_load
