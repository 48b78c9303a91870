// Prometheus metrics: counters, gauges and fixed-bucket histograms, grouped in
// families with a capped number of label sets, rendered in the text exposition
// format 0.0.4. Written here because prometheus-cpp is not packaged in Debian 12
// (our dependencies are Debian packages) and we need only this small part of it.
//
// Cheap on hot paths: a series is looked up once (by label values, under the
// family's mutex) and then kept by reference; updating it is a relaxed atomic
// operation, with no lock and no allocation. Series are never removed, so a
// reference stays valid for the registry's lifetime.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace souk::metrics {

// A monotonically increasing count (events, bytes).
class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A value that goes up and down (sessions open, a bitrate).
class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double d) { value_.fetch_add(d, std::memory_order_relaxed); }
  void inc() { add(1); }
  void dec() { add(-1); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (upper bounds, ascending; +Inf is
// implicit). Buckets are kept per bucket and made cumulative when rendered, so
// the +Inf bucket and _count are the same number by construction.
class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void observe(double v);

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    std::uint64_t count() const { return cumulative.empty() ? 0 : cumulative.back(); }
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double>* bounds_;  // owned by the family
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_->size() + 1
  std::atomic<double> sum_{0};
};

// Latency buckets in seconds: 1 ms to 10 s.
const std::vector<double>& latency_buckets();

enum class Type { counter, gauge, histogram };

// Every series of one metric name. Beyond `max_series` label sets, new ones all
// go to a single series whose label values are all "other".
template <class T>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::size_t max_series, std::vector<double> bounds = {});

  // The series for these label values (as many as the label names), created on
  // first use. Keep the reference: this takes a lock.
  T& with(std::initializer_list<std::string_view> values);
  // The family's one series, when it has no labels.
  T& get() { return with({}); }

  const std::string& name() const { return name_; }
  void render(std::string& out) const;

 private:
  T& create(std::vector<std::string> key);

  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::size_t max_series_;
  std::vector<double> bounds_;  // histograms only
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> series_;
  T* other_ = nullptr;
};

// All families, by name. Registering a name again returns the family already
// there (so each user may look it up itself), if it has the same type and labels.
class Registry {
 public:
  // The process's registry, which /metrics renders.
  static Registry& global();

  Family<Counter>& counter(const std::string& name, const std::string& help,
                           std::vector<std::string> label_names = {}, std::size_t max_series = 1);
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       std::vector<std::string> label_names = {}, std::size_t max_series = 1);
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               std::vector<double> bounds, std::vector<std::string> label_names = {},
                               std::size_t max_series = 1);

  // Every family, sorted by name, in the text format.
  std::string render() const;

 private:
  struct Entry {
    Type type;
    std::vector<std::string> label_names;
    std::unique_ptr<Family<Counter>> counter;
    std::unique_ptr<Family<Gauge>> gauge;
    std::unique_ptr<Family<Histogram>> histogram;
  };
  Entry& entry(const std::string& name, Type type, const std::vector<std::string>& label_names);

  mutable std::mutex mutex_;
  std::map<std::string, Entry> families_;
};

// Text format helpers (exposed for tests).
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);
// A sample value as Prometheus parses it: "+Inf", "-Inf", "NaN", or the shortest
// decimal that reads back as the same double.
std::string format_value(double v);
// A label value in quotes, with \ " and newline escaped.
void append_label_value(std::string& out, std::string_view v);

// The standard process metrics (process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds,
// process_max_fds, process_start_time_seconds), read from /proc/self now.
// Families whose source cannot be read are left out.
std::string render_process_metrics();

}  // namespace souk::metrics
