// The webhook outbox and its dispatcher.
#include "souk/webhooks/outbox.hpp"

#include "souk/log.hpp"
#include "souk/random.hpp"
#include "souk/storage/database.hpp"
#include "souk/storage/webhook_deliveries.hpp"
#include "souk/webhooks/signature.hpp"

#include <sodium.h>

#include <algorithm>

namespace souk::webhooks {
namespace {

using storage::webhook_deliveries::AttemptOutcome;

// With nothing due, the dispatcher still looks this often (a clock step, a row
// written by another process on the same database).
constexpr auto idle_poll = std::chrono::seconds(30);

}  // namespace

std::string event_body(const std::string& event_id, const std::string& type, UnixMillis created_at,
                       const nlohmann::json& data) {
  return nlohmann::json{{"id", event_id},
                        {"type", type},
                        {"createdAt", format_iso8601(created_at)},
                        {"data", data}}
      .dump();
}

std::string enqueue(storage::Connection& c, const std::vector<std::string>& urls,
                    const std::string& type, const std::optional<std::string>& stream_id,
                    const nlohmann::json& data, UnixMillis now) {
  auto event_id = uuid_v4();
  const auto body = event_body(event_id, type, now, data);
  for (const auto& url : urls) {
    storage::WebhookDelivery d;
    d.id = uuid_v4();
    d.event_id = event_id;
    d.event_type = type;
    d.stream_id = stream_id;
    d.url = url;
    d.body = body;
    d.created_at = now;
    storage::webhook_deliveries::insert(c, d);
  }
  return event_id;
}

Dispatcher::Dispatcher(storage::Database& db, DispatcherOptions options)
    : db_(db), options_(std::move(options)) {}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::start() {
  thread_ = std::thread([this] { run(); });
}

void Dispatcher::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  cv_.notify_one();
}

void Dispatcher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_one();
  poster_.cancel();
  if (thread_.joinable()) thread_.join();
}

void Dispatcher::run() {
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      woken_ = false;  // what the wake was for is read below
    }
    bool sent = false;
    std::optional<UnixMillis> next_due;
    try {
      sent = deliver_due();
      if (!sent) next_due = db_.read([](storage::Connection& c) {
        return storage::webhook_deliveries::next_due_at(c);
      });
    } catch (const std::exception& e) {
      // The database failed (a full disk, say): try again a little later.
      log::error("webhook dispatch failed", {{"error", e.what()}});
      next_due = now_millis() + 1000;
    }
    if (sent) continue;  // more may be due already

    std::unique_lock lock(mutex_);
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(idle_poll);
    if (next_due) {
      wait = std::clamp(std::chrono::milliseconds(*next_due - now_millis()),
                        std::chrono::milliseconds(0), wait);
    }
    cv_.wait_for(lock, wait, [this] { return woken_ || stopping_; });
  }
}

bool Dispatcher::deliver_due() {
  const auto now = now_millis();
  const auto due = db_.read([&](storage::Connection& c) {
    return storage::webhook_deliveries::due(c, now, options_.batch);
  });
  if (due.empty()) return false;

  std::vector<storage::WebhookDelivery> jobs;
  std::vector<PostRequest> requests;
  for (const auto& d : due) {
    PostRequest r;
    try {
      r.url = parse_http_url(d.url);
    } catch (const std::invalid_argument& e) {
      // Written by a run with other settings; it can never be sent.
      record(d, PostOutcome{std::nullopt, e.what(), false, {}}, now);
      continue;
    }
    r.body = d.body;
    // Signed as sent: each attempt gets a fresh timestamp, so a retry an hour
    // later still passes a receiver's replay window.
    const auto unix_seconds = now_millis() / 1000;
    r.headers = {{"Content-Type", "application/json"},
                 {"X-Souk-Event", d.event_type},
                 {"X-Souk-Delivery", d.id},
                 {"X-Souk-Signature", signature_header(options_.secret, unix_seconds, d.body)}};
    jobs.push_back(d);
    requests.push_back(std::move(r));
  }
  const auto outcomes = poster_.post_all(requests, options_.request_timeout);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    // Cut short by shutdown: still pending, sent again after the restart.
    if (outcomes[i].cancelled) continue;
    record(jobs[i], outcomes[i], now);
  }
  return true;
}

void Dispatcher::record(const storage::WebhookDelivery& d, const PostOutcome& outcome,
                        UnixMillis attempted_at) {
  storage::WebhookAttempt attempt;
  attempt.number = d.attempts + 1;
  attempt.attempted_at = attempted_at;
  attempt.duration_ms = outcome.duration.count();
  if (outcome.status) attempt.http_status = *outcome.status;
  if (!outcome.error.empty()) attempt.error = outcome.error;

  const bool delivered = outcome.status && *outcome.status >= 200 && *outcome.status < 300;
  AttemptOutcome result = AttemptOutcome::delivered;
  std::optional<UnixMillis> retry_at;
  if (!delivered) {
    if (attempt.number >= options_.max_attempts) {
      result = AttemptOutcome::failed;
    } else {
      result = AttemptOutcome::retry;
      retry_at = now_millis() +
                 retry_delay(attempt.number, options_.retry_base, options_.retry_cap, unit_random()).count();
    }
  }
  db_.write([&](storage::Connection& c) {
    storage::webhook_deliveries::record_attempt(c, d.id, attempt, result, retry_at);
  });

  const std::string what = outcome.status ? "HTTP " + std::to_string(*outcome.status) : outcome.error;
  const auto url = without_query(d.url);
  switch (result) {
    case AttemptOutcome::delivered:
      log::info("webhook delivered", {{"delivery_id", d.id}, {"event", d.event_type}, {"url", url},
                                      {"attempt", attempt.number}, {"duration_ms", attempt.duration_ms}});
      break;
    case AttemptOutcome::retry:
      log::warn("webhook attempt failed",
                {{"delivery_id", d.id}, {"event", d.event_type}, {"url", url},
                 {"attempt", attempt.number}, {"result", what},
                 {"retry_in_ms", *retry_at - now_millis()}});
      break;
    case AttemptOutcome::failed:
      log::error("webhook failed for good", {{"delivery_id", d.id}, {"event", d.event_type},
                                             {"url", url}, {"attempt", attempt.number},
                                             {"result", what}});
      break;
  }
}

double Dispatcher::unit_random() {
  return static_cast<double>(randombytes_uniform(1u << 30)) / static_cast<double>(1u << 30);
}

}  // namespace souk::webhooks
