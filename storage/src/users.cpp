// Users and follows queries.
#include "souk/storage/users.hpp"

#include "souk/storage/sqlite.hpp"

namespace souk::storage {
namespace {

constexpr const char* user_columns =
    "id, username, password_hash, role, display_name, avatar_url, lat, lon, created_at,"
    " disabled_at";

User read_user(const Statement& r) {
  return User{r.text(0),     r.text(1),     r.text(2),     r.text(3), r.text(4),
              r.opt_text(5), r.opt_real(6), r.opt_real(7), r.int64(8), r.opt_int64(9)};
}

std::optional<User> first_user(Query q) {
  if (!q.next()) return std::nullopt;
  return read_user(q.row());
}

}  // namespace

namespace users {

void insert(Connection& c, const User& u) {
  c.execute(
      "INSERT INTO users (id, username, password_hash, role, display_name, avatar_url, lat, lon,"
      " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      u.id, u.username, u.password_hash, u.role, u.display_name, u.avatar_url, u.lat, u.lon,
      u.created_at);
}

std::optional<User> find_by_id(Connection& c, std::string_view id) {
  static const std::string sql = std::string("SELECT ") + user_columns + " FROM users WHERE id = ?";
  return first_user(c.query(sql, id));
}

std::optional<User> find_by_username(Connection& c, std::string_view username) {
  static const std::string sql =
      std::string("SELECT ") + user_columns + " FROM users WHERE username = ? COLLATE NOCASE";
  return first_user(c.query(sql, username));
}

std::optional<User> find_by_id_or_username(Connection& c, std::string_view id_or_username) {
  if (auto u = find_by_id(c, id_or_username)) return u;
  return find_by_username(c, id_or_username);
}

std::vector<User> list(Connection& c, const std::optional<std::string>& role) {
  static const std::string sql = std::string("SELECT ") + user_columns +
                                 " FROM users WHERE ?1 IS NULL OR role = ?1"
                                 " ORDER BY created_at, rowid";
  auto q = c.query(sql, role);
  std::vector<User> out;
  while (q.next()) out.push_back(read_user(q.row()));
  return out;
}

void set_role(Connection& c, std::string_view id, std::string_view role) {
  c.execute("UPDATE users SET role = ? WHERE id = ?", role, id);
}

void set_disabled(Connection& c, std::string_view id, std::optional<UnixMillis> disabled_at) {
  c.execute("UPDATE users SET disabled_at = ? WHERE id = ?", disabled_at, id);
}

}  // namespace users

namespace follows {

bool add(Connection& c, std::string_view follower_id, std::string_view seller_id, UnixMillis now) {
  return c.execute(
             "INSERT INTO follows (follower_id, seller_id, created_at) VALUES (?, ?, ?)"
             " ON CONFLICT DO NOTHING",
             follower_id, seller_id, now) > 0;
}

bool remove(Connection& c, std::string_view follower_id, std::string_view seller_id) {
  return c.execute("DELETE FROM follows WHERE follower_id = ? AND seller_id = ?", follower_id,
                   seller_id) > 0;
}

std::int64_t count_followers(Connection& c, std::string_view seller_id) {
  auto q = c.query("SELECT COUNT(*) FROM follows WHERE seller_id = ?", seller_id);
  q.next();
  return q->int64(0);
}

bool is_following(Connection& c, std::string_view follower_id, std::string_view seller_id) {
  auto q = c.query("SELECT 1 FROM follows WHERE follower_id = ? AND seller_id = ?", follower_id,
                   seller_id);
  return q.next();
}

}  // namespace follows

}  // namespace souk::storage
