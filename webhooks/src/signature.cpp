// HMAC signatures (libsodium) and the retry schedule.
#include "souk/webhooks/signature.hpp"

#include <sodium.h>

#include <algorithm>
#include <cmath>

namespace souk::webhooks {

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
  crypto_auth_hmacsha256_state state;
  // The _init form takes a key of any length (crypto_auth_hmacsha256 wants 32 bytes).
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(key.data()),
                              key.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(message.data()),
                                message.size());
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_final(&state, mac);
  char hex[crypto_auth_hmacsha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  return hex;
}

std::string signature_header(std::string_view secret, std::int64_t unix_seconds,
                             std::string_view body) {
  const auto t = std::to_string(unix_seconds);
  std::string signed_text;
  signed_text.reserve(t.size() + 1 + body.size());
  signed_text.append(t).append(".").append(body);
  return "t=" + t + ",v1=" + hmac_sha256_hex(secret, signed_text);
}

std::chrono::milliseconds retry_delay(std::int64_t attempt, std::chrono::milliseconds base,
                                      std::chrono::milliseconds cap, double unit_random) {
  // Doubling past 2^40 overflows nothing but is far beyond any cap.
  const auto doublings = std::clamp<std::int64_t>(attempt - 1, 0, 40);
  const double full = std::min(static_cast<double>(base.count()) * std::ldexp(1.0, static_cast<int>(doublings)),
                               static_cast<double>(cap.count()));
  const double jittered = full / 2 + full / 2 * std::clamp(unit_random, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(jittered)));
}

}  // namespace souk::webhooks
