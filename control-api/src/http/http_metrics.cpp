// HTTP request counters and latency by route template, cheap enough for the
// network threads.
#include "souk/api/http/http_metrics.hpp"

#include "souk/api/http/http_types.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace souk::api {
namespace {

// Methods as a small closed set: a label must not take arbitrary client input.
constexpr std::array<std::string_view, 8> methods = {"GET",    "HEAD",    "POST", "PUT",
                                                     "PATCH",  "DELETE",  "OPTIONS", "other"};

int method_index(std::string_view method) {
  for (std::size_t i = 0; i + 1 < methods.size(); ++i) {
    if (methods[i] == method) return static_cast<int>(i);
  }
  return static_cast<int>(methods.size() - 1);
}

// Route templates number a few dozen; methods 8; statuses the server answers
// about twenty. The caps hold that with room, and bound anything unforeseen.
constexpr std::size_t max_request_series = 500;
constexpr std::size_t max_route_series = 100;

}  // namespace

HttpMetrics::HttpMetrics(metrics::Registry& registry)
    : requests_(registry.counter("souk_http_requests_total",
                                 "HTTP requests answered, by route template, method and status.",
                                 {"route", "method", "status"}, max_request_series)),
      duration_(registry.histogram("souk_http_request_duration_seconds",
                                   "Time from a whole request read to its response handed to the socket, by route template.",
                                   metrics::latency_buckets(), {"route"}, max_route_series)) {}

void HttpMetrics::observe(std::string_view method, std::string_view route, int status, double seconds) {
  if (route.empty()) route = unmatched_route;
  Series& s = lookup(route, method_index(method), status);
  s.requests->inc();
  s.duration->observe(seconds);
}

HttpMetrics::Series& HttpMetrics::lookup(std::string_view route, int method, int status) {
  const std::size_t h = std::hash<const void*>{}(route.data()) ^
                        (static_cast<std::size_t>(method) * 0x9e3779b97f4a7c15ull) ^
                        (static_cast<std::size_t>(status) * 0xc2b2ae3d27d4eb4full);
  const std::size_t home = (h ^ (h >> 17)) % table_size;
  for (std::size_t i = 0; i < max_probes; ++i) {
    Series* s = table_[(home + i) % table_size].load(std::memory_order_acquire);
    if (s == nullptr) break;
    if (s->route_data == route.data() && s->route_size == route.size() && s->method == method &&
        s->status == status) {
      return *s;
    }
  }
  return insert(route, method, status, home);
}

HttpMetrics::Series& HttpMetrics::insert(std::string_view route, int method, int status,
                                         std::size_t home) {
  std::lock_guard lock(mutex_);
  const std::string status_text = std::to_string(status);
  for (std::size_t i = 0; i < max_probes; ++i) {
    auto& slot = table_[(home + i) % table_size];
    Series* s = slot.load(std::memory_order_acquire);
    if (s != nullptr) {
      // Another thread may have inserted it meanwhile.
      if (s->route_data == route.data() && s->route_size == route.size() && s->method == method &&
          s->status == status) {
        return *s;
      }
      continue;
    }
    entries_.push_back(Series{route.data(), route.size(), method, status,
                              &requests_.with({route, methods[static_cast<std::size_t>(method)], status_text}),
                              &duration_.with({route})});
    slot.store(&entries_.back(), std::memory_order_release);
    return entries_.back();
  }
  // Every slot near home is taken: count it in the families' "other" series
  // (the caps are far below the table's size, so this is rare and bounded).
  if (!overflow_) {
    entries_.push_back(Series{nullptr, 0, -1, -1, &requests_.with({"other", "other", "other"}),
                              &duration_.with({"other"})});
    overflow_ = &entries_.back();
  }
  return *overflow_;
}

}  // namespace souk::api
