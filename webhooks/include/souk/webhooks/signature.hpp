// Signing webhook bodies: X-Souk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>
// over "<t>.<body>" with the shared secret. A receiver recomputes it over the raw
// body it read and compares in constant time, and refuses a t too far from its
// clock (docs/operations.md, "Webhooks"), so a captured request cannot be replayed later.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace souk::webhooks {

// Lowercase hex HMAC-SHA256 of `message` under `key` (any length). Needs
// souk::init_crypto() first.
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

// The X-Souk-Signature value for `body` sent at `unix_seconds`.
std::string signature_header(std::string_view secret, std::int64_t unix_seconds,
                             std::string_view body);

// The wait before attempt `attempt + 1` after `attempt` failures (attempt >= 1):
// base * 2^(attempt-1), at most `cap`, then jittered into [half, all] of that by
// `unit_random` in [0, 1), so receivers that failed together do not get their
// retries together.
std::chrono::milliseconds retry_delay(std::int64_t attempt, std::chrono::milliseconds base,
                                      std::chrono::milliseconds cap, double unit_random);

}  // namespace souk::webhooks
