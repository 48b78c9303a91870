#include "souk/log.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>

#include <cmath>
#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

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

namespace {

// Logs through the real JSON formatter into a string; returns the lines written.
std::vector<std::string> json_lines(const std::function<void()>& log_some) {
  souk::log::init(spdlog::level::trace, Format::json);
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  sink->set_formatter(souk::log::make_formatter(Format::json));
  spdlog::default_logger()->sinks() = {sink};
  log_some();
  souk::log::init(spdlog::level::off, Format::text);
  std::vector<std::string> lines;
  std::istringstream in(out.str());
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("json lines: one object each, ts in RFC 3339 UTC with milliseconds, stable level names") {
  const auto lines = json_lines([] {
    souk::log::debug("d");
    souk::log::info("http", {souk::log::bare({"method", "GET"}), souk::log::bare({"path", "/x"}),
                             souk::log::bare({"status", 200}), {"duration_ms", 1.25},
                             {"remote", "127.0.0.1:5000"}});
    souk::log::warn("w", {{"stream_id", "abc"}});
    souk::log::error("e", {{"error", "disk full"}});
  });
  REQUIRE(lines.size() == 4);
  const std::regex ts(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");
  const std::regex head(R"(^\{"ts":"[^"]+","level":"[a-z]+","msg":")");
  const char* levels[] = {"debug", "info", "warn", "error"};
  for (std::size_t i = 0; i < lines.size(); ++i) {
    CAPTURE(lines[i]);
    const auto j = nlohmann::json::parse(lines[i]);
    REQUIRE(j.is_object());
    CHECK(std::regex_match(j["ts"].get<std::string>(), ts));
    CHECK(j["level"] == levels[i]);
    // ts, level and msg come first, in that order.
    CHECK(std::regex_search(lines[i], head));
  }
  const auto http = nlohmann::json::parse(lines[1]);
  CHECK(http["msg"] == "http");
  CHECK(http["method"] == "GET");
  CHECK(http["path"] == "/x");
  CHECK(http["status"] == 200);
  CHECK(http["duration_ms"] == 1.25);
  CHECK(http["remote"] == "127.0.0.1:5000");
  CHECK(nlohmann::json::parse(lines[2])["stream_id"] == "abc");
  CHECK(nlohmann::json::parse(lines[3])["error"] == "disk full");
}

TEST_CASE("json lines stay valid whatever the input: bad UTF-8, reserved keys, non-finite numbers") {
  const auto lines = json_lines([] {
    souk::log::info("bytes \xff\xfe and \xc3\xa9 and \xed\xa0\x80",
                    {{"path", "/a\xc3(b"}, {"msg", "shadow"}, {"level", 3}, {"ratio", std::nan("")}});
    // A message logged past write() (as a library might) is still one object.
    spdlog::default_logger_raw()->info("raw \"text\"");
  });
  REQUIRE(lines.size() == 2);
  const auto j = nlohmann::json::parse(lines[0]);
  CHECK(j["msg"] == "bytes \xef\xbf\xbd\xef\xbf\xbd and \xc3\xa9 and \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  CHECK(j["path"] == "/a\xef\xbf\xbd(b");
  CHECK(j["msg_"] == "shadow");
  CHECK(j["level"] == "info");
  CHECK(j["level_"] == 3);
  CHECK(j["ratio"].is_null());
  const auto raw = nlohmann::json::parse(lines[1]);
  CHECK(raw["msg"] == "raw \"text\"");
  CHECK(raw["level"] == "info");
}
