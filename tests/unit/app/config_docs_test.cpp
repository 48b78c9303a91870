// docs/configuration.md against the settings table of app/src/config.cpp, so the
// documentation cannot drift: every setting has exactly one row with its flag,
// environment variable, TOML key and default, no row names a setting that is gone,
// and each literal default in the table is the value the server really starts with.
#include "souk/app/config.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace souk::app;

namespace {

// The cells of a Markdown table row "| a | b |", trimmed; empty if the line is
// not a row.
std::vector<std::string> cells_of(const std::string& line) {
  std::vector<std::string> cells;
  if (line.size() < 2 || line.front() != '|') return cells;
  std::string cell;
  for (std::size_t i = 1; i < line.size(); ++i) {
    if (line[i] != '|') {
      cell += line[i];
      continue;
    }
    const auto a = cell.find_first_not_of(' ');
    const auto b = cell.find_last_not_of(' ');
    cells.push_back(a == std::string::npos ? "" : cell.substr(a, b - a + 1));
    cell.clear();
  }
  return cells;
}

// The settings rows of docs/configuration.md by flag: rows whose first cell is
// `--name`, as flag, environment variable, TOML key, default, meaning.
std::multimap<std::string, std::vector<std::string>> documented_settings() {
  std::ifstream in(std::string(SOUK_SOURCE_DIR) + "/docs/configuration.md");
  REQUIRE(in);
  std::multimap<std::string, std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    auto cells = cells_of(line);
    if (cells.empty() || cells[0].rfind("`--", 0) != 0) continue;
    const std::string flag = cells[0];
    rows.emplace(flag.substr(3, flag.size() - 4), std::move(cells));
  }
  return rows;
}

std::string code(const std::string& text) { return "`" + text + "`"; }

std::string toml_key(std::string name) {
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

EnvLookup no_env() {
  return [](const char*) -> std::optional<std::string> { return std::nullopt; };
}

// The configuration's values as text, to compare a configuration with another.
// trusted_proxies has no literal default to give back (its default is "none").
std::string describe(const ServerConfig& c) {
  std::ostringstream out;
  out << c.data_dir.string() << '|' << c.rtmp_listen.to_string() << '|'
      << c.http_listen.to_string() << '|' << c.public_http_url << '|' << c.public_rtmp_url << '|'
      << static_cast<int>(c.log_level) << '|' << static_cast<int>(c.log_format) << '|'
      << c.max_body_bytes << '|' << c.http_request_timeout.count() << '|'
      << c.http_max_connections << '|' << c.http_max_per_address << '|';
  for (const auto& o : c.cors_origins) out << o << ',';
  out << '|' << c.login_max_failures << '|' << c.login_window.count() << '|' << c.rtmp_app << '|'
      << c.rtmp_max_connections << '|' << c.rtmp_max_chunk_streams << '|' << c.rtmp_threads << '|'
      << c.hls_segment_seconds << '|' << c.hls_window << '|' << c.hls_cache_mb << '|'
      << c.viewer_count_interval.count() << '|' << c.idle_timeout.count() << '|'
      << c.rtmp_idle_timeout.count() << '|';
  out << c.rtmp_max_per_address << '|' << c.rtmp_max_partial_bytes << '|' << c.rtmp_publish_deadline.count() << '|';
  out << c.realtime_max_connections << '|' << c.realtime_max_per_address << '|'
      << c.realtime_max_queue_bytes << '|' << c.reactions_per_second << '|'
      << c.reaction_batch_interval.count() << '|' << c.joins_per_minute << '|';
  for (const auto& u : c.webhook_urls) out << u << ',';
  out << '|' << c.webhook_secret << '|' << c.webhook_max_attempts << '|'
      << c.webhook_retry_base.count();
  out << '|' << c.login_failures_per_minute_per_address << '|' << c.login_failures_per_minute << '|'
      << c.hash_threads << '|' << c.hash_queue << '|' << c.product_events_per_minute;
  return out.str();
}

}  // namespace

TEST_CASE("config docs: every setting has one row with its flag, variable, TOML key and default") {
  const auto rows = documented_settings();
  REQUIRE_FALSE(settings().empty());
  for (const auto& s : settings()) {
    CAPTURE(s.name);
    REQUIRE_MESSAGE(rows.count(s.name) == 1,
                    "docs/configuration.md needs exactly one row for --", s.name);
    const auto& cells = rows.find(s.name)->second;
    REQUIRE(cells.size() == 5);
    CHECK(cells[1] == code(s.env));
    CHECK(cells[2] == code(toml_key(s.name)));
    CHECK(cells[3] == code(s.default_text));
    CHECK_FALSE(cells[4].empty());
  }
}

TEST_CASE("config docs: every documented flag is a setting") {
  for (const auto& [name, cells] : documented_settings()) {
    CAPTURE(name);
    bool known = false;
    for (const auto& s : settings()) known = known || name == s.name;
    CHECK_MESSAGE(known, "docs/configuration.md documents --", name, ", which is no setting");
  }
}

TEST_CASE("config docs: a literal default is the value the server starts with") {
  // Giving a setting its documented default must change nothing; "none" and
  // "derived from ..." name an absence, checked by config_test's defaults.
  const auto defaults = describe(resolve_config({}, no_env()));
  for (const auto& s : settings()) {
    const std::string text = s.default_text;
    if (text == "none" || text.rfind("derived from", 0) == 0) continue;
    CAPTURE(s.name);
    CHECK(describe(resolve_config({{s.name, text}}, no_env())) == defaults);
  }
}
