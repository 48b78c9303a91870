// Bearer token queries.
#include "souk/storage/auth_tokens.hpp"

#include "souk/storage/sqlite.hpp"

namespace souk::storage::auth_tokens {

void insert(Connection& c, const Sha256& token_hash, std::string_view user_id,
            UnixMillis created_at, UnixMillis expires_at) {
  c.execute(
      "INSERT INTO auth_tokens (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
      Blob(token_hash), user_id, created_at, expires_at);
}

std::optional<std::string> find_user(Connection& c, const Sha256& token_hash, UnixMillis now) {
  auto q = c.query(
      "SELECT t.user_id FROM auth_tokens t JOIN users u ON u.id = t.user_id"
      " WHERE t.token_hash = ? AND t.revoked_at IS NULL AND t.expires_at > ?"
      " AND u.disabled_at IS NULL",
      Blob(token_hash), now);
  if (!q.next()) return std::nullopt;
  return q->text(0);
}

bool revoke(Connection& c, const Sha256& token_hash, UnixMillis now) {
  return c.execute(
             "UPDATE auth_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
             now, Blob(token_hash)) > 0;
}

std::int64_t revoke_all_for_user(Connection& c, std::string_view user_id, UnixMillis now) {
  return c.execute(
      "UPDATE auth_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", now,
      user_id);
}

std::int64_t delete_expired(Connection& c, UnixMillis cutoff) {
  return c.execute("DELETE FROM auth_tokens WHERE expires_at < ?", cutoff);
}

}  // namespace souk::storage::auth_tokens
