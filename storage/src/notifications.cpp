// Go-live notifications.
#include "souk/storage/notifications.hpp"

#include "souk/geo.hpp"
#include "souk/random.hpp"
#include "souk/storage/sqlite.hpp"

#include <algorithm>
#include <set>

namespace souk::storage::notifications {

std::vector<std::string> users_near(Connection& c, double lat, double lon, double radius_m,
                                    std::string_view exclude_id) {
  const auto box = geo::bounding_box(lat, lon, radius_m);
  std::vector<std::string> out;
  for (const auto& [lon_min, lon_max] : box.lon_ranges) {
    auto q = c.query(
        "SELECT id, lat, lon FROM users WHERE lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?",
        box.min_lat, box.max_lat, lon_min, lon_max);
    while (q.next()) {
      if (q->text(0) == exclude_id) continue;
      if (geo::distance_m(lat, lon, q->real(1), q->real(2)) <= radius_m) out.push_back(q->text(0));
    }
  }
  return out;
}

std::vector<std::string> create_for_go_live(Connection& c, const Stream& stream,
                                            const User& seller, double neighborhood_radius_m,
                                            UnixMillis now) {
  const auto& s = stream.settings;
  std::set<std::string> followers;
  if (s.notify_followers || s.audience == "followers") {
    auto q = c.query("SELECT follower_id FROM follows WHERE seller_id = ?", seller.id);
    while (q.next()) followers.insert(q->text(0));
  }
  std::set<std::string> neighbours;
  if ((s.notify_neighborhood || s.audience == "neighborhood") && seller.lat && seller.lon) {
    for (auto& id : users_near(c, *seller.lat, *seller.lon, neighborhood_radius_m, seller.id)) {
      neighbours.insert(std::move(id));
    }
  }
  // The audience says who may hear of the stream at all; the notify flags say
  // which groups are told.
  const auto eligible = [&](const std::string& id) {
    if (s.audience == "followers") return followers.count(id) > 0;
    if (s.audience == "neighborhood") return neighbours.count(id) > 0;
    return true;
  };
  std::vector<std::pair<std::string, const char*>> recipients;  // user, reason
  if (s.notify_followers) {
    for (const auto& id : followers) {
      if (eligible(id)) recipients.emplace_back(id, "follower");
    }
  }
  if (s.notify_neighborhood) {
    for (const auto& id : neighbours) {
      if (eligible(id) && !(s.notify_followers && followers.count(id))) {
        recipients.emplace_back(id, "neighbor");
      }
    }
  }
  std::vector<std::string> out;
  for (const auto& [user_id, reason] : recipients) {
    const auto inserted = c.execute(
        "INSERT INTO notifications (id, user_id, stream_id, kind, reason, created_at)"
        " VALUES (?, ?, ?, 'stream_live', ?, ?) ON CONFLICT DO NOTHING",
        uuid_v4(), user_id, stream.id, reason, now);
    if (inserted > 0) out.push_back(user_id);
  }
  return out;
}

std::int64_t count_for_stream(Connection& c, std::string_view stream_id) {
  auto q = c.query("SELECT COUNT(*) FROM notifications WHERE stream_id = ?", stream_id);
  q.next();
  return q->int64(0);
}

}  // namespace souk::storage::notifications
