// Fuzz target: X-Forwarded-For from a trusted peer, and the trusted-proxies list
// itself (operator input, but parsed by the same hand).
#include "souk/trusted_proxies.hpp"

#include <cstdint>
#include <stdexcept>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const auto trusted = souk::TrustedProxies::parse("127.0.0.0/8, 10.0.0.0/8, ::1, fd00::/8");
  static const auto peer = boost::asio::ip::make_address("127.0.0.2");
  if (const auto client = souk::forwarded_client(trusted, peer, text)) {
    // The answer is an address from the header; an untrusted one unless all were.
    if (client->to_string().empty()) __builtin_trap();
  }
  try {
    (void)souk::TrustedProxies::parse(text);
  } catch (const std::invalid_argument&) {
    // refused with a reason: fine
  }
  return 0;
}
