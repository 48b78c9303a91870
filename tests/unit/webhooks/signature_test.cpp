#include "souk/webhooks/signature.hpp"

#include "souk/random.hpp"

#include <doctest/doctest.h>

using namespace souk::webhooks;
using std::chrono::milliseconds;

TEST_CASE("webhook signatures: HMAC-SHA256 as RFC 4231 gives it") {
  souk::init_crypto();
  // RFC 4231 test case 2: a key shorter than the block, "what do ya want for nothing?".
  CHECK(hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: a 131-byte key, longer than the block (hashed first).
  const std::string long_key(131, '\xaa');
  CHECK(hmac_sha256_hex(long_key, "Test Using Larger Than Block-Size Key - Hash Key First") ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST_CASE("webhook signatures: the header signs \"<t>.<body>\"") {
  souk::init_crypto();
  const std::string body = R"({"id":"e","type":"stream.live"})";
  const auto header = signature_header("s3cret-s3cret-s3cret", 1764000000, body);
  CHECK(header == "t=1764000000,v1=" + hmac_sha256_hex("s3cret-s3cret-s3cret", "1764000000." + body));
  // Another time, body or secret gives another signature.
  CHECK(header != signature_header("s3cret-s3cret-s3cret", 1764000001, body));
  CHECK(header != signature_header("s3cret-s3cret-s3cret", 1764000000, body + " "));
  CHECK(header != signature_header("s3cret-s3cret-s3creT", 1764000000, body));
}

TEST_CASE("webhook retries: exponential from the base, capped, jittered into [half, all]") {
  const milliseconds base(1000), cap(3600 * 1000);
  CHECK(retry_delay(1, base, cap, 1.0) == milliseconds(1000));
  CHECK(retry_delay(1, base, cap, 0.0) == milliseconds(500));
  CHECK(retry_delay(2, base, cap, 1.0) == milliseconds(2000));
  CHECK(retry_delay(5, base, cap, 1.0) == milliseconds(16000));
  CHECK(retry_delay(5, base, cap, 0.5) == milliseconds(12000));
  // 2^12 s is past the cap of an hour.
  CHECK(retry_delay(13, base, cap, 1.0) == cap);
  CHECK(retry_delay(13, base, cap, 0.0) == cap / 2);
  // Far past it: no overflow.
  CHECK(retry_delay(1000, base, cap, 1.0) == cap);
}
