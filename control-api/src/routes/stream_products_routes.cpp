// A stream's products: tagging, the product list with counters, product
// events, and the owner's analytics.
#include "souk/api/api.hpp"
#include "souk/api/api_error.hpp"
#include "souk/api/request_context.hpp"
#include "souk/api/stream_access.hpp"
#include "souk/api/views.hpp"
#include "souk/random.hpp"
#include "souk/refusals.hpp"
#include "souk/storage/database.hpp"
#include "souk/storage/products.hpp"
#include "souk/storage/stream_products.hpp"
#include "souk/storage/stream_stats.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>

namespace souk::api {
namespace {

using storage::Connection;

// 404 unless the product is attached to the stream.
void require_attached(Connection& c, const storage::Stream& s, std::string_view product_id) {
  if (!is_uuid(product_id) || !storage::stream_products::is_attached(c, s.id, product_id)) {
    throw ApiError::not_found("product_not_in_stream", "that product is not attached to this stream");
  }
}

double coordinate(const JsonBody& body, const char* field) {
  const auto v = body.optional_number(field);
  if (!v) throw ApiError::missing_field(field);
  if (!(*v >= 0.0 && *v <= 1.0)) {
    throw ApiError::invalid_value(field, std::string("'") + field + "' must be between 0 and 1");
  }
  return *v;
}

HttpResponse tag_product(Api& api, RequestContext& ctx) {
  const auto& me = ctx.user();
  const auto body = ctx.body();
  const std::string product_id(ctx.param("pid"));
  const auto result = api.db().write([&](Connection& c) {
    const auto s = load_owned_stream(c, ctx.param("id"), me);
    if (s.status == storage::StreamStatus::ended) {
      throw ApiError::conflict("stream_ended", "products of an ended stream cannot be tagged");
    }
    // The body is judged only for the owner: anyone else gets 403 whatever they send.
    storage::ProductTag tag;
    tag.x = coordinate(body, "x");
    tag.y = coordinate(body, "y");
    const auto ts = body.optional_number("timestamp_seconds");
    if (!ts) throw ApiError::missing_field("timestamp_seconds");
    if (!(*ts >= 0.0 && *ts <= 7 * 24 * 3600.0)) {
      throw ApiError::invalid_value("timestamp_seconds", "'timestamp_seconds' must be 0 or more");
    }
    tag.timestamp_seconds = *ts;
    require_attached(c, s, product_id);
    storage::stream_products::set_tag(c, s.id, product_id, tag, now_millis());
    return nlohmann::json{{"streamId", s.id},
                          {"productId", product_id},
                          {"x", tag.x},
                          {"y", tag.y},
                          {"timestampSeconds", tag.timestamp_seconds}};
  });
  for (auto* o : api.lifecycle().observers()) o->product_tagged(result["streamId"], result);
  return data_response(result);
}

HttpResponse list_products(Api& api, RequestContext& ctx) {
  const auto products = api.db().read([&](Connection& c) {
    const auto s = load_stream(c, ctx.param("id"));
    nlohmann::json out = nlohmann::json::array();
    for (const auto& sp : storage::stream_products::list(c, s.id)) {
      out.push_back(stream_product_json(sp));
    }
    return out;
  });
  return data_response(products);
}

HttpResponse record_event(Api& api, RequestContext& ctx) {
  const auto& me = ctx.user();
  // Counted before the body is judged: a flood of bad events costs its sender too.
  const auto now = RateLimiter::Clock::now();
  if (!api.product_events_by_user().take(me.id, now)) {
    count_refusal("product_event_rate");
    ApiError e(429, "rate_limited", "too many product events; try again later");
    const auto wait = std::chrono::ceil<std::chrono::seconds>(api.product_events_by_user().wait(me.id, now));
    e.headers.emplace_back("Retry-After", std::to_string(std::max<std::int64_t>(1, wait.count())));
    throw e;
  }
  const auto body = ctx.body();
  const auto type_text = body.required_string("type");
  const auto type = storage::parse_product_event_type(type_text);
  if (!type) {
    throw ApiError::invalid_value("type", "'type' must be click, view, inquiry or purchase");
  }
  auto amount = body.optional_int("amount_cents");
  if (amount && (*amount < 0 || *amount > storage::max_purchase_cents)) {
    throw ApiError::invalid_value("amount_cents", "'amount_cents' must be between 0 and 10000000000");
  }
  if (amount && *type != storage::ProductEventType::purchase) {
    throw ApiError::invalid_value("amount_cents", "'amount_cents' is only for purchases");
  }

  const std::string product_id(ctx.param("pid"));
  const auto result = api.db().write([&](Connection& c) {
    const auto s = load_stream(c, ctx.param("id"));
    if (s.status == storage::StreamStatus::scheduled) {
      throw ApiError::conflict("stream_not_started", "the stream has not gone live yet");
    }
    // The figures of an ended stream are final (its /end reported them).
    if (s.status == storage::StreamStatus::ended) {
      throw ApiError::conflict("stream_ended", "the stream has ended; its figures are final");
    }
    require_attached(c, s, product_id);
    std::int64_t cents = 0;
    if (*type == storage::ProductEventType::purchase) {
      // Without an amount, a purchase is one item at the listed price.
      cents = amount ? *amount : storage::products::find_by_id(c, product_id)->price_cents;
    }
    if (!storage::stream_products::record_event(c, s.id, product_id, me.id, *type, cents, now_millis())) {
      count_refusal("product_revenue_limit");
      throw ApiError::invalid_value("amount_cents",
                                    "this purchase would take the product's revenue past 10^15 cents");
    }
    for (const auto& sp : storage::stream_products::list(c, s.id)) {
      if (sp.product.id != product_id) continue;
      return nlohmann::json{{"streamId", s.id},
                            {"productId", product_id},
                            {"type", type_text},
                            {"amountCents", cents},
                            {"analytics", stream_product_json(sp)["analytics"]}};
    }
    throw std::logic_error("attached product vanished inside a transaction");
  });
  return data_response(result, 201);
}

HttpResponse analytics(Api& api, RequestContext& ctx) {
  const auto& me = ctx.user();
  const auto result = api.db().read([&](Connection& c) {
    const auto s = load_owned_stream(c, ctx.param("id"), me);
    // Live streams are measured up to now; ended ones over their whole window;
    // scheduled ones have no window yet.
    storage::StreamFigures f;
    if (s.started_at) {
      const auto end = s.ended_at.value_or(std::max(now_millis(), *s.started_at));
      f = storage::compute_stream_figures(c, s.id, *s.started_at, end);
    }
    nlohmann::json products = nlohmann::json::array();
    const auto listed = storage::stream_products::list(c, s.id);
    for (const auto& sp : listed) {
      const auto& k = sp.counters;
      products.push_back({{"productId", sp.product.id},
                          {"title", sp.product.title},
                          {"clicks", k.clicks},
                          {"views", k.views},
                          {"inquiries", k.inquiries},
                          {"purchases", k.purchases},
                          {"revenueCents", k.revenue_cents}});
    }
    const auto revenue = storage::total_revenue_cents(listed);
    const auto stats = end_stats_json(f);
    return nlohmann::json{
        {"streamId", s.id},
        {"status", to_string(s.status)},
        {"basicStats",
         {{"durationSeconds", f.duration_seconds},
          {"peakViewers", f.peak_viewers},
          {"uniqueViewers", f.unique_viewers},
          {"averageWatchTimeSeconds", f.average_watch_seconds},
          {"totalWatchTimeSeconds", f.total_watch_seconds}}},
        {"engagement",
         {{"totalLikes", f.total_likes},
          {"chatMessages", f.chat_messages},
          {"reactions", stats["reactions"]}}},
        {"products", std::move(products)},
        {"revenueCents", revenue}};
  });
  return data_response(result);
}

}  // namespace

void add_stream_product_routes(Api& api, Router<Api::Handler>& router) {
  const auto bind = [&api](HttpResponse (*fn)(Api&, RequestContext&)) {
    return [&api, fn](RequestContext& ctx) { return fn(api, ctx); };
  };
  router.add("POST", "/api/v1/streams/{id}/products/{pid}/tag", bind(tag_product));
  router.add("GET", "/api/v1/streams/{id}/products", bind(list_products));
  router.add("POST", "/api/v1/streams/{id}/products/{pid}/events", bind(record_event));
  router.add("GET", "/api/v1/streams/{id}/analytics", bind(analytics));
}

}  // namespace souk::api
