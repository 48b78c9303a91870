// AMF0 (Action Message Format 0), the encoding of RTMP command and data
// messages: a pure codec, bytes in and values out.
#pragma once

#include <cstdint>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace souk::ingest::amf0 {

struct Value;
using Properties = std::vector<std::pair<std::string, Value>>;  // in wire order

struct Undefined {
  bool operator==(const Undefined&) const = default;
};
struct Object {
  Properties properties;
  bool operator==(const Object&) const;
};
struct EcmaArray {
  Properties properties;
  bool operator==(const EcmaArray&) const;
};
struct StrictArray {
  std::vector<Value> items;
  bool operator==(const StrictArray&) const;
};
struct Date {
  double millis = 0;
  std::int16_t timezone = 0;
  bool operator==(const Date&) const = default;
};

struct Value {
  std::variant<std::nullptr_t, Undefined, double, bool, std::string, Object, EcmaArray,
               StrictArray, Date>
      v;

  Value() : v(nullptr) {}
  Value(std::nullptr_t) : v(nullptr) {}
  Value(Undefined u) : v(u) {}
  Value(double d) : v(d) {}
  Value(int i) : v(static_cast<double>(i)) {}
  Value(bool b) : v(b) {}
  Value(const char* s) : v(std::string(s)) {}
  Value(std::string s) : v(std::move(s)) {}
  Value(Object o) : v(std::move(o)) {}
  Value(EcmaArray a) : v(std::move(a)) {}
  Value(StrictArray a) : v(std::move(a)) {}
  Value(Date d) : v(d) {}

  bool operator==(const Value& o) const { return v == o.v; }

  const std::string* as_string() const { return std::get_if<std::string>(&v); }
  const double* as_number() const { return std::get_if<double>(&v); }
  const bool* as_bool() const { return std::get_if<bool>(&v); }
  // Properties of an object or ECMA array; nullptr otherwise.
  const Properties* properties() const;
  // A property by name of an object or ECMA array.
  const Value* get(std::string_view name) const;
};

// Values one message may decode into, nested ones and property values counted:
// a value of one byte (a null) costs ~40 bytes decoded, so a 16 MB strict array
// of nulls took 1.2 GB and a second of a network thread (issue 21). A publisher's
// commands and onMetaData hold a few dozen.
constexpr std::size_t default_max_values = 4096;

// Decodes values until the input ends. nullopt on malformed or truncated input,
// nesting deeper than max_depth, or more than max_values values.
std::optional<std::vector<Value>> decode_all(std::span<const std::uint8_t> bytes,
                                            int max_depth = 16,
                                            std::size_t max_values = default_max_values);

void encode(const Value& v, std::vector<std::uint8_t>& out);
std::vector<std::uint8_t> encode_all(std::initializer_list<Value> values);

}  // namespace souk::ingest::amf0
