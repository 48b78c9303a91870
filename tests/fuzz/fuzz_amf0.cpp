// Fuzz target: the AMF0 decoder, and the round trip decode -> encode -> decode.
#include "souk/ingest/amf0.hpp"

#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace souk::ingest::amf0;
  const auto values = decode_all(std::span(data, size));
  if (!values) return 0;
  std::vector<std::uint8_t> encoded;
  for (const auto& v : *values) encode(v, encoded);
  const auto again = decode_all(encoded);
  // What decodes must encode to something that decodes to the same values
  // (NaN payloads aside, which compare unequal to themselves).
  if (!again || again->size() != values->size()) __builtin_trap();
  return 0;
}
