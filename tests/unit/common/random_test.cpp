#include "souk/random.hpp"

#include <doctest/doctest.h>

#include <set>

TEST_CASE("uuid_v4 is canonical, versioned and unique") {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto id = souk::uuid_v4();
    CHECK(souk::is_uuid(id));
    CHECK(id[14] == '4');
    CHECK(std::string("89ab").find(id[19]) != std::string::npos);
    seen.insert(id);
  }
  CHECK(seen.size() == 1000);
}

TEST_CASE("is_uuid rejects near misses") {
  CHECK(souk::is_uuid("4A27787A-A92F-42FF-AED2-ACDC78301674"));
  CHECK_FALSE(souk::is_uuid(""));
  CHECK_FALSE(souk::is_uuid("4a27787a-a92f-42ff-aed2-acdc7830167"));
  CHECK_FALSE(souk::is_uuid("4a27787a-a92f-42ff-aed2-acdc783016744"));
  CHECK_FALSE(souk::is_uuid("4a27787a_a92f-42ff-aed2-acdc78301674"));
  CHECK_FALSE(souk::is_uuid("4a27787a-a92f-42ff-aed2-acdc7830167g"));
  CHECK_FALSE(souk::is_uuid("../../../../etc/passwd-aaaaaaaaaaaaaa"));
}

TEST_CASE("random_token is url-safe base64 of the requested entropy") {
  const auto t = souk::random_token(32);
  CHECK(t.size() == 43);  // 256 bits, unpadded
  for (char c : t) {
    CHECK(((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_'));
  }
  CHECK(souk::random_token(32) != t);
}

TEST_CASE("sha256 matches the standard test vector") {
  const auto h = souk::sha256("abc");
  CHECK(h[0] == 0xba);
  CHECK(h[1] == 0x78);
  CHECK(h[31] == 0xad);
  CHECK(souk::constant_time_equal(h, souk::sha256("abc")));
  CHECK_FALSE(souk::constant_time_equal(h, souk::sha256("abd")));
}

TEST_CASE("a keyed hash is stable under its key and differs between keys") {
  const souk::KeyedHash a;
  const souk::KeyedHash b;
  CHECK(a("bob") == a("bob"));
  CHECK(a("bob") != a("bob2"));
  CHECK(a("bob") != b("bob"));  // 2^-64 to fail by chance
  const std::string huge(1 << 20, 'x');
  CHECK(a(huge) == a(huge));
}
