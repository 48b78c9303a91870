#include "souk/log.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using souk::log::Format;

TEST_CASE("text rendering: message, key=value, bare values, quoting") {
  souk::log::init(spdlog::level::off, Format::text);
  const auto line = souk::log::render(
      "http", {souk::log::bare({"method", "GET"}), souk::log::bare({"path", "/x"}),
               souk::log::bare({"status", 200}), {"duration_ms", 1.5}, {"note", "two words"}});
  CHECK(line == "http GET /x 200 duration_ms=1.500 note=\"two words\"");
}

TEST_CASE("json rendering is valid JSON with typed fields") {
  souk::log::init(spdlog::level::off, Format::json);
  const auto payload = souk::log::render(
      "hello \"world\"\n", {{"stream_id", "abc"}, {"status", 404}, {"ok", true}});
  const auto j = nlohmann::json::parse("{" + payload + "}");
  CHECK(j["msg"] == "hello \"world\"\n");
  CHECK(j["stream_id"] == "abc");
  CHECK(j["status"] == 404);
  CHECK(j["ok"] == true);
  souk::log::init(spdlog::level::off, Format::text);
}
