// Server configuration: defaults, then a TOML file (--config), then SOUK_*
// environment variables, then command-line flags, each overriding the one before.
// Every value is checked here; a bad one is a ConfigError naming where it came from.
#pragma once

#include "souk/log.hpp"
#include "souk/trusted_proxies.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace souk::app {

struct ListenAddress {
  std::string host;  // an IP address literal
  std::uint16_t port = 0;
  std::string to_string() const;
};

struct ServerConfig {
  std::filesystem::path data_dir = "./data";
  ListenAddress rtmp_listen{"0.0.0.0", 1935};
  ListenAddress http_listen{"0.0.0.0", 8080};
  std::string public_http_url;  // derived from http_listen when not set
  std::string public_rtmp_url;  // derived from rtmp_listen when not set
  spdlog::level::level_enum log_level = spdlog::level::info;
  log::Format log_format = log::Format::text;
  std::size_t max_body_bytes = std::size_t{1024} * 1024;
  std::chrono::seconds http_request_timeout{30};  // to send one whole request, idle time included
  std::size_t http_max_connections = 20000;
  std::size_t http_max_per_address = 2000;  // trusted proxies are not capped per address
  std::vector<std::string> cors_origins{"*"};
  int login_max_failures = 5;
  std::chrono::seconds login_window{15 * 60};
  int login_failures_per_minute_per_address = 30;  // 429 beyond, from one client address
  int login_failures_per_minute = 600;             // 429 beyond, from all clients together
  std::size_t hash_threads = 2;                    // password hashing apart from the request pool
  std::size_t hash_queue = 16;                     // logins waiting for it; 503 beyond
  int product_events_per_minute = 120;             // per user; 429 beyond
  // How long a bearer token from register or login is valid.
  std::chrono::seconds token_ttl{std::int64_t{30} * 86400};
  std::string rtmp_app = "live";
  std::size_t rtmp_max_connections = 1000;
  std::size_t rtmp_max_per_address = 16;  // RTMP connections from one peer address
  std::size_t rtmp_max_chunk_streams = 64;
  std::size_t rtmp_max_partial_bytes = std::size_t{8} * 1024 * 1024;  // unfinished messages, per connection
  std::chrono::seconds rtmp_publish_deadline{10};  // from accept to an accepted publish
  unsigned rtmp_threads = 0;  // event loops for RTMP connections; 0: one per core
  double hls_segment_seconds = 2.0;
  std::size_t hls_window = 6;
  std::size_t hls_cache_mb = 256;  // hot HLS files in memory; 0: none
  std::chrono::seconds viewer_count_interval{10};
  // Engine.IO heartbeat: a ping every interval; no pong within the timeout closes the session.
  std::chrono::milliseconds socketio_ping_interval{25000};
  std::chrono::milliseconds socketio_ping_timeout{20000};
  // Bounds on what one Socket.IO client may use (see api::RealtimeOptions).
  std::size_t realtime_max_connections = 10000;
  std::size_t realtime_max_per_address = 1000;
  std::size_t realtime_max_queue_bytes = std::size_t{4} * 1024 * 1024;
  double reactions_per_second = 10;
  std::chrono::milliseconds reaction_batch_interval{200};
  int joins_per_minute = 30;
  std::chrono::seconds idle_timeout{600};
  std::chrono::seconds rtmp_idle_timeout{30};  // a publisher silent this long is dropped
  TrustedProxies trusted_proxies;  // peers whose X-Forwarded-For and PROXY headers are believed
  std::vector<std::string> webhook_urls;       // http:// receivers; empty: no webhooks
  std::string webhook_secret;                  // HMAC key, required with webhook_urls
  std::int64_t webhook_max_attempts = 12;
  std::chrono::milliseconds webhook_retry_base{10000};  // first retry after about this
};

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One setting: its flag name (without "--"), environment variable, help text
// and default as shown in --help.
struct SettingInfo {
  const char* name;
  const char* env;
  const char* help;
  const char* default_text;
};
const std::vector<SettingInfo>& settings();

// Values given on the command line, by setting name.
using CliValues = std::map<std::string, std::string>;
using EnvLookup = std::function<std::optional<std::string>(const char*)>;

// Builds the configuration. `toml_text` is the config file's contents and
// `toml_name` its path (for messages). Throws ConfigError.
ServerConfig resolve_config(const CliValues& cli, const EnvLookup& env,
                            const std::optional<std::string>& toml_text = std::nullopt,
                            const std::string& toml_name = "config file");

}  // namespace souk::app
