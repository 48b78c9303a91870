// The stream lifecycle: create, attach products, settings, go-live, end,
// details, discovery. (Tags, product lists, events and analytics are in
// stream_products_routes.cpp.)
#include "souk/api/api.hpp"
#include "souk/api/api_error.hpp"
#include "souk/api/query_string.hpp"
#include "souk/api/request_context.hpp"
#include "souk/api/stream_access.hpp"
#include "souk/api/validate.hpp"
#include "souk/api/views.hpp"
#include "souk/base64.hpp"
#include "souk/log.hpp"
#include "souk/random.hpp"
#include "souk/storage/database.hpp"
#include "souk/storage/notifications.hpp"
#include "souk/storage/products.hpp"
#include "souk/storage/stream_products.hpp"
#include "souk/storage/stream_stats.hpp"
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
constexpr std::size_t stream_key_bytes = 32;  // 256 bits from libsodium's CSPRNG
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

nlohmann::json stream_details(Api& api, Connection& c, const Stream& s) {
  const auto seller = storage::users::find_by_id(c, s.seller_id);
  const auto products = storage::stream_products::list(c, s.id);
  auto j = stream_summary_json(s, *seller, static_cast<std::int64_t>(products.size()),
                               api.options().public_http_url);
  j["products"] = nlohmann::json::array();
  for (const auto& sp : products) j["products"].push_back(stream_product_json(sp));
  // The stored state (waiting, interrupted, finished) unless a publisher is
  // sending right now, in which case the hub's view of its media.
  const auto live_media = s.status == "live" && api.ingest_status()
                              ? api.ingest_status()->publishing(s.id)
                              : std::nullopt;
  if (live_media) {
    j["ingest"] = *live_media;
    j["ingest"]["state"] = "receiving";
  } else {
    j["ingest"] = {{"state", s.ingest_state == "receiving" ? "interrupted" : s.ingest_state},
                   {"video", nullptr},
                   {"audio", nullptr},
                   {"bitrateKbps", nullptr}};
  }
  return j;
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
    return stream_details(api, c, s);
  });
  log::info("stream created", {{"stream_id", s.id}, {"seller_id", me.id}});
  return data_response(details, 201);
}

HttpResponse attach_products(Api& api, RequestContext& ctx) {
  const auto& me = ctx.user();
  const auto body = ctx.body();
  const auto result = api.db().write([&](Connection& c) {
    const auto s = load_owned_stream(c, ctx.param("id"), me);
    require_status(s, "scheduled", "products can only be attached before the stream goes live");
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
    require_status(s, "scheduled", "settings can only change before the stream goes live");
    apply_settings(body, s.settings, /*title_required=*/false);
    s.updated_at = now_millis();
    storage::streams::update_settings(c, s.id, s.settings, s.updated_at);
    return stream_details(api, c, s);
  });
  return data_response(details);
}

HttpResponse go_live(Api& api, RequestContext& ctx) {
  const auto& me = ctx.user();
  const auto body = ctx.body();

  struct Outcome {
    std::string stream_id;
    std::string key;
    std::vector<std::string> notified;
    UnixMillis started_at;
  };
  const auto out = api.db().write([&](Connection& c) {
    const auto s = load_owned_stream(c, ctx.param("id"), me);
    if (s.status == "live") throw ApiError::conflict("stream_already_live", "the stream is already live");
    require_status(s, "scheduled", "an ended stream cannot go live again");
    // The checklist comes after ownership and state (a wrong type included).
    const auto camera_ready = body.optional_bool("camera_ready").value_or(false);
    const auto checklist_complete = body.optional_bool("checklist_complete").value_or(false);
    if (!camera_ready) {
      throw ApiError(422, "checklist_incomplete", "confirm the camera is ready", "camera_ready");
    }
    if (!checklist_complete) {
      throw ApiError(422, "checklist_incomplete", "complete the pre-live checklist",
                     "checklist_complete");
    }
    if (storage::stream_products::count(c, s.id) == 0) {
      throw ApiError::conflict("no_products", "attach at least one product before going live");
    }
    Outcome o{s.id, random_token(stream_key_bytes), {}, now_millis()};
    o.notified = storage::notifications::create_for_go_live(
        c, s, me, api.options().neighborhood_radius_m, o.started_at);
    if (!storage::streams::set_live(c, s.id, sha256(o.key), o.started_at,
                                    static_cast<std::int64_t>(o.notified.size()))) {
      throw ApiError::conflict("stream_already_live", "the stream is already live");
    }
    if (auto* events = api.event_outbox()) {
      events->enqueue(c, "stream.live", s.id, stream_details(api, c, load_stream(c, s.id)),
                      o.started_at);
    }
    return o;
  });
  if (auto* events = api.event_outbox()) events->committed();
  log::info("stream live", {{"stream_id", out.stream_id},
                            {"notifications", static_cast<std::uint64_t>(out.notified.size())}});
  for (auto* o : api.observers()) o->stream_live(out.stream_id, out.notified);

  const auto& opts = api.options();
  return data_response({{"streamId", out.stream_id},
                        {"status", "live"},
                        {"rtmpUrl", opts.public_rtmp_url},
                        {"streamKey", out.key},
                        {"hlsUrl", hls_url(opts.public_http_url, out.stream_id)},
                        {"notificationsSent", out.notified.size()},
                        {"startedAt", format_iso8601(out.started_at)}});
}

