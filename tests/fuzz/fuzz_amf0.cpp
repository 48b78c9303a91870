// Fuzz target: the AMF0 decoder, and the round trip decode -> encode -> decode.
// Oracles: what decodes re-encodes to the same values (numbers and dates
// compared bit for bit, so NaN payloads and -0 count); the encoder's output is
// canonical, so encoding it again gives the same bytes; and encoding never
// grows the input (it only drops non-canonical forms: a long-string marker on a
// short string, a boolean byte other than 0/1, an ECMA count hint).
#include "souk/ingest/amf0.hpp"

#include <bit>
#include <cstdint>
#include <cstring>

namespace {

using namespace souk::ingest::amf0;

bool same(const Value& a, const Value& b);

bool same_bits(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

bool same_properties(const Properties& a, const Properties& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first || !same(a[i].second, b[i].second)) return false;
  }
  return true;
}

// Value::operator== compares doubles with ==, which NaN fails and -0 == +0
// passes: this compares what goes on the wire.
bool same(const Value& a, const Value& b) {
  if (a.v.index() != b.v.index()) return false;
  if (const auto* d = std::get_if<double>(&a.v)) return same_bits(*d, std::get<double>(b.v));
  if (const auto* d = std::get_if<Date>(&a.v)) {
    const auto& e = std::get<Date>(b.v);
    return same_bits(d->millis, e.millis) && d->timezone == e.timezone;
  }
  if (const auto* o = std::get_if<Object>(&a.v)) {
    return same_properties(o->properties, std::get<Object>(b.v).properties);
  }
  if (const auto* e = std::get_if<EcmaArray>(&a.v)) {
    return same_properties(e->properties, std::get<EcmaArray>(b.v).properties);
  }
  if (const auto* s = std::get_if<StrictArray>(&a.v)) {
    const auto& t = std::get<StrictArray>(b.v);
    if (s->items.size() != t.items.size()) return false;
    for (std::size_t i = 0; i < s->items.size(); ++i) {
      if (!same(s->items[i], t.items[i])) return false;
    }
    return true;
  }
  return a == b;  // null, undefined, bool, string
}

std::vector<std::uint8_t> encode_values(const std::vector<Value>& values) {
  std::vector<std::uint8_t> out;
  for (const auto& v : values) encode(v, out);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto values = decode_all(std::span(data, size));
  if (!values) return 0;
  const auto encoded = encode_values(*values);
  if (encoded.size() > size) __builtin_trap();
  const auto again = decode_all(encoded);
  if (!again || again->size() != values->size()) __builtin_trap();
  for (std::size_t i = 0; i < values->size(); ++i) {
    if (!same((*values)[i], (*again)[i])) __builtin_trap();
  }
  if (encode_values(*again) != encoded) __builtin_trap();
  return 0;
}
