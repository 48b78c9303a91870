// JSON views of stored records.
#include "souk/api/views.hpp"

#include "souk/time.hpp"

namespace souk::api {
namespace {

template <class T>
nlohmann::json or_null(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json public_user_json(const storage::User& u) {
  return {{"id", u.id},
          {"username", u.username},
          {"displayName", u.display_name},
          {"avatarUrl", or_null(u.avatar_url)}};
}

nlohmann::json self_json(const storage::User& u) {
  auto j = public_user_json(u);
  j["role"] = u.role;
  j["lat"] = or_null(u.lat);
  j["lon"] = or_null(u.lon);
  j["createdAt"] = format_iso8601(u.created_at);
  return j;
}

nlohmann::json product_json(const storage::Product& p) {
  return {{"id", p.id},
          {"sellerId", p.seller_id},
          {"title", p.title},
          {"priceCents", p.price_cents},
          {"currency", p.currency},
          {"imageUrl", or_null(p.image_url)},
          {"createdAt", format_iso8601(p.created_at)}};
}

const std::vector<std::string>& reaction_emojis() {
  static const std::vector<std::string> emojis = {
      "\u2764\ufe0f",  // red heart
      "\U0001F525",      // fire
      "\U0001F44F",      // clapping hands
      "\U0001F602",      // face with tears of joy
      "\U0001F62E",      // face with open mouth
      "\U0001F48E",      // gem stone
  };
  return emojis;
}

nlohmann::json stream_product_json(const storage::StreamProduct& sp) {
  auto j = product_json(sp.product);
  j["productId"] = sp.product.id;
  j["tag"] = sp.tag ? nlohmann::json{{"x", sp.tag->x},
                                     {"y", sp.tag->y},
                                     {"timestampSeconds", sp.tag->timestamp_seconds}}
                    : nlohmann::json(nullptr);
  j["analytics"] = {{"clicks", sp.counters.clicks},
                    {"views", sp.counters.views},
                    {"inquiries", sp.counters.inquiries},
                    {"purchases", sp.counters.purchases}};
  return j;
}

nlohmann::json stream_summary_json(const storage::Stream& s, const storage::User& seller,
                                   std::int64_t product_count, std::string_view hls_url) {
  const auto time_or_null = [](const std::optional<UnixMillis>& t) {
    return t ? nlohmann::json(format_iso8601(*t)) : nlohmann::json(nullptr);
  };
  const auto& st = s.settings;
  nlohmann::json j = {
      {"id", s.id},
      {"streamId", s.id},
      {"sellerId", s.seller_id},
      {"seller", public_user_json(seller)},
      {"title", st.title},
      {"description", or_null(st.description)},
      {"category", or_null(st.category)},
      {"status", to_string(s.status)},
      {"audience", st.audience},
      {"estimatedDuration", or_null(st.estimated_duration)},
      {"notifyFollowers", st.notify_followers},
      {"notifyNeighborhood", st.notify_neighborhood},
      {"enableChat", st.enable_chat},
      {"enableComments", st.enable_comments},
      {"recordStream", st.record_stream},
      {"scheduledAt", time_or_null(st.scheduled_at)},
      {"startedAt", time_or_null(s.started_at)},
      {"endedAt", time_or_null(s.ended_at)},
      {"productCount", product_count},
      {"viewerCount", s.viewer_count},
      {"notificationsSent", s.notifications_sent},
      {"hlsUrl", s.status == storage::StreamStatus::scheduled ? nlohmann::json(nullptr)
                                                              : nlohmann::json(hls_url)},
      {"vodUrl", or_null(s.vod_url)},
      {"createdAt", format_iso8601(s.created_at)},
      {"updatedAt", format_iso8601(s.updated_at)},
  };
  if (s.stats) {
    j["durationSeconds"] = s.stats->duration_seconds;
    j["peakViewers"] = s.stats->peak_viewers;
    j["uniqueViewers"] = s.stats->unique_viewers;
    j["totalLikes"] = s.stats->total_likes;
    j["chatMessages"] = s.stats->chat_messages;
    j["averageWatchTimeSeconds"] = s.stats->average_watch_time;
  }
  return j;
}

nlohmann::json end_stats_json(const storage::StreamFigures& f) {
  nlohmann::json reactions = nlohmann::json::object();
  for (const auto& emoji : reaction_emojis()) {
    const auto it = f.reactions.find(emoji);
    reactions[emoji] = it == f.reactions.end() ? 0 : it->second;
  }
  return {{"peakViewers", f.peak_viewers},
          {"uniqueViewers", f.unique_viewers},
          {"totalLikes", f.total_likes},
          {"chatMessages", f.chat_messages},
          {"averageWatchTimeSeconds", f.average_watch_seconds},
          {"totalWatchTimeSeconds", f.total_watch_seconds},
          {"reactions", std::move(reactions)}};
}

}  // namespace souk::api
