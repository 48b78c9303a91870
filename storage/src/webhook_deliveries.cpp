// Webhook outbox queries.
#include "souk/storage/webhook_deliveries.hpp"

#include "souk/storage/sqlite.hpp"

namespace souk::storage::webhook_deliveries {
namespace {

constexpr const char* columns =
    "id, event_id, event_type, stream_id, url, body, status, attempts, next_attempt_at,"
    " created_at, delivered_at";

WebhookDelivery read_delivery(const Statement& r) {
  WebhookDelivery d;
  d.id = r.text(0);
  d.event_id = r.text(1);
  d.event_type = r.text(2);
  d.stream_id = r.opt_text(3);
  d.url = r.text(4);
  d.body = r.text(5);
  d.status = r.text(6);
  d.attempts = r.int64(7);
  d.next_attempt_at = r.opt_int64(8);
  d.created_at = r.int64(9);
  d.delivered_at = r.opt_int64(10);
  return d;
}

// Every delivery `sql` (a SELECT of `columns`) gives.
template <class... Args>
std::vector<WebhookDelivery> select_deliveries(Connection& c, const std::string& sql, const Args&... args) {
  auto q = c.query(sql, args...);
  std::vector<WebhookDelivery> out;
  while (q.next()) out.push_back(read_delivery(q.row()));
  return out;
}

const char* status_name(AttemptOutcome o) {
  switch (o) {
    case AttemptOutcome::delivered:
      return "delivered";
    case AttemptOutcome::retry:
      return "pending";
    case AttemptOutcome::failed:
      return "failed";
  }
  return "failed";
}

}  // namespace

void insert(Connection& c, const WebhookDelivery& d) {
  c.execute(
      "INSERT INTO webhook_deliveries (id, event_id, event_type, stream_id, url, body, status,"
      " attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
      d.id, d.event_id, d.event_type, d.stream_id, d.url, d.body, d.created_at, d.created_at);
}

std::vector<WebhookDelivery> due(Connection& c, UnixMillis now, int limit) {
  static const std::string sql = std::string("SELECT ") + columns +
                                 " FROM webhook_deliveries WHERE status = 'pending'"
                                 " AND next_attempt_at <= ? ORDER BY next_attempt_at, rowid LIMIT ?";
  return select_deliveries(c, sql, now, limit);
}

std::optional<UnixMillis> next_due_at(Connection& c) {
  auto q = c.query("SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE status = 'pending'");
  if (!q.next()) return std::nullopt;
  return q->opt_int64(0);
}

void record_attempt(Connection& c, std::string_view delivery_id, const WebhookAttempt& attempt,
                    AttemptOutcome outcome, std::optional<UnixMillis> retry_at) {
  c.execute(
      "INSERT INTO webhook_attempts (delivery_id, number, attempted_at, duration_ms, http_status,"
      " error) VALUES (?, ?, ?, ?, ?, ?)",
      delivery_id, attempt.number, attempt.attempted_at, attempt.duration_ms, attempt.http_status,
      attempt.error);
  const std::optional<UnixMillis> delivered_at =
      outcome == AttemptOutcome::delivered
          ? std::optional(attempt.attempted_at + attempt.duration_ms)
          : std::nullopt;
  const auto next = outcome == AttemptOutcome::retry ? retry_at : std::nullopt;
  c.execute(
      "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?,"
      " delivered_at = ? WHERE id = ?",
      status_name(outcome), attempt.number, next, delivered_at, delivery_id);
}

std::optional<WebhookDelivery> find_by_id(Connection& c, std::string_view id) {
  static const std::string sql =
      std::string("SELECT ") + columns + " FROM webhook_deliveries WHERE id = ?";
  auto q = c.query(sql, id);
  if (!q.next()) return std::nullopt;
  return read_delivery(q.row());
}

std::vector<WebhookDelivery> list_for_stream(Connection& c, std::string_view stream_id, int limit) {
  static const std::string sql = std::string("SELECT ") + columns +
                                 " FROM webhook_deliveries WHERE stream_id = ?"
                                 " ORDER BY created_at DESC, rowid DESC LIMIT ?";
  return select_deliveries(c, sql, stream_id, limit);
}

std::vector<WebhookAttempt> attempts(Connection& c, std::string_view delivery_id) {
  auto q = c.query(
      "SELECT number, attempted_at, duration_ms, http_status, error FROM webhook_attempts"
      " WHERE delivery_id = ? ORDER BY number",
      delivery_id);
  std::vector<WebhookAttempt> out;
  while (q.next()) {
    out.push_back(WebhookAttempt{q->int64(0), q->int64(1), q->int64(2), q->opt_int64(3),
                                 q->opt_text(4)});
  }
  return out;
}

}  // namespace souk::storage::webhook_deliveries
