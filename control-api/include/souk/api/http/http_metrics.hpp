// HTTP request metrics: souk_http_requests_total{route,method,status} and
// souk_http_request_duration_seconds{route}, recorded by the HTTP server as each
// response leaves (the cached-HLS fast path on network threads included).
#pragma once

#include "souk/metrics.hpp"

#include <array>
#include <atomic>
#include <deque>
#include <mutex>
#include <string_view>

namespace souk::api {

class HttpMetrics {
 public:
  explicit HttpMetrics(metrics::Registry& registry = metrics::Registry::global());

  // `route` is a router pattern or a literal (HttpResponse::route): its address
  // is part of the lookup key, so it must stay valid while this object lives.
  // Lock-free once a (route, method, status) has been seen.
  void observe(std::string_view method, std::string_view route, int status, double seconds);

 private:
  struct Series {
    const char* route_data;
    std::size_t route_size;
    int method;
    int status;
    metrics::Counter* requests;
    metrics::Histogram* duration;
  };
  // An open-addressing table of published entries: readers probe without a lock;
  // a miss inserts under `mutex_` (entries are never removed). More than fit
  // (more combinations than the label caps allow anyway) share one series.
  static constexpr std::size_t table_size = 1024;
  static constexpr std::size_t max_probes = 16;

  Series& lookup(std::string_view route, int method, int status);
  Series& insert(std::string_view route, int method, int status, std::size_t home);

  metrics::Family<metrics::Counter>& requests_;
  metrics::Family<metrics::Histogram>& duration_;
  std::array<std::atomic<Series*>, table_size> table_{};
  std::mutex mutex_;
  std::deque<Series> entries_;
  Series* overflow_ = nullptr;
};

}  // namespace souk::api
