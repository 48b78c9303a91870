// Password hashing with argon2id (libsodium crypto_pwhash_str). Hashing is
// deliberately slow and memory-hard: call it on a blocking-work thread only.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace souk::api {

struct PasswordCost {
  unsigned long long ops;
  std::size_t mem_bytes;
  static PasswordCost interactive();  // libsodium's INTERACTIVE limits (64 MiB)
  static PasswordCost minimum();      // for unit tests only
};

class PasswordHasher {
 public:
  explicit PasswordHasher(PasswordCost cost);
  std::string hash(std::string_view password) const;
  bool verify(std::string_view stored_hash, std::string_view password) const;
  // Verifies against a hash of a random password, so a login for an unknown user
  // costs the same time as one for a known user.
  void verify_dummy(std::string_view password) const;

 private:
  PasswordCost cost_;
  std::string dummy_hash_;
};

}  // namespace souk::api
