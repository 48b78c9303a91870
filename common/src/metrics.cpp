// Prometheus metrics and their text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/).
#include "souk/metrics.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace souk::metrics {
namespace {

void append_help(std::string& out, std::string_view name, std::string_view help, const char* type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  // HELP text escapes only backslash and newline.
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

// name{a="x",b="y"} or name when there are no labels; `extra` is a last label
// (a histogram's le) when not empty.
void append_series_name(std::string& out, std::string_view name, const std::vector<std::string>& labels,
                        const std::vector<std::string>& values, std::string_view extra_name = {},
                        std::string_view extra_value = {}) {
  out += name;
  if (labels.empty() && extra_name.empty()) return;
  out += '{';
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ',';
    out += labels[i];
    out += '=';
    append_label_value(out, values[i]);
  }
  if (!extra_name.empty()) {
    if (!labels.empty()) out += ',';
    out += extra_name;
    out += '=';
    append_label_value(out, extra_value);
  }
  out += '}';
}

void append_sample(std::string& out, std::string_view name, const std::vector<std::string>& labels,
                   const std::vector<std::string>& values, const std::string& value,
                   std::string_view extra_name = {}, std::string_view extra_value = {}) {
  append_series_name(out, name, labels, values, extra_name, extra_value);
  out += ' ';
  out += value;
  out += '\n';
}

const char* type_name(Type t) {
  switch (t) {
    case Type::counter: return "counter";
    case Type::gauge: return "gauge";
    case Type::histogram: return "histogram";
  }
  return "untyped";
}

template <class T>
constexpr Type type_of();
template <>
constexpr Type type_of<Counter>() { return Type::counter; }
template <>
constexpr Type type_of<Gauge>() { return Type::gauge; }
template <>
constexpr Type type_of<Histogram>() { return Type::histogram; }

template <class T>
std::unique_ptr<T> make_series(const std::vector<double>* bounds) {
  if constexpr (std::is_same_v<T, Histogram>) {
    return std::make_unique<Histogram>(bounds);
  } else {
    (void)bounds;
    return std::make_unique<T>();
  }
}

}  // namespace

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;  // reserved for Prometheus
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

void append_label_value(std::string& out, std::string_view v) {
  out += '"';
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  out += '"';
}

// --- Histogram -----------------------------------------------------------------

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds->size() + 1)) {}

void Histogram::observe(double v) {
  // Few buckets: a linear scan beats a binary search's branches.
  std::size_t i = 0;
  while (i < bounds_->size() && v > (*bounds_)[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative.resize(bounds_->size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_->size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

const std::vector<double>& latency_buckets() {
  static const std::vector<double> bounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                             0.1,   0.25,   0.5,   1,    2.5,   5, 10};
  return bounds;
}

// --- Family --------------------------------------------------------------------

template <class T>
Family<T>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                  std::size_t max_series, std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      max_series_(std::max<std::size_t>(1, max_series)),
      bounds_(std::move(bounds)) {
  if (!valid_metric_name(name_)) throw std::invalid_argument("metric name: " + name_);
  for (const auto& l : label_names_) {
    if (!valid_label_name(l)) throw std::invalid_argument(name_ + ": label name: " + l);
    if (std::is_same_v<T, Histogram> && l == "le") {
      throw std::invalid_argument(name_ + ": 'le' is the histogram's own label");
    }
  }
  if constexpr (std::is_same_v<T, Histogram>) {
    if (bounds_.empty() || !std::is_sorted(bounds_.begin(), bounds_.end()) ||
        std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end() ||
        std::any_of(bounds_.begin(), bounds_.end(), [](double b) { return !std::isfinite(b); })) {
      throw std::invalid_argument(name_ + ": bucket bounds must be finite and ascending");
    }
  }
}

template <class T>
T& Family<T>::with(std::initializer_list<std::string_view> values) {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument(name_ + ": expected " + std::to_string(label_names_.size()) +
                                " label values");
  }
  std::vector<std::string> key(values.begin(), values.end());
  std::lock_guard lock(mutex_);
  if (auto it = series_.find(key); it != series_.end()) return *it->second;
  // The cap bounds memory and the scrape's size whatever the input.
  const std::size_t own = series_.size() - (other_ ? 1 : 0);
  if (own >= max_series_) {
    if (!other_) other_ = &create(std::vector<std::string>(label_names_.size(), "other"));
    return *other_;
  }
  return create(std::move(key));
}

template <class T>
T& Family<T>::create(std::vector<std::string> key) {
  auto [it, inserted] = series_.emplace(std::move(key), nullptr);
  if (inserted) it->second = make_series<T>(&bounds_);
  return *it->second;
}

template <class T>
void Family<T>::render(std::string& out) const {
  append_help(out, name_, help_, type_name(type_of<T>()));
  std::lock_guard lock(mutex_);
  for (const auto& [values, series] : series_) {
    if constexpr (std::is_same_v<T, Counter>) {
      append_sample(out, name_, label_names_, values, std::to_string(series->value()));
    } else if constexpr (std::is_same_v<T, Gauge>) {
      append_sample(out, name_, label_names_, values, format_value(series->value()));
    } else {
      const auto snap = series->snapshot();
      const std::string bucket = name_ + "_bucket";
      for (std::size_t i = 0; i < bounds_.size(); ++i) {
        append_sample(out, bucket, label_names_, values, std::to_string(snap.cumulative[i]), "le",
                      format_value(bounds_[i]));
      }
      append_sample(out, bucket, label_names_, values, std::to_string(snap.count()), "le", "+Inf");
      append_sample(out, name_ + "_sum", label_names_, values, format_value(snap.sum));
      append_sample(out, name_ + "_count", label_names_, values, std::to_string(snap.count()));
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// --- Registry ------------------------------------------------------------------

Registry& Registry::global() {
  static Registry registry;
  return registry;
}

Registry::Entry& Registry::entry(const std::string& name, Type type,
                                 const std::vector<std::string>& label_names) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.type = type;
    it->second.label_names = label_names;
  } else if (it->second.type != type || it->second.label_names != label_names) {
    throw std::invalid_argument("metric " + name + " registered again with another type or labels");
  }
  return it->second;
}

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   std::vector<std::string> label_names, std::size_t max_series) {
  std::lock_guard lock(mutex_);
  auto& e = entry(name, Type::counter, label_names);
  if (!e.counter) {
    e.counter = std::make_unique<Family<Counter>>(name, help, std::move(label_names), max_series);
  }
  return *e.counter;
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names, std::size_t max_series) {
  std::lock_guard lock(mutex_);
  auto& e = entry(name, Type::gauge, label_names);
  if (!e.gauge) e.gauge = std::make_unique<Family<Gauge>>(name, help, std::move(label_names), max_series);
  return *e.gauge;
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<double> bounds, std::vector<std::string> label_names,
                                       std::size_t max_series) {
  std::lock_guard lock(mutex_);
  auto& e = entry(name, Type::histogram, label_names);
  if (!e.histogram) {
    e.histogram = std::make_unique<Family<Histogram>>(name, help, std::move(label_names), max_series,
                                                      std::move(bounds));
  }
  return *e.histogram;
}

std::string Registry::render() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& [name, e] : families_) {
    if (e.counter) e.counter->render(out);
    if (e.gauge) e.gauge->render(out);
    if (e.histogram) e.histogram->render(out);
  }
  return out;
}

