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

}  // namespace souk::api
