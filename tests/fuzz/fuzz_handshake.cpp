// Fuzz target: the RTMP handshake answer to any C0+C1.
#include "souk/ingest/handshake.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace souk::ingest::handshake;
  std::vector<std::uint8_t> c0c1(data, data + std::min(size, 1 + packet_size));
  c0c1.resize(1 + packet_size, 0);
  const auto fill = [](std::span<std::uint8_t> b) { std::fill(b.begin(), b.end(), std::uint8_t{7}); };
  if (const auto r = respond(c0c1, 0, fill)) {
    if (r->s0s1s2.size() != 1 + 2 * packet_size) __builtin_trap();
  }
  (void)find_client_scheme(std::span(c0c1).subspan(1));
  return 0;
}