// --- process metrics -----------------------------------------------------------

namespace {

void append_process(std::string& out, const char* name, const char* help, const char* type,
                    double value) {
  append_help(out, name, help, type);
  out += name;
  out += ' ';
  out += format_value(value);
  out += '\n';
}

// Seconds since the epoch at which the system booted (/proc/stat "btime").
std::optional<double> boot_time() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double t = 0;
      if (in >> t) return t;
      return std::nullopt;
    }
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return std::nullopt;
}

}  // namespace

std::string render_process_metrics() {
  std::string out;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));

  // /proc/self/stat: the command name may hold spaces; fields resume after ')'.
  std::ifstream stat_file("/proc/self/stat");
  const std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  if (const auto close = stat.rfind(')'); close != std::string::npos && ticks > 0) {
    std::istringstream fields(stat.substr(close + 2));
    std::vector<std::string> f;
    std::string word;
    while (fields >> word) f.push_back(word);
    // After ')' field 3 (state) is f[0]; utime 14, stime 15, starttime 22,
    // vsize 23, rss 24 (proc(5)) are f[11], f[12], f[19], f[20], f[21].
    if (f.size() > 21) {
      try {
        const double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
        append_process(out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                       "counter", cpu);
        if (const auto boot = boot_time()) {
          append_process(out, "process_start_time_seconds",
                         "Start time of the process since unix epoch in seconds.", "gauge",
                         *boot + std::stod(f[19]) / ticks);
        }
        append_process(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge",
                       std::stod(f[20]));
        append_process(out, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge",
                       std::stod(f[21]) * page);
      } catch (const std::exception&) {
        // An unreadable field: those metrics are left out of this scrape.
      }
    }
  }

  std::error_code ec;
  std::size_t fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  if (!ec) {
    // The directory iterator's own descriptor is among those listed.
    append_process(out, "process_open_fds", "Number of open file descriptors.", "gauge",
                   static_cast<double>(fds > 0 ? fds - 1 : 0));
  }
  std::ifstream limits("/proc/self/limits");
  std::string line;
  while (std::getline(limits, line)) {
    if (!line.starts_with("Max open files")) continue;
    std::istringstream words(line.substr(std::string_view("Max open files").size()));
    double soft = 0;
    if (words >> soft) {
      append_process(out, "process_max_fds", "Maximum number of open file descriptors.", "gauge", soft);
    }
    break;
  }
  return out;
}

}  // namespace souk::metrics
