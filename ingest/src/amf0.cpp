// AMF0 codec (AMF0 specification, Adobe, 2007: section 2).
#include "souk/ingest/amf0.hpp"

#include <bit>
#include <cstring>

namespace souk::ingest::amf0 {
namespace {

enum Marker : std::uint8_t {
  number = 0x00,
  boolean = 0x01,
  string = 0x02,
  object = 0x03,
  null = 0x05,
  undefined = 0x06,
  ecma_array = 0x08,
  object_end = 0x09,
  strict_array = 0x0a,
  date = 0x0b,
  long_string = 0x0c,
};

class Reader {
 public:
  Reader(std::span<const std::uint8_t> b, std::size_t max_values) : b_(b), values_left_(max_values) {}
  bool done() const { return pos_ == b_.size(); }
  // One more value may be decoded (checked before it is).
  bool take_value() {
    if (values_left_ == 0) return false;
    --values_left_;
    return true;
  }
  bool u8(std::uint8_t& out) {
    if (pos_ + 1 > b_.size()) return false;
    out = b_[pos_++];
    return true;
  }
  bool be(std::uint64_t& out, std::size_t n) {
    if (pos_ + n > b_.size()) return false;
    out = 0;
    for (std::size_t i = 0; i < n; ++i) out = (out << 8) | b_[pos_ + i];
    pos_ += n;
    return true;
  }
  bool text(std::string& out, std::size_t n) {
    if (pos_ + n > b_.size()) return false;
    out.assign(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += n;
    return true;
  }
  bool f64(double& out) {
    std::uint64_t bits = 0;
    if (!be(bits, 8)) return false;
    out = std::bit_cast<double>(bits);
    return true;
  }
  // A property name: a UTF-8 string with a 16-bit length and no marker.
  bool short_text(std::string& out) {
    std::uint64_t n = 0;
    return be(n, 2) && text(out, n);
  }
  bool peek_object_end() const {
    return pos_ + 3 <= b_.size() && b_[pos_] == 0 && b_[pos_ + 1] == 0 &&
           b_[pos_ + 2] == object_end;
  }
  void skip(std::size_t n) { pos_ += n; }

 private:
  std::span<const std::uint8_t> b_;
  std::size_t pos_ = 0;
  std::size_t values_left_;
};

bool read_value(Reader& r, Value& out, int depth);

bool read_properties(Reader& r, Properties& props, int depth) {
  while (true) {
    if (r.peek_object_end()) {
      r.skip(3);
      return true;
    }
    std::string name;
    Value v;
    if (!r.short_text(name) || !read_value(r, v, depth)) return false;
    props.emplace_back(std::move(name), std::move(v));
  }
}

bool read_value(Reader& r, Value& out, int depth) {
  if (depth <= 0 || !r.take_value()) return false;
  std::uint8_t marker = 0;
  if (!r.u8(marker)) return false;
  switch (marker) {
    case number: {
      double d = 0;
      if (!r.f64(d)) return false;
      out = Value(d);
      return true;
    }
    case boolean: {
      std::uint8_t b = 0;
      if (!r.u8(b)) return false;
      out = Value(b != 0);
      return true;
    }
    case string: {
      std::string s;
      if (!r.short_text(s)) return false;
      out = Value(std::move(s));
      return true;
    }
    case long_string: {
      std::uint64_t n = 0;
      std::string s;
      if (!r.be(n, 4) || !r.text(s, n)) return false;
      out = Value(std::move(s));
      return true;
    }
    case object: {
      Object o;
      if (!read_properties(r, o.properties, depth - 1)) return false;
      out = Value(std::move(o));
      return true;
    }
    case ecma_array: {
      std::uint64_t count = 0;  // a hint only: the end marker ends the array
      EcmaArray a;
      if (!r.be(count, 4) || !read_properties(r, a.properties, depth - 1)) return false;
      out = Value(std::move(a));
      return true;
    }
    case strict_array: {
      std::uint64_t count = 0;
      if (!r.be(count, 4)) return false;
      StrictArray a;
      for (std::uint64_t i = 0; i < count; ++i) {
        Value v;
        if (!read_value(r, v, depth - 1)) return false;  // also bounds count by input size
        a.items.push_back(std::move(v));
      }
      out = Value(std::move(a));
      return true;
    }
    case date: {
      Date d;
      std::uint64_t tz = 0;
      if (!r.f64(d.millis) || !r.be(tz, 2)) return false;
      d.timezone = static_cast<std::int16_t>(tz);
      out = Value(d);
      return true;
    }
    case null:
      out = Value(nullptr);
      return true;
    case undefined:
      out = Value(Undefined{});
      return true;
    default:
      return false;  // movieclip, reference, unsupported, recordset, XML, typed object, AMF3
  }
}

void put_be(std::vector<std::uint8_t>& out, std::uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void put_short_text(std::vector<std::uint8_t>& out, std::string_view s) {
  put_be(out, s.size(), 2);
  out.insert(out.end(), s.begin(), s.end());
}

void put_properties(std::vector<std::uint8_t>& out, const Properties& props) {
  for (const auto& [name, v] : props) {
    put_short_text(out, name);
    encode(v, out);
  }
  out.insert(out.end(), {0, 0, object_end});
}

}  // namespace

bool Object::operator==(const Object& o) const { return properties == o.properties; }
bool EcmaArray::operator==(const EcmaArray& o) const { return properties == o.properties; }
bool StrictArray::operator==(const StrictArray& o) const { return items == o.items; }

const Properties* Value::properties() const {
  if (const auto* o = std::get_if<Object>(&v)) return &o->properties;
  if (const auto* a = std::get_if<EcmaArray>(&v)) return &a->properties;
  return nullptr;
}

const Value* Value::get(std::string_view name) const {
  const auto* props = properties();
  if (!props) return nullptr;
  for (const auto& [k, val] : *props) {
    if (k == name) return &val;
  }
  return nullptr;
}

std::optional<std::vector<Value>> decode_all(std::span<const std::uint8_t> bytes, int max_depth,
                                            std::size_t max_values) {
  Reader r(bytes, max_values);
  std::vector<Value> out;
  while (!r.done()) {
    Value v;
    if (!read_value(r, v, max_depth)) return std::nullopt;
    out.push_back(std::move(v));
  }
  return out;
}

void encode(const Value& value, std::vector<std::uint8_t>& out) {
  struct Visitor {
    std::vector<std::uint8_t>& out;
    void operator()(std::nullptr_t) { out.push_back(null); }
    void operator()(Undefined) { out.push_back(undefined); }
    void operator()(double d) {
      out.push_back(number);
      put_be(out, std::bit_cast<std::uint64_t>(d), 8);
    }
    void operator()(bool b) { out.insert(out.end(), {boolean, static_cast<std::uint8_t>(b)}); }
    void operator()(const std::string& s) {
      if (s.size() > 0xffff) {
        out.push_back(long_string);
        put_be(out, s.size(), 4);
        out.insert(out.end(), s.begin(), s.end());
      } else {
        out.push_back(string);
        put_short_text(out, s);
      }
    }
    void operator()(const Object& o) {
      out.push_back(object);
      put_properties(out, o.properties);
    }
    void operator()(const EcmaArray& a) {
      out.push_back(ecma_array);
      put_be(out, a.properties.size(), 4);
      put_properties(out, a.properties);
    }
    void operator()(const StrictArray& a) {
      out.push_back(strict_array);
      put_be(out, a.items.size(), 4);
      for (const auto& item : a.items) encode(item, out);
    }
    void operator()(const Date& d) {
      out.push_back(date);
      put_be(out, std::bit_cast<std::uint64_t>(d.millis), 8);
      put_be(out, static_cast<std::uint16_t>(d.timezone), 2);
    }
  };
  std::visit(Visitor{out}, value.v);
}

std::vector<std::uint8_t> encode_all(std::initializer_list<Value> values) {
  std::vector<std::uint8_t> out;
  for (const auto& v : values) encode(v, out);
  return out;
}

}  // namespace souk::ingest::amf0