HttpResponse end_stream(Api& api, RequestContext& ctx) {
  return data_response(api.end_stream(std::string(ctx.param("id")), &ctx.user(), "the owner ended it"));
}

HttpResponse get_stream(Api& api, RequestContext& ctx) {
  const auto details = api.db().read([&](Connection& c) {
    return stream_details(api, c, load_stream(c, ctx.param("id")));
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
  filter.status = qs->get("status");
  if (filter.status && *filter.status != "live" && *filter.status != "scheduled" &&
      *filter.status != "ended") {
    throw ApiError::invalid_value("status", "'status' must be live, scheduled or ended");
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
                                          api.options().public_http_url));
    }
    return nlohmann::json{
        {"streams", std::move(items)},
        {"nextCursor", more ? nlohmann::json(encode_cursor(found.back())) : nlohmann::json(nullptr)}};
  });
  return data_response(page);
}

}  // namespace

nlohmann::json Api::end_stream(const std::string& stream_id, const storage::User* owner,
                              const char* reason) {
  const auto summary = db().write([&](Connection& c) {
    const auto s = owner ? load_owned_stream(c, stream_id, *owner) : load_stream(c, stream_id);
    require_status(s, "live", "only a live stream can be ended");
    const auto ended_at = std::max(now_millis(), *s.started_at);
    // Viewers still in the room leave when the stream ends.
    c.execute("UPDATE viewer_sessions SET left_at = ? WHERE stream_id = ? AND left_at IS NULL",
              ended_at, s.id);
    const auto f = storage::compute_stream_figures(c, s.id, *s.started_at, ended_at);
    const storage::StoredStats stored{f.duration_seconds, f.peak_viewers,  f.unique_viewers,
                                      f.total_likes,      f.chat_messages, f.average_watch_seconds,
                                      f.total_watch_seconds};
    // Where the VOD will be: the packager finalizes it after this commit, and
    // stream details show vodUrl once the file is ready.
    std::optional<std::string> vod_url;
    if (s.settings.record_stream && ingest_status() && ingest_status()->has_recording(s.id)) {
      vod_url = options().public_http_url + "/vod/" + s.id + ".mp4";
    }
    if (!storage::streams::set_ended(c, s.id, ended_at, stored, std::nullopt)) {
      throw ApiError::conflict("stream_not_live", "only a live stream can be ended");
    }
    nlohmann::json ended{{"streamId", s.id},
                         {"status", "ended"},
                         {"endedAt", format_iso8601(ended_at)},
                         {"durationSeconds", f.duration_seconds},
                         {"vodUrl", vod_url ? nlohmann::json(*vod_url) : nlohmann::json(nullptr)},
                         {"stats", end_stats_json(f)}};
    // Every end (owner, idle timeout, after a restart) passes here: the one
    // place stream.ended is written, with the end it announces.
    if (auto* events = event_outbox()) {
      auto data = ended;
      data["stream"] = stream_details(*this, c, load_stream(c, s.id));
      events->enqueue(c, "stream.ended", s.id, data, ended_at);
    }
    return ended;
  });
  if (auto* events = event_outbox()) events->committed();
  log::info("stream ended", {{"stream_id", stream_id},
                             {"duration_seconds", summary["durationSeconds"].get<std::int64_t>()},
                             {"reason", reason}});
  for (auto* o : observers()) o->stream_ended(stream_id, summary);
  return summary;
}

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
