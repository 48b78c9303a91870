#include "souk/ingest/amf0.hpp"

#include <doctest/doctest.h>

#include <limits>

using namespace souk::ingest::amf0;

namespace {

std::vector<Value> round_trip(std::initializer_list<Value> values) {
  const auto bytes = encode_all(values);
  auto decoded = decode_all(bytes);
  REQUIRE(decoded);
  return *decoded;
}

}  // namespace

TEST_CASE("amf0: scalars round trip") {
  const std::vector<Value> in = {0.0, -1.5, 1e300, true, false, "", "connect", nullptr, Undefined{},
                                 Date{1795515980123.0, 0}};
  const auto out = round_trip({in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], in[8], in[9]});
  CHECK(out == in);
}

TEST_CASE("amf0: long strings use the long-string marker") {
  const std::string big(70000, 'x');
  const auto bytes = encode_all({big});
  CHECK(bytes[0] == 0x0c);
  const auto out = decode_all(bytes);
  REQUIRE(out);
  CHECK(*(*out)[0].as_string() == big);
}

TEST_CASE("amf0: objects, ECMA arrays and strict arrays keep order and nesting") {
  const Value obj = Object{{{"app", "live"}, {"tcUrl", "rtmp://h/live"}, {"fpad", false},
                            {"nested", Object{{{"n", 1.0}}}}}};
  const Value ecma = EcmaArray{{{"width", 1280.0}, {"height", 720.0}, {"encoder", "obs-output"}}};
  const Value strict = StrictArray{{1.0, "two", nullptr, Object{}}};
  const auto out = round_trip({obj, ecma, strict});
  REQUIRE(out.size() == 3);
  CHECK(out[0] == obj);
  CHECK(out[1] == ecma);
  CHECK(out[2] == strict);
  CHECK(*out[0].get("app")->as_string() == "live");
  CHECK(*out[1].get("width")->as_number() == 1280.0);
  CHECK(out[1].get("missing") == nullptr);
}

TEST_CASE("amf0: the bytes of a connect command as FFmpeg sends them") {
  // 02 0007 "connect" | 00 3ff0000000000000 (1.0) | 03 0003 "app" 02 0004 "live" 000009
  const std::vector<std::uint8_t> wire = {
      0x02, 0x00, 0x07, 'c',  'o',  'n',  'n',  'e', 'c', 't', 0x00, 0x3f, 0xf0, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x03, 'a', 'p', 'p',  0x02, 0x00, 0x04,
      'l',  'i',  'v',  'e',  0x00, 0x00, 0x09};
  const auto out = decode_all(wire);
  REQUIRE(out);
  REQUIRE(out->size() == 3);
  CHECK(*(*out)[0].as_string() == "connect");
  CHECK(*(*out)[1].as_number() == 1.0);
  CHECK(*(*out)[2].get("app")->as_string() == "live");
  CHECK(encode_all({"connect", 1.0, Object{{{"app", "live"}}}}) == wire);
}

TEST_CASE("amf0: malformed input is refused, never over-read") {
  const auto good = encode_all({"name", 1.0, Object{{{"k", "v"}}}, StrictArray{{1.0, 2.0}}});
  // Every cut either fails or yields only the values wholly before it.
  std::size_t failures = 0;
  for (std::size_t cut = 1; cut < good.size(); ++cut) {
    CAPTURE(cut);
    const auto d = decode_all(std::span(good.data(), cut));
    CHECK((!d || d->size() < 4));
    failures += !d;
  }
  CHECK(failures == good.size() - 1 - 3);  // three cuts fall between values
  CHECK_FALSE(decode_all(std::vector<std::uint8_t>{0x11}));  // AMF3 switch is not AMF0
  CHECK_FALSE(decode_all(std::vector<std::uint8_t>{0x0a, 0xff, 0xff, 0xff, 0xff}));  // huge count
  // Nesting deeper than the limit.
  std::vector<std::uint8_t> deep;
  for (int i = 0; i < 100; ++i) deep.insert(deep.end(), {0x03, 0x00, 0x01, 'a'});
  CHECK_FALSE(decode_all(deep));
}

// Regression (issue 21): a 16 MB onMetaData holding a strict array of nulls
// decoded into 1.2 GB. Every value counts, nested ones and property values too.
TEST_CASE("amf0: more values than max_values are refused") {
  // "onMetaData", then a strict array (marker 0x0a, count 5) of five nulls (0x05).
  const std::vector<std::uint8_t> wire = {
      0x02, 0x00, 0x0a, 'o', 'n', 'M', 'e', 't', 'a', 'D', 'a', 't', 'a',  // string "onMetaData"
      0x0a, 0x00, 0x00, 0x00, 0x05,                                        // strict array, count 5
      0x05, 0x05, 0x05, 0x05, 0x05,                                        // five nulls
  };
  // Seven values: the name, the array, its five items.
  CHECK(decode_all(wire, 16, 7));
  CHECK_FALSE(decode_all(wire, 16, 6));
  // Property values count as well: an object of three properties is four values.
  const auto object = encode_all({Object{{{"a", 1.0}, {"b", 2.0}, {"c", nullptr}}}});
  CHECK(decode_all(object, 16, 4));
  CHECK_FALSE(decode_all(object, 16, 3));

  // The attack's shape, at the default: 100,000 nulls in a 100 KB array stop at
  // default_max_values instead of becoming 100,000 values.
  std::vector<std::uint8_t> many = {0x0a, 0x00, 0x01, 0x86, 0xa0};  // strict array, count 100000
  many.resize(many.size() + 100000, 0x05);
  CHECK_FALSE(decode_all(many));
  // A publisher's real onMetaData (ffmpeg's, 15 properties) is far within it.
  const auto metadata = encode_all(
      {"@setDataFrame", "onMetaData",
       EcmaArray{{{"duration", 0.0}, {"width", 640.0}, {"height", 360.0}, {"videodatarate", 0.0},
                  {"framerate", 30.0}, {"videocodecid", 7.0}, {"audiodatarate", 62.5},
                  {"audiosamplerate", 48000.0}, {"audiosamplesize", 16.0}, {"stereo", true},
                  {"audiocodecid", 10.0}, {"major_brand", "isom"}, {"minor_version", "512"},
                  {"encoder", "Lavf59.27.100"}, {"filesize", 0.0}}}});
  CHECK(decode_all(metadata));
}

TEST_CASE("amf0: numbers keep their bits") {
  const auto out = round_trip({std::numeric_limits<double>::infinity(), -0.0});
  CHECK(*out[0].as_number() == std::numeric_limits<double>::infinity());
}
