// Configuration sources and validation.
#include "souk/app/config.hpp"

#include "souk/webhooks/url.hpp"

#include <boost/asio/ip/address.hpp>
#include <toml++/toml.h>

#include <charconv>
#include <sstream>

namespace souk::app {
namespace {

using Apply = void (*)(ServerConfig&, const std::string&);

struct Setting {
  SettingInfo info;
  Apply apply;  // throws std::invalid_argument with the reason
};

[[noreturn]] void bad(const std::string& why) { throw std::invalid_argument(why); }

std::int64_t parse_int(const std::string& v, std::int64_t min, std::int64_t max) {
  std::int64_t out = 0;
  const auto* end = v.data() + v.size();
  const auto [p, ec] = std::from_chars(v.data(), end, out);
  if (ec != std::errc() || p != end) bad("expected an integer, got '" + v + "'");
  if (out < min || out > max) {
    bad("expected " + std::to_string(min) + ".." + std::to_string(max) + ", got " + v);
  }
  return out;
}

ListenAddress parse_listen(const std::string& v) {
  const auto colon = v.rfind(':');
  if (colon == std::string::npos) bad("expected HOST:PORT, got '" + v + "'");
  std::string host = v.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  if (ec) bad("expected HOST:PORT with an IP address as HOST, got '" + v + "'");
  const auto port = parse_int(v.substr(colon + 1), 0, 65535);
  return ListenAddress{host, static_cast<std::uint16_t>(port)};
}

// Comma-separated, blanks around items ignored, empty items dropped.
std::vector<std::string> split_list(const std::string& v) {
  std::vector<std::string> items;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto a = item.find_first_not_of(' ');
    const auto b = item.find_last_not_of(' ');
    if (a == std::string::npos) continue;
    items.push_back(item.substr(a, b - a + 1));
  }
  return items;
}

std::string parse_url(const std::string& v, std::initializer_list<const char*> schemes) {
  std::string url = v;
  while (!url.empty() && url.back() == '/') url.pop_back();
  for (const char* s : schemes) {
    const std::string prefix = std::string(s) + "://";
    if (url.size() > prefix.size() && url.compare(0, prefix.size(), prefix) == 0 &&
        url.find_first_of(" \t\r\n") == std::string::npos) {
      return url;
    }
  }
  std::string expected;
  for (const char* s : schemes) expected += (expected.empty() ? "" : " or ") + std::string(s) + "://";
  bad("expected a URL starting with " + expected + ", got '" + v + "'");
}

const std::vector<Setting>& all_settings() {
  static const std::vector<Setting> list = {
      {{"data-dir", "SOUK_DATA_DIR", "Directory for the database and media", "./data"},
       [](ServerConfig& c, const std::string& v) {
         if (v.empty()) bad("must not be empty");
         c.data_dir = v;
       }},
      {{"rtmp-listen", "SOUK_RTMP_LISTEN", "RTMP ingest address HOST:PORT", "0.0.0.0:1935"},
       [](ServerConfig& c, const std::string& v) { c.rtmp_listen = parse_listen(v); }},
      {{"http-listen", "SOUK_HTTP_LISTEN", "HTTP API address HOST:PORT", "0.0.0.0:8080"},
       [](ServerConfig& c, const std::string& v) { c.http_listen = parse_listen(v); }},
      {{"public-http-url", "SOUK_PUBLIC_HTTP_URL",
        "Base URL viewers and apps reach the HTTP port at (used in every returned URL)",
        "derived from --http-listen"},
       [](ServerConfig& c, const std::string& v) {
         c.public_http_url = parse_url(v, {"http", "https"});
       }},
      {{"public-rtmp-url", "SOUK_PUBLIC_RTMP_URL",
        "RTMP URL publishers use, as OBS's Server field takes it", "derived from --rtmp-listen"},
       [](ServerConfig& c, const std::string& v) {
         c.public_rtmp_url = parse_url(v, {"rtmp", "rtmps"});
       }},
      {{"log-level", "SOUK_LOG_LEVEL", "trace|debug|info|warn|error|critical|off", "info"},
       [](ServerConfig& c, const std::string& v) {
         static const char* names[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
         for (int i = 0; i < 7; ++i) {
           if (v == names[i]) {
             c.log_level = static_cast<spdlog::level::level_enum>(i);
             return;
           }
         }
         bad("expected trace, debug, info, warn, error, critical or off, got '" + v + "'");
       }},
      {{"log-format", "SOUK_LOG_FORMAT", "text|json", "text"},
       [](ServerConfig& c, const std::string& v) {
         if (v == "text") {
           c.log_format = log::Format::text;
         } else if (v == "json") {
           c.log_format = log::Format::json;
         } else {
           bad("expected text or json, got '" + v + "'");
         }
       }},
      {{"max-body-bytes", "SOUK_MAX_BODY_BYTES", "Largest accepted request body", "1048576"},
       [](ServerConfig& c, const std::string& v) {
         c.max_body_bytes = static_cast<std::size_t>(parse_int(v, 1, std::int64_t{1} << 32));
       }},
      {{"http-max-connections", "SOUK_HTTP_MAX_CONNECTIONS",
        "Most HTTP connections at once (WebSockets included); one more is closed at once, 1..1000000",
        "20000"},
       [](ServerConfig& c, const std::string& v) {
         c.http_max_connections = static_cast<std::size_t>(parse_int(v, 1, 1000000));
       }},
      {{"http-max-per-address", "SOUK_HTTP_MAX_PER_ADDRESS",
        "Most HTTP connections at once from one address (trusted proxies are not capped), 1..1000000",
        "2000"},
       [](ServerConfig& c, const std::string& v) {
         c.http_max_per_address = static_cast<std::size_t>(parse_int(v, 1, 1000000));
       }},
      {{"http-request-timeout", "SOUK_HTTP_REQUEST_TIMEOUT",
        "Seconds a client has to send one whole request, headers and body (an idle "
        "connection is closed after it too), 1..3600",
        "30"},
       [](ServerConfig& c, const std::string& v) {
         c.http_request_timeout = std::chrono::seconds(parse_int(v, 1, 3600));
       }},
      {{"cors-origins", "SOUK_CORS_ORIGINS", "Allowed browser origins, comma-separated, or *",
        "*"},
       [](ServerConfig& c, const std::string& v) {
         auto origins = split_list(v);
         if (origins.empty()) bad("expected * or a comma-separated list of origins");
         c.cors_origins = std::move(origins);
       }},
      {{"login-max-failures", "SOUK_LOGIN_MAX_FAILURES",
        "Failed logins in a row for a username before each further login must wait (2 s, "
        "doubling up to --login-window; 429 until then), 1..1000",
        "5"},
       [](ServerConfig& c, const std::string& v) {
         c.login_max_failures = static_cast<int>(parse_int(v, 1, 1000));
       }},
      {{"login-window", "SOUK_LOGIN_WINDOW",
        "Seconds after which a username's failed logins are forgotten; the longest wait they "
        "impose, 1..604800",
        "900"},
       [](ServerConfig& c, const std::string& v) {
         c.login_window = std::chrono::seconds(parse_int(v, 1, std::int64_t{86400} * 7));
       }},
      {{"login-failures-per-minute-per-address", "SOUK_LOGIN_FAILURES_PER_MINUTE_PER_ADDRESS",
        "Failed logins one client address may make a minute (as many at once); beyond, its "
        "logins get 429, 1..100000",
        "30"},
       [](ServerConfig& c, const std::string& v) {
         c.login_failures_per_minute_per_address = static_cast<int>(parse_int(v, 1, 100000));
       }},
      {{"login-failures-per-minute", "SOUK_LOGIN_FAILURES_PER_MINUTE",
        "Failed logins all clients together may make a minute; beyond, every login gets 429, "
        "1..1000000",
        "600"},
       [](ServerConfig& c, const std::string& v) {
         c.login_failures_per_minute = static_cast<int>(parse_int(v, 1, 1000000));
       }},
      {{"hash-threads", "SOUK_HASH_THREADS",
        "Threads that hash and check passwords (argon2id, 64 MiB each), apart from the request "
        "pool, 1..64",
        "2"},
       [](ServerConfig& c, const std::string& v) {
         c.hash_threads = static_cast<std::size_t>(parse_int(v, 1, 64));
       }},
      {{"hash-queue", "SOUK_HASH_QUEUE",
        "Logins and registrations that may wait for a hashing thread; beyond, 503, 0..256", "16"},
       [](ServerConfig& c, const std::string& v) {
         c.hash_queue = static_cast<std::size_t>(parse_int(v, 0, 256));
       }},
      {{"product-events-per-minute", "SOUK_PRODUCT_EVENTS_PER_MINUTE",
        "Product events (click, view, inquiry, purchase) one user may post a minute (as many "
        "at once); beyond, 429, 1..100000",
        "120"},
       [](ServerConfig& c, const std::string& v) {
         c.product_events_per_minute = static_cast<int>(parse_int(v, 1, 100000));
       }},
      {{"token-ttl-seconds", "SOUK_TOKEN_TTL_SECONDS",
        "Seconds a bearer token from register or login stays valid, 1..31536000 (a year)",
        "2592000"},
       [](ServerConfig& c, const std::string& v) {
         c.token_ttl = std::chrono::seconds(parse_int(v, 1, std::int64_t{365} * 86400));
       }},
      {{"rtmp-app", "SOUK_RTMP_APP", "RTMP application name publishers connect to", "live"},
       [](ServerConfig& c, const std::string& v) {
         if (v.empty() || v.size() > 64 || v.find_first_of("/?# ") != std::string::npos) {
           bad("expected a name without '/', '?', '#' or spaces, got '" + v + "'");
         }
         c.rtmp_app = v;
       }},
      {{"rtmp-max-connections", "SOUK_RTMP_MAX_CONNECTIONS", "Most RTMP connections at once",
        "1000"},
       [](ServerConfig& c, const std::string& v) {
         c.rtmp_max_connections = static_cast<std::size_t>(parse_int(v, 1, 100000));
       }},
      {{"rtmp-max-per-address", "SOUK_RTMP_MAX_PER_ADDRESS",
        "Most RTMP connections at once from one address (behind a proxy, the proxy's), 1..100000",
        "16"},
       [](ServerConfig& c, const std::string& v) {
         c.rtmp_max_per_address = static_cast<std::size_t>(parse_int(v, 1, 100000));
       }},
      {{"rtmp-threads", "SOUK_RTMP_THREADS",
        "Threads that run RTMP connections, each an event loop of its own; 0: one per core, "
        "0..256",
        "0"},
       [](ServerConfig& c, const std::string& v) {
         c.rtmp_threads = static_cast<unsigned>(parse_int(v, 0, 256));
       }},
      {{"rtmp-max-chunk-streams", "SOUK_RTMP_MAX_CHUNK_STREAMS",
        "Most chunk stream ids one RTMP connection may use", "64"},
       [](ServerConfig& c, const std::string& v) {
         c.rtmp_max_chunk_streams = static_cast<std::size_t>(parse_int(v, 4, 65599));
       }},
      {{"rtmp-max-partial-bytes", "SOUK_RTMP_MAX_PARTIAL_BYTES",
        "Bytes of unfinished messages one RTMP connection may hold (the largest video frame "
        "must fit), 65536..1073741824",
        "8388608"},
       [](ServerConfig& c, const std::string& v) {
         c.rtmp_max_partial_bytes = static_cast<std::size_t>(parse_int(v, 65536, std::int64_t{1} << 30));
       }},
      {{"rtmp-publish-deadline", "SOUK_RTMP_PUBLISH_DEADLINE",
        "Seconds from an RTMP connection's accept to its publish accepted; later, it is closed, "
        "1..3600",
        "10"},
       [](ServerConfig& c, const std::string& v) {
         c.rtmp_publish_deadline = std::chrono::seconds(parse_int(v, 1, 3600));
       }},
      {{"rtmp-idle-timeout", "SOUK_RTMP_IDLE_TIMEOUT",
        "Seconds an RTMP connection may go without media (a stalled publisher) before it is "
        "closed, 1..3600",
        "30"},
       [](ServerConfig& c, const std::string& v) {
         c.rtmp_idle_timeout = std::chrono::seconds(parse_int(v, 1, 3600));
       }},
      {{"hls-segment-seconds", "SOUK_HLS_SEGMENT_SECONDS",
        "HLS target segment duration (cut at the next keyframe after it), 1..10", "2"},
       [](ServerConfig& c, const std::string& v) {
         c.hls_segment_seconds = static_cast<double>(parse_int(v, 1, 10));
       }},
      {{"idle-timeout", "SOUK_IDLE_TIMEOUT",
        "Seconds a live stream may go without a publisher before it is ended", "600"},
       [](ServerConfig& c, const std::string& v) {
         c.idle_timeout = std::chrono::seconds(parse_int(v, 1, std::int64_t{7} * 86400));
       }},
      {{"viewer-count-interval", "SOUK_VIEWER_COUNT_INTERVAL",
        "Seconds between stream:viewer-count broadcasts to live rooms", "10"},
       [](ServerConfig& c, const std::string& v) {
         c.viewer_count_interval = std::chrono::seconds(parse_int(v, 1, 3600));
       }},
      {{"socketio-ping-interval-ms", "SOUK_SOCKETIO_PING_INTERVAL_MS",
        "Milliseconds between Engine.IO pings to each Socket.IO client, 100..300000", "25000"},
       [](ServerConfig& c, const std::string& v) {
         c.socketio_ping_interval = std::chrono::milliseconds(parse_int(v, 100, 300000));
       }},
      {{"socketio-ping-timeout-ms", "SOUK_SOCKETIO_PING_TIMEOUT_MS",
        "Milliseconds a Socket.IO client has to answer a ping before it is disconnected, "
        "100..300000",
        "20000"},
       [](ServerConfig& c, const std::string& v) {
         c.socketio_ping_timeout = std::chrono::milliseconds(parse_int(v, 100, 300000));
       }},
      {{"realtime-max-connections", "SOUK_REALTIME_MAX_CONNECTIONS",
        "Most Socket.IO sessions (polling or WebSocket) open at once; more get 503, "
        "1..1000000",
        "10000"},
       [](ServerConfig& c, const std::string& v) {
         c.realtime_max_connections = static_cast<std::size_t>(parse_int(v, 1, 1000000));
       }},
      {{"realtime-max-per-address", "SOUK_REALTIME_MAX_PER_ADDRESS",
        "Most Socket.IO sessions open at once from one client address; more get 429, "
        "1..1000000",
        "1000"},
       [](ServerConfig& c, const std::string& v) {
         c.realtime_max_per_address = static_cast<std::size_t>(parse_int(v, 1, 1000000));
       }},
      {{"realtime-max-queue-bytes", "SOUK_REALTIME_MAX_QUEUE_BYTES",
        "Bytes waiting for one Socket.IO client before it is disconnected (it stopped "
        "reading), 65536..1073741824",
        "4194304"},
       [](ServerConfig& c, const std::string& v) {
         c.realtime_max_queue_bytes = static_cast<std::size_t>(parse_int(v, 65536, 1 << 30));
       }},
      {{"reactions-per-second", "SOUK_REACTIONS_PER_SECOND",
        "Reactions one user may send a second, across their sockets (twice as many at "
        "once), 1..100000",
        "10"},
       [](ServerConfig& c, const std::string& v) {
         c.reactions_per_second = static_cast<double>(parse_int(v, 1, 100000));
       }},
      {{"reaction-batch-ms", "SOUK_REACTION_BATCH_MS",
        "Milliseconds over which a busy room's reactions are sent together, one "
        "reaction:new per emoji with its count; 0 sends each at once, 0..1000",
        "200"},
       [](ServerConfig& c, const std::string& v) {
         c.reaction_batch_interval = std::chrono::milliseconds(parse_int(v, 0, 1000));
       }},
      {{"joins-per-minute", "SOUK_JOINS_PER_MINUTE",
        "Stream rooms one Socket.IO client may enter a minute (one address: ten times "
        "as many), 1..10000",
        "30"},
       [](ServerConfig& c, const std::string& v) {
         c.joins_per_minute = static_cast<int>(parse_int(v, 1, 10000));
       }},
      {{"hls-window", "SOUK_HLS_WINDOW", "Segments in the live HLS playlist, 3..30", "6"},
       [](ServerConfig& c, const std::string& v) {
         c.hls_window = static_cast<std::size_t>(parse_int(v, 3, 30));
       }},
      {{"hls-cache-mb", "SOUK_HLS_CACHE_MB",
        "Megabytes of memory for hot HLS playlists and segments, served without the disk; "
        "0 turns it off, 0..65536",
        "256"},
       [](ServerConfig& c, const std::string& v) {
         c.hls_cache_mb = static_cast<std::size_t>(parse_int(v, 0, 65536));
       }},
      {{"trusted-proxies", "SOUK_TRUSTED_PROXIES",
        "Proxies (IPs or CIDR networks, comma-separated) whose X-Forwarded-For, and PROXY "
        "protocol header on the RTMP port, give the client's address",
        "none"},
       [](ServerConfig& c, const std::string& v) { c.trusted_proxies = TrustedProxies::parse(v); }},
      {{"webhook-urls", "SOUK_WEBHOOK_URLS",
        "http:// URLs that receive webhook events, comma-separated; empty: no webhooks", "none"},
       [](ServerConfig& c, const std::string& v) {
         auto urls = split_list(v);
         for (const auto& url : urls) webhooks::parse_http_url(url);  // throws the reason
         c.webhook_urls = std::move(urls);
       }},
      {{"webhook-secret", "SOUK_WEBHOOK_SECRET",
        "Key of the webhooks' HMAC-SHA256 signature, at least 16 characters (required with "
        "--webhook-urls; prefer the environment variable, flags show in ps)",
        "none"},
       [](ServerConfig& c, const std::string& v) {
         if (v.size() < 16) bad("expected at least 16 characters");
         c.webhook_secret = v;
       }},
      {{"webhook-max-attempts", "SOUK_WEBHOOK_MAX_ATTEMPTS",
        "Attempts per webhook delivery before it is marked failed, 1..100", "12"},
       [](ServerConfig& c, const std::string& v) { c.webhook_max_attempts = parse_int(v, 1, 100); }},
      {{"webhook-retry-base-ms", "SOUK_WEBHOOK_RETRY_BASE_MS",
        "Milliseconds before the first webhook retry; each later one waits twice as long "
        "(jittered, at most 1 h), 10..3600000",
        "10000"},
       [](ServerConfig& c, const std::string& v) {
         c.webhook_retry_base = std::chrono::milliseconds(parse_int(v, 10, 3600000));
       }},
  };
  return list;
}

// TOML keys are the flag names, with '-' or '_'.
std::string normalize_key(std::string k) {
  for (char& c : k) {
    if (c == '_') c = '-';
  }
  return k;
}

// Flattens a TOML value to the text form a flag would carry.
std::optional<std::string> toml_value_text(const toml::node& node) {
  if (auto s = node.value<std::string>()) return *s;
  if (node.is_integer()) return std::to_string(*node.value<std::int64_t>());
  if (node.is_boolean()) return *node.value<bool>() ? "true" : "false";
  if (const auto* arr = node.as_array()) {
    std::string joined;
    for (const auto& item : *arr) {
      auto s = item.value<std::string>();
      if (!s) return std::nullopt;
      joined += (joined.empty() ? "" : ",") + *s;
    }
    return joined;
  }
  return std::nullopt;
}

std::string default_public_host(const ListenAddress& a) {
  if (a.host == "0.0.0.0" || a.host == "::") return "localhost";
  return a.host.find(':') != std::string::npos ? "[" + a.host + "]" : a.host;
}

}  // namespace

std::string ListenAddress::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

const std::vector<SettingInfo>& settings() {
  static const std::vector<SettingInfo> infos = [] {
    std::vector<SettingInfo> out;
    for (const auto& s : all_settings()) out.push_back(s.info);
    return out;
  }();
  return infos;
}

ServerConfig resolve_config(const CliValues& cli, const EnvLookup& env,
                            const std::optional<std::string>& toml_text,
                            const std::string& toml_name) {
  // Values from the file, by normalized key, keeping the key as written.
  std::map<std::string, std::pair<std::string, std::string>> from_file;
  if (toml_text) {
    toml::table table;
    try {
      table = toml::parse(*toml_text, toml_name);
    } catch (const toml::parse_error& e) {
      const auto& where = e.source().begin;
      throw ConfigError(toml_name + ":" + std::to_string(where.line) + ": " +
                        std::string(e.description()));
    }
    for (const auto& [key, node] : table) {
      const std::string written(key.str());
      const std::string name = normalize_key(written);
      bool known = false;
      for (const auto& s : all_settings()) known = known || name == s.info.name;
      if (!known) throw ConfigError(toml_name + ": unknown key '" + written + "'");
      auto text = toml_value_text(node);
      if (!text) throw ConfigError(toml_name + ": key '" + written + "' has an unsupported type");
      from_file[name] = {written, *text};
    }
  }

  ServerConfig config;
  for (const auto& s : all_settings()) {
    std::string source;
    std::optional<std::string> value;
    if (auto it = cli.find(s.info.name); it != cli.end()) {
      value = it->second;
      source = std::string("--") + s.info.name;
    } else if (auto e = env(s.info.env)) {
      value = *e;
      source = s.info.env;
    } else if (auto f = from_file.find(s.info.name); f != from_file.end()) {
      value = f->second.second;
      source = toml_name + ": " + f->second.first;
    }
    if (!value) continue;
    try {
      s.apply(config, *value);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(source + ": " + e.what());
    }
  }
  if (!config.webhook_urls.empty() && config.webhook_secret.empty()) {
    throw ConfigError("--webhook-secret: required when --webhook-urls is set (receivers check "
                      "the signature made with it)");
  }
  if (config.public_http_url.empty()) {
    config.public_http_url = "http://" + default_public_host(config.http_listen) + ":" +
                             std::to_string(config.http_listen.port);
  }
  if (config.public_rtmp_url.empty()) {
    config.public_rtmp_url = "rtmp://" + default_public_host(config.rtmp_listen) + ":" +
                             std::to_string(config.rtmp_listen.port) + "/" + config.rtmp_app;
  }
  return config;
}

}  // namespace souk::app
