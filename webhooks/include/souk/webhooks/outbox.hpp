// Webhook events into the outbox, and the dispatcher that delivers them.
//
// An event becomes one delivery row per receiver URL, written by enqueue() inside
// the caller's write transaction: the event commits with the change it announces
// or not at all. The dispatcher, a thread of its own, posts due deliveries
// (several at once), records every attempt, and retries failures with
// exponential backoff until delivered or out of attempts. Delivery is
// at-least-once: a receiver dedupes by the event id (or X-Souk-Delivery).
#pragma once

#include "souk/time.hpp"
#include "souk/webhooks/http_client.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace souk::storage {
class Connection;
class Database;
struct WebhookDelivery;
}  // namespace souk::storage

namespace souk::webhooks {

// The body every receiver gets: {"id", "type", "createdAt", "data"}.
std::string event_body(const std::string& event_id, const std::string& type, UnixMillis created_at,
                       const nlohmann::json& data);

// Writes one pending delivery of the event per URL (inside the caller's
// transaction). Returns the event id.
std::string enqueue(storage::Connection& c, const std::vector<std::string>& urls,
                    const std::string& type, const std::optional<std::string>& stream_id,
                    const nlohmann::json& data, UnixMillis now);

struct DispatcherOptions {
  std::string secret;
  std::int64_t max_attempts = 12;
  std::chrono::milliseconds retry_base{10000};
  std::chrono::milliseconds retry_cap{std::chrono::hours(1)};
  std::chrono::milliseconds request_timeout{std::chrono::seconds(10)};
  int batch = 16;  // deliveries in flight at once
};

class Dispatcher {
 public:
  Dispatcher(storage::Database& db, DispatcherOptions options);
  ~Dispatcher();  // stops
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Starts the thread; deliveries pending from a previous run go first.
  void start();
  // New deliveries were committed: look now rather than at the next due time.
  void wake();
  // Aborts requests in flight (they stay pending, to be sent again next start)
  // and joins the thread. Returns promptly.
  void stop();

 private:
  void run();
  // Sends what is due; false when nothing was.
  bool deliver_due();
  void record(const storage::WebhookDelivery& d, const PostOutcome& outcome, UnixMillis attempted_at);
  double unit_random();

  storage::Database& db_;
  DispatcherOptions options_;
  HttpPoster poster_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool woken_ = false;
  bool stopping_ = false;
};

}  // namespace souk::webhooks
