// Users and follows.
#pragma once

#include "souk/time.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace souk::storage {

class Connection;

struct User {
  std::string id;
  std::string username;
  std::string password_hash;  // argon2id string (libsodium crypto_pwhash_str)
  std::string role;           // "seller" | "buyer"
  std::string display_name;
  std::optional<std::string> avatar_url;
  std::optional<double> lat;
  std::optional<double> lon;
  UnixMillis created_at = 0;
  std::optional<UnixMillis> disabled_at;  // set by `souk-live user disable`: no login, no tokens
};

namespace users {

void insert(Connection& c, const User& u);
std::optional<User> find_by_id(Connection& c, std::string_view id);
// Usernames are unique without regard to ASCII case.
std::optional<User> find_by_username(Connection& c, std::string_view username);
// By id, or else by username (what an operator types).
std::optional<User> find_by_id_or_username(Connection& c, std::string_view id_or_username);
// Oldest first; every role when `role` is not given.
std::vector<User> list(Connection& c, const std::optional<std::string>& role);
void set_role(Connection& c, std::string_view id, std::string_view role);
// Disables (with the time) or enables (nullopt) an account.
void set_disabled(Connection& c, std::string_view id, std::optional<UnixMillis> disabled_at);

}  // namespace users

namespace follows {

// Both return whether a row changed (false when already in that state).
bool add(Connection& c, std::string_view follower_id, std::string_view seller_id, UnixMillis now);
bool remove(Connection& c, std::string_view follower_id, std::string_view seller_id);
std::int64_t count_followers(Connection& c, std::string_view seller_id);
bool is_following(Connection& c, std::string_view follower_id, std::string_view seller_id);

}  // namespace follows

}  // namespace souk::storage
