// Ids, tokens and secret hashing on libsodium.
#include "souk/random.hpp"

#include "souk/base64.hpp"

#include <sodium.h>

#include <stdexcept>

namespace souk {

void init_crypto() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialize");
}

std::string uuid_v4() {
  unsigned char b[16];
  randombytes_buf(b, sizeof b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += hex[b[i] >> 4];
    out += hex[b[i] & 0x0f];
  }
  return out;
}

bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

std::string random_token(std::size_t bytes) {
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  std::string out = base64url_encode(raw);
  sodium_memzero(raw.data(), raw.size());
  return out;
}

Sha256 sha256(std::string_view data) {
  Sha256 out{};
  crypto_hash_sha256(out.data(), reinterpret_cast<const unsigned char*>(data.data()),
                     data.size());
  return out;
}

bool constant_time_equal(const Sha256& a, const Sha256& b) {
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

KeyedHash::KeyedHash() {
  init_crypto();
  static_assert(crypto_shorthash_KEYBYTES == sizeof key_);
  crypto_shorthash_keygen(key_.data());
}

std::uint64_t KeyedHash::operator()(std::string_view data) const {
  std::uint64_t h = 0;
  static_assert(crypto_shorthash_BYTES == sizeof h);
  crypto_shorthash(reinterpret_cast<unsigned char*>(&h), reinterpret_cast<const unsigned char*>(data.data()),
                   data.size(), key_.data());
  return h;
}

}  // namespace souk
