#include "souk/api/json_body.hpp"

#include "souk/api/api_error.hpp"

#include <doctest/doctest.h>

using souk::api::ApiError;
using souk::api::JsonBody;

namespace {

// Runs f and returns the ApiError it throws.
template <class F>
ApiError error_of(F&& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e;
  }
  FAIL("expected an ApiError");
  return ApiError(0, "", "");
}

}  // namespace

TEST_CASE("json body: malformed, non-object and too deep bodies are 400 invalid_json") {
  for (const char* bad : {"{", "{\"a\":}", "[1]", "\"text\"", "42", "nul", "{\"a\":1}x"}) {
    CAPTURE(bad);
    const auto e = error_of([&] { JsonBody::parse(bad); });
    CHECK(e.status() == 400);
    CHECK(e.code() == "invalid_json");
  }
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK(error_of([&] { JsonBody::parse(deep); }).code() == "invalid_json");
  const std::string deep_object = "{\"a\":" + std::string(40, '[') + std::string(40, ']') + "}";
  CHECK(error_of([&] { JsonBody::parse(deep_object); }).code() == "invalid_json");
}

TEST_CASE("json body: brackets inside strings do not count as nesting") {
  const std::string s = "{\"a\":\"" + std::string(1000, '[') + "\\\"\"}";
  CHECK(JsonBody::parse(s).required_string("a").size() == 1001);
}

TEST_CASE("json body: empty body is an empty object") {
  const auto b = JsonBody::parse("  ");
  CHECK_FALSE(b.has("x"));
}

TEST_CASE("json body: typed getters") {
  const auto b = JsonBody::parse(
      R"({"s":"x","i":5,"f":1.5,"b":true,"n":null,"a":["p","q"],"big":18446744073709551615})");
  CHECK(b.required_string("s") == "x");
  CHECK(b.required_int("i") == 5);
  CHECK(b.optional_number("f") == 1.5);
  CHECK(b.optional_number("i") == 5.0);
  CHECK(b.optional_bool("b") == true);
  CHECK_FALSE(b.optional_string("n"));  // null reads as absent
  CHECK_FALSE(b.has("n"));
  CHECK(b.optional_string_array("a") == std::vector<std::string>{"p", "q"});

  auto e = error_of([&] { b.required_string("missing"); });
  CHECK(e.status() == 400);
  CHECK(e.code() == "missing_field");
  CHECK(e.field() == "missing");

  e = error_of([&] { b.required_string("i"); });
  CHECK(e.code() == "invalid_type");
  CHECK(e.field() == "i");
  CHECK(error_of([&] { b.optional_int("f"); }).code() == "invalid_type");
  CHECK(error_of([&] { b.optional_int("s"); }).code() == "invalid_type");
  CHECK(error_of([&] { b.optional_bool("i"); }).code() == "invalid_type");
  CHECK(error_of([&] { b.optional_number("s"); }).code() == "invalid_type");
  CHECK(error_of([&] { b.optional_string_array("s"); }).code() == "invalid_type");
  CHECK(error_of([&] { b.optional_int("big"); }).status() == 422);
}

TEST_CASE("json body: invalid UTF-8 is malformed JSON") {
  CHECK(error_of([] { JsonBody::parse("{\"a\":\"\xff\xfe\"}"); }).code() == "invalid_json");
}
