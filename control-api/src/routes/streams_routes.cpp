// The stream routes: create, attach products, settings, go-live, end, details,
// discovery. Going live and ending are StreamLifecycle's; these read the request
// and shape the answer. (Tags, product lists, events and analytics are in
// stream_products_routes.cpp.)
#include "souk/api/api.hpp"
#include "souk/api/api_error.hpp"
#include "souk/api/query_string.hpp"
#include "souk/api/request_context.hpp"
#include "souk/api/stream_access.hpp"
#include "souk/api/stream_lifecycle.hpp"
#include "souk/api/validate.hpp"
#include "souk/api/views.hpp"
#include "souk/base64.hpp"
#include "souk/log.hpp"
#include "souk/random.hpp"
#include "souk/storage/database.hpp"
#include "souk/storage/products.hpp"
#include "souk/storage/stream_products.hpp"
#include "souk/storage/streams.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <set>

namespace souk::api {
namespace {

using storage::Connection;
using storage::Stream;
using storage::StreamSettings;

constexpr std::size_t max_products_per_stream = 100;
constexpr int default_page = 20;
constexpr int max_page = 100;

// Applies the settings fields present in `body` over `s` (create and PATCH share
// this, so the rules cannot drift apart).
void apply_settings(const JsonBody& body, StreamSettings& s, bool title_required) {
  if (title_required || body.has("title")) {
    s.title = validate::text("title", body.required_string("title"), 1, 200);
  }
  if (body.raw().contains("description")) {
    const auto d = body.optional_string("description");
    s.description = d ? std::optional(validate::text("description", *d, 0, 2000)) : std::nullopt;
  }
  if (body.raw().contains("category")) {
    const auto c = body.optional_string("category");
    s.category = c ? std::optional(validate::text("category", *c, 1, 64)) : std::nullopt;
  }
  if (const auto a = body.optional_string("audience")) {
    if (*a != "everyone" && *a != "followers" && *a != "neighborhood") {
      throw ApiError::invalid_value("audience",
                                    "'audience' must be everyone, followers or neighborhood");
    }
    s.audience = *a;
  }
  if (body.raw().contains("estimated_duration")) {
    const auto d = body.optional_int("estimated_duration");
    if (d && (*d < 5 || *d > 240)) {
      throw ApiError::invalid_value("estimated_duration",
                                    "'estimated_duration' must be 5 to 240 minutes");
    }
    s.estimated_duration = d;
  }
  const auto flag = [&](const char* name, bool& field) {
    if (const auto v = body.optional_bool(name)) field = *v;
  };
  flag("notify_followers", s.notify_followers);
  flag("notify_neighborhood", s.notify_neighborhood);
  flag("enable_chat", s.enable_chat);
  flag("enable_comments", s.enable_comments);
  flag("record_stream", s.record_stream);
  if (body.raw().contains("scheduled_at")) {
    const auto at = body.optional_string("scheduled_at");
    if (at) {
      const auto t = parse_iso8601(*at);
      if (!t) {
        throw ApiError::invalid_value("scheduled_at",
                                      "'scheduled_at' must be an ISO-8601 time with a zone, or null");
      }
      s.scheduled_at = *t;
    } else {
      s.scheduled_at = std::nullopt;
    }
  }
}

// product_ids as given: strings, no duplicates kept, bounded.
std::vector<std::string> read_product_ids(const JsonBody& body, bool required) {
  auto ids = body.optional_string_array("product_ids");
  if (!ids) {
    if (required) throw ApiError::missing_field("product_ids");
    return {};
  }
  std::vector<std::string> unique;
  std::set<std::string> seen;
  for (auto& id : *ids) {
    if (seen.insert(id).second) unique.push_back(std::move(id));
  }
  if (required && unique.empty()) {
    throw ApiError::invalid_value("product_ids", "'product_ids' must list at least one product");
  }
  if (unique.size() > max_products_per_stream) {
    throw ApiError::invalid_value("product_ids", "a stream has at most 100 products");
  }
  return unique;
}

// Every product must exist (404) and belong to the seller (403).
void check_products_owned(Connection& c, const std::vector<std::string>& ids,
                          const std::string& seller_id) {
  for (const auto& id : ids) {
    const auto p = is_uuid(id) ? storage::products::find_by_id(c, id) : std::nullopt;
    if (!p) {
      throw ApiError(404, "product_not_found", "no such product: " + id, "product_ids");
    }
    if (p->seller_id != seller_id) {
      throw ApiError(403, "forbidden", "product " + id + " is not yours", "product_ids");
    }
  }
}

HttpResponse create_stream(Api& api, RequestContext& ctx) {
  const auto& me = ctx.user();
  if (me.role != "seller") throw ApiError::forbidden("only sellers can create streams");
  const auto body = ctx.body();
  Stream s;
  apply_settings(body, s.settings, /*title_required=*/true);
  const auto product_ids = read_product_ids(body, /*required=*/false);
  s.id = uuid_v4();
  s.seller_id = me.id;
  s.created_at = s.updated_at = now_millis();

  const auto details = api.db().write([&](Connection& c) {
    check_products_owned(c, product_ids, me.id);
    storage::streams::insert(c, s);
    for (const auto& id : product_ids) storage::stream_products::attach(c, s.id, id, s.created_at);
    return api.lifecycle().details(c, s);
  });
  log::info("stream created", {{"stream_id", s.id}, {"seller_id", me.id}});
  return data_response(details, 201);
}

HttpResponse attach_products(Api& api, RequestContext& ctx) {
  const auto& me = ctx.user();
  const auto body = ctx.body();
  const auto result = api.db().write([&](Connection& c) {
    const auto s = load_owned_stream(c, ctx.param("id"), me);
    require_status(s, storage::StreamStatus::scheduled,
                   "products can only be attached before the stream goes live");
    // Judged only for the owner: anyone else gets 403 whatever they send.
    const auto product_ids = read_product_ids(body, /*required=*/true);
    check_products_owned(c, product_ids, me.id);
    std::int64_t fresh = 0;
    for (const auto& id : product_ids) fresh += !storage::stream_products::is_attached(c, s.id, id);
    if (storage::stream_products::count(c, s.id) + fresh >
        static_cast<std::int64_t>(max_products_per_stream)) {
      throw ApiError::invalid_value("product_ids", "a stream has at most 100 products");
    }
    nlohmann::json attached = nlohmann::json::array();
    nlohmann::json skipped = nlohmann::json::array();
    const auto now = now_millis();
    for (const auto& id : product_ids) {
      (storage::stream_products::attach(c, s.id, id, now) ? attached : skipped).push_back(id);
    }
    nlohmann::json products = nlohmann::json::array();
    for (const auto& sp : storage::stream_products::list(c, s.id)) {
      products.push_back(stream_product_json(sp));
    }
    return nlohmann::json{{"streamId", s.id},
                          {"attached", std::move(attached)},
                          {"skipped", std::move(skipped)},
                          {"productCount", products.size()},
                          {"products", std::move(products)}};
  });
  return data_response(result);
}

HttpResponse update_settings(Api& api, RequestContext& ctx) {
  const auto& me = ctx.user();
  const auto body = ctx.body();
  const auto details = api.db().write([&](Connection& c) {
    auto s = load_owned_stream(c, ctx.param("id"), me);
    require_status(s, storage::StreamStatus::scheduled,
                   "settings can only change before the stream goes live");
    apply_settings(body, s.settings, /*title_required=*/false);
    s.updated_at = now_millis();
    storage::streams::update_settings(c, s.id, s.settings, s.updated_at);
    return api.lifecycle().details(c, s);
  });
  return data_response(details);
}

HttpResponse go_live(Api& api, RequestContext& ctx) {
  const auto body = ctx.body();
  const auto out = api.lifecycle().go_live(std::string(ctx.param("id")), ctx.user(), [&body] {
    return GoLiveChecklist{body.optional_bool("camera_ready").value_or(false),
                           body.optional_bool("checklist_complete").value_or(false)};
  });
  return data_response({{"streamId", out.stream_id},
                        {"status", to_string(storage::StreamStatus::live)},
                        {"rtmpUrl", api.options().public_rtmp_url},
                        {"streamKey", out.stream_key},
                        {"hlsUrl", api.lifecycle().hls_url(out.stream_id)},
                        {"notificationsSent", out.notified.size()},
                        {"startedAt", format_iso8601(out.started_at)}});
}

HttpResponse end_stream(Api& api, RequestContext& ctx) {
  return data_response(
      api.lifecycle().end(std::string(ctx.param("id")), ctx.user().id, "the owner ended it"));
}

HttpResponse get_stream(Api& api, RequestContext& ctx) {
  const auto details = api.db().read([&](Connection& c) {
    return api.lifecycle().details(c, load_stream(c, ctx.param("id")));
  });
  return data_response(details);
}

// Cursor: base64url of "<created_at>:<seq>" of the last stream on the page.
std::string encode_cursor(const Stream& s) {
  return base64url_encode(std::to_string(s.created_at) + ":" + std::to_string(s.seq));
}

storage::StreamCursor decode_cursor(const std::string& text) {
  const auto bad = ApiError::invalid_value("cursor", "'cursor' is not a cursor this server issued");
  const auto raw = base64url_decode(text);
  if (!raw) throw bad;
  const auto colon = raw->find(':');
  if (colon == std::string::npos) throw bad;
  storage::StreamCursor cur{};
  const auto* mid = raw->data() + colon;
  const auto* end = raw->data() + raw->size();
  if (std::from_chars(raw->data(), mid, cur.created_at).ptr != mid ||
      std::from_chars(mid + 1, end, cur.seq).ptr != end) {
    throw bad;
  }
  return cur;
}

HttpResponse list_streams(Api& api, RequestContext& ctx) {
  const auto qs = QueryString::parse(ctx.request().query);
  if (!qs) throw ApiError(400, "bad_request", "the query string is malformed");
  storage::StreamFilter filter;
  if (const auto status = qs->get("status")) {
    filter.status = storage::parse_stream_status(*status);
    if (!filter.status) {
      throw ApiError::invalid_value("status", "'status' must be live, scheduled or ended");
    }
  }
  filter.seller_id = qs->get("seller_id");
  if (filter.seller_id && !is_uuid(*filter.seller_id)) {
    throw ApiError::invalid_value("seller_id", "'seller_id' must be a user id");
  }
  filter.limit = default_page;
  if (const auto limit = qs->get("limit")) {
    int n = 0;
    const auto* end = limit->data() + limit->size();
    if (std::from_chars(limit->data(), end, n).ptr != end || n < 1 || n > max_page) {
      throw ApiError::invalid_value("limit", "'limit' must be an integer from 1 to 100");
    }
    filter.limit = n;
  }
  if (const auto cursor = qs->get("cursor")) filter.after = decode_cursor(*cursor);

  const auto page = api.db().read([&](Connection& c) {
    // One more than asked tells whether another page follows.
    auto query = filter;
    query.limit = filter.limit + 1;
    auto found = storage::streams::list(c, query);
    const bool more = static_cast<int>(found.size()) > filter.limit;
    if (more) found.pop_back();
    nlohmann::json items = nlohmann::json::array();
    for (const auto& s : found) {
      const auto seller = storage::users::find_by_id(c, s.seller_id);
      items.push_back(stream_summary_json(s, *seller, storage::stream_products::count(c, s.id),
                                          api.lifecycle().hls_url(s.id)));
    }
    return nlohmann::json{
        {"streams", std::move(items)},
        {"nextCursor", more ? nlohmann::json(encode_cursor(found.back())) : nlohmann::json(nullptr)}};
  });
  return data_response(page);
}

}  // namespace

void add_stream_routes(Api& api, Router<Api::Handler>& router) {
  const auto bind = [&api](HttpResponse (*fn)(Api&, RequestContext&)) {
    return [&api, fn](RequestContext& ctx) { return fn(api, ctx); };
  };
  router.add("POST", "/api/v1/streams", bind(create_stream));
  router.add("GET", "/api/v1/streams", bind(list_streams));
  router.add("GET", "/api/v1/streams/{id}", bind(get_stream));
  router.add("POST", "/api/v1/streams/{id}/products", bind(attach_products));
  router.add("PATCH", "/api/v1/streams/{id}/settings", bind(update_settings));
  router.add("POST", "/api/v1/streams/{id}/go-live", bind(go_live));
  router.add("POST", "/api/v1/streams/{id}/end", bind(end_stream));
}

}  // namespace souk::api
