// The owner's view of a stream's webhook deliveries and their attempts.
#include "souk/api/api.hpp"
#include "souk/api/api_error.hpp"
#include "souk/api/request_context.hpp"
#include "souk/api/stream_access.hpp"
#include "souk/storage/database.hpp"
#include "souk/storage/webhook_deliveries.hpp"

#include <nlohmann/json.hpp>

namespace souk::api {
namespace {

using storage::Connection;

// Newest first; a stream announces three events per receiver, so this is every
// delivery of a stream unless many receivers are configured.
constexpr int max_listed = 50;

template <class T>
nlohmann::json or_null(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::json optional_time(const std::optional<UnixMillis>& t) {
  return t ? nlohmann::json(format_iso8601(*t)) : nlohmann::json(nullptr);
}

nlohmann::json attempt_json(const storage::WebhookAttempt& a) {
  return {{"number", a.number},
          {"attemptedAt", format_iso8601(a.attempted_at)},
          {"durationMs", a.duration_ms},
          {"httpStatus", or_null(a.http_status)},
          {"error", or_null(a.error)}};
}

// The receiver as a seller may see it: scheme, host and port. Its path, query
// and user info are the operator's (a Slack-style URL carries its secret in the
// path) and stay out of the API.
std::string receiver_origin(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return {};
  const auto authority_start = scheme_end + 3;
  auto authority = url.substr(authority_start, url.find_first_of("/?#", authority_start) - authority_start);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  return std::string(url.substr(0, authority_start)) + std::string(authority);
}

nlohmann::json delivery_json(Connection& c, const storage::WebhookDelivery& d) {
  nlohmann::json attempts = nlohmann::json::array();
  for (const auto& a : storage::webhook_deliveries::attempts(c, d.id)) {
    attempts.push_back(attempt_json(a));
  }
  return {{"id", d.id},
          {"eventId", d.event_id},
          {"type", d.event_type},
          {"url", receiver_origin(d.url)},
          {"status", d.status},
          {"attemptCount", d.attempts},
          {"nextAttemptAt", optional_time(d.next_attempt_at)},
          {"createdAt", format_iso8601(d.created_at)},
          {"deliveredAt", optional_time(d.delivered_at)},
          {"attempts", std::move(attempts)}};
}

HttpResponse list_deliveries(Api& api, RequestContext& ctx) {
  const auto& me = ctx.user();
  const auto result = api.db().read([&](Connection& c) {
    const auto s = load_owned_stream(c, ctx.param("id"), me);
    nlohmann::json items = nlohmann::json::array();
    for (const auto& d : storage::webhook_deliveries::list_for_stream(c, s.id, max_listed)) {
      items.push_back(delivery_json(c, d));
    }
    return nlohmann::json{{"streamId", s.id}, {"deliveries", std::move(items)}};
  });
  return data_response(result);
}

}  // namespace

void add_webhook_routes(Api& api, Router<Api::Handler>& router) {
  router.add("GET", "/api/v1/streams/{id}/webhook-deliveries",
             [&api](RequestContext& ctx) { return list_deliveries(api, ctx); });
}

}  // namespace souk::api
