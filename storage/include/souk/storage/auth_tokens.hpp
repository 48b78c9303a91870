// Bearer tokens, stored only as SHA-256 hashes of the opaque value.
#pragma once

#include "souk/random.hpp"
#include "souk/time.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace souk::storage {

class Connection;

namespace auth_tokens {

void insert(Connection& c, const Sha256& token_hash, std::string_view user_id,
            UnixMillis created_at, UnixMillis expires_at);

// The user of a token that is neither revoked nor expired at `now`, unless that
// account is disabled.
std::optional<std::string> find_user(Connection& c, const Sha256& token_hash, UnixMillis now);

// Returns whether a live token was revoked.
bool revoke(Connection& c, const Sha256& token_hash, UnixMillis now);

// Revokes every live token of a user (an account being disabled); returns how many.
std::int64_t revoke_all_for_user(Connection& c, std::string_view user_id, UnixMillis now);

// Drops tokens that expired before `cutoff`; returns how many.
std::int64_t delete_expired(Connection& c, UnixMillis cutoff);

}  // namespace auth_tokens

}  // namespace souk::storage
