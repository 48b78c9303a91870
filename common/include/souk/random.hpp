// Randomness from libsodium's CSPRNG: ids, tokens, and hashing of secrets.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace souk {

// Must run once before any other function here (initializes libsodium).
void init_crypto();

// A random (version 4) UUID in canonical lowercase form.
std::string uuid_v4();

// True for a canonical 8-4-4-4-12 hex UUID (either case).
bool is_uuid(std::string_view s);

// `bytes` random bytes as unpadded base64url: an opaque token or key.
std::string random_token(std::size_t bytes);

// SHA-256 of a secret, for storing tokens and stream keys only as hashes.
using Sha256 = std::array<unsigned char, 32>;
Sha256 sha256(std::string_view data);

// Timing-independent equality for secrets.
bool constant_time_equal(const Sha256& a, const Sha256& b);

// A 64-bit keyed hash (SipHash-2-4) under a key drawn when it is made: the bounded
// form of a client's string (a username, an address) for tables of limits. A
// client who does not know the key cannot aim collisions at someone else's entry.
class KeyedHash {
 public:
  KeyedHash();
  std::uint64_t operator()(std::string_view data) const;

 private:
  std::array<unsigned char, 16> key_{};
};

}  // namespace souk
