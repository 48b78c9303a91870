// The webhook outbox: deliveries (one per event and receiver URL) and the
// attempts made at each. Rows are written in the transaction of the change they
// announce, so an event commits with it or not at all.
#pragma once

#include "souk/time.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace souk::storage {

class Connection;

struct WebhookDelivery {
  std::string id;
  std::string event_id;
  std::string event_type;  // stream.live, stream.ended, recording.ready
  std::optional<std::string> stream_id;
  std::string url;
  std::string body;          // the JSON sent, exactly
  std::string status;        // pending | delivered | failed
  std::int64_t attempts = 0;
  std::optional<UnixMillis> next_attempt_at;  // while pending
  UnixMillis created_at = 0;
  std::optional<UnixMillis> delivered_at;
};

struct WebhookAttempt {
  std::int64_t number = 0;  // 1-based
  UnixMillis attempted_at = 0;
  std::int64_t duration_ms = 0;
  std::optional<std::int64_t> http_status;  // the receiver's answer, if one came
  std::optional<std::string> error;         // why it failed, when it did
};

namespace webhook_deliveries {

// A new pending delivery, due at once (`d.id`, event fields, url, body, created_at).
void insert(Connection& c, const WebhookDelivery& d);

// Pending deliveries due at `now`, the longest-waiting first, at most `limit`.
std::vector<WebhookDelivery> due(Connection& c, UnixMillis now, int limit);

// When the next pending delivery falls due (nullopt: none pending).
std::optional<UnixMillis> next_due_at(Connection& c);

// Records attempt number `d.attempts + 1` and its outcome: delivered, pending again
// at `retry_at`, or failed for good (neither delivered nor a retry_at).
enum class AttemptOutcome { delivered, retry, failed };
void record_attempt(Connection& c, std::string_view delivery_id, const WebhookAttempt& attempt,
                    AttemptOutcome outcome, std::optional<UnixMillis> retry_at);

std::optional<WebhookDelivery> find_by_id(Connection& c, std::string_view id);

// A stream's deliveries, newest first, at most `limit`.
std::vector<WebhookDelivery> list_for_stream(Connection& c, std::string_view stream_id, int limit);

// A delivery's attempts, in order.
std::vector<WebhookAttempt> attempts(Connection& c, std::string_view delivery_id);

}  // namespace webhook_deliveries
}  // namespace souk::storage
