#include "souk/app/config.hpp"

#include <doctest/doctest.h>

#include <utility>
#include <vector>

using namespace souk::app;

namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string error_of(const CliValues& cli, const EnvLookup& env,
                     const std::optional<std::string>& toml = std::nullopt) {
  try {
    resolve_config(cli, env, toml, "souk.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("config: defaults") {
  const auto c = resolve_config({}, env_of({}));
  CHECK(c.data_dir == "./data");
  CHECK(c.http_listen.to_string() == "0.0.0.0:8080");
  CHECK(c.rtmp_listen.to_string() == "0.0.0.0:1935");
  CHECK(c.public_http_url == "http://localhost:8080");
  CHECK(c.public_rtmp_url == "rtmp://localhost:1935/live");
  CHECK(c.max_body_bytes == 1024 * 1024);
  CHECK(c.cors_origins == std::vector<std::string>{"*"});
  CHECK(c.log_level == spdlog::level::info);
  CHECK(c.log_format == souk::log::Format::text);
  CHECK(c.http_request_timeout == std::chrono::seconds(30));
  CHECK(c.http_max_connections == 20000);
  CHECK(c.http_max_per_address == 2000);
}

TEST_CASE("config: precedence is flag, then env, then file") {
  const std::string toml = "http_listen = \"127.0.0.1:1001\"\nrtmp-listen = \"127.0.0.1:1002\"\n"
                           "data_dir = \"/from/file\"\n";
  const auto c = resolve_config({{"http-listen", "127.0.0.1:3001"}},
                                env_of({{"SOUK_HTTP_LISTEN", "127.0.0.1:2001"},
                                        {"SOUK_RTMP_LISTEN", "127.0.0.1:2002"}}),
                                toml, "souk.toml");
  CHECK(c.http_listen.port == 3001);
  CHECK(c.rtmp_listen.port == 2002);
  CHECK(c.data_dir == "/from/file");
  CHECK(c.public_http_url == "http://127.0.0.1:3001");
  CHECK(c.public_rtmp_url == "rtmp://127.0.0.1:2002/live");
}

TEST_CASE("config: public URLs, IPv6 and lists") {
  const auto c = resolve_config(
      {{"public-http-url", "https://live.example.com/"}, {"rtmp-listen", "[::1]:1935"},
       {"cors-origins", "https://a.example, https://b.example"}},
      env_of({}));
  CHECK(c.public_http_url == "https://live.example.com");
  CHECK(c.public_rtmp_url == "rtmp://[::1]:1935/live");
  CHECK(c.cors_origins == std::vector<std::string>{"https://a.example", "https://b.example"});
  const auto f = resolve_config({}, env_of({}), "cors_origins = [\"https://x.example\"]\nmax_body_bytes = 2048\n");
  CHECK(f.cors_origins == std::vector<std::string>{"https://x.example"});
  CHECK(f.max_body_bytes == 2048);
}

TEST_CASE("config: errors name where the bad value came from") {
  CHECK(error_of({{"http-listen", "nonsense"}}, env_of({})).starts_with("--http-listen: "));
  CHECK(error_of({{"http-listen", "127.0.0.1:70000"}}, env_of({})).starts_with("--http-listen: "));
  CHECK(error_of({{"http-listen", "example.com:80"}}, env_of({})).starts_with("--http-listen: "));
  CHECK(error_of({{"log-level", "loud"}}, env_of({})).starts_with("--log-level: "));
  CHECK(error_of({{"log-format", "xml"}}, env_of({})).starts_with("--log-format: "));
  CHECK(error_of({{"public-http-url", "ftp://x"}}, env_of({})).starts_with("--public-http-url: "));
  CHECK(error_of({{"max-body-bytes", "0"}}, env_of({})).starts_with("--max-body-bytes: "));
  CHECK(error_of({}, env_of({{"SOUK_RTMP_LISTEN", "x"}})).starts_with("SOUK_RTMP_LISTEN: "));
  CHECK(error_of({}, env_of({}), "http_listen = \"bad\"").starts_with("souk.toml: http_listen: "));
  CHECK(error_of({}, env_of({}), "bogus = 1").find("unknown key 'bogus'") != std::string::npos);
  CHECK(error_of({}, env_of({}), "http_listen = ").starts_with("souk.toml:1: "));
  CHECK(error_of({}, env_of({}), "http_listen = 1.5").find("unsupported type") != std::string::npos);
}

TEST_CASE("config: http-request-timeout from each source, within 1..3600") {
  CHECK(resolve_config({{"http-request-timeout", "5"}}, env_of({})).http_request_timeout ==
        std::chrono::seconds(5));
  CHECK(resolve_config({}, env_of({{"SOUK_HTTP_REQUEST_TIMEOUT", "7"}})).http_request_timeout ==
        std::chrono::seconds(7));
  CHECK(resolve_config({}, env_of({}), "http_request_timeout = 9\n").http_request_timeout ==
        std::chrono::seconds(9));
  CHECK(resolve_config({}, env_of({}), "http-request-timeout = 3600\n").http_request_timeout ==
        std::chrono::seconds(3600));
  // The flag wins over the environment, which wins over the file.
  CHECK(resolve_config({{"http-request-timeout", "1"}},
                       env_of({{"SOUK_HTTP_REQUEST_TIMEOUT", "2"}}), "http_request_timeout = 3\n")
            .http_request_timeout == std::chrono::seconds(1));

  for (const char* bad : {"0", "3601", "-1", "1.5", "", "30s", "ten"}) {
    CAPTURE(bad);
    CHECK(error_of({{"http-request-timeout", bad}}, env_of({}))
              .starts_with("--http-request-timeout: "));
  }
  CHECK(error_of({}, env_of({{"SOUK_HTTP_REQUEST_TIMEOUT", "0"}}))
            .starts_with("SOUK_HTTP_REQUEST_TIMEOUT: "));
  CHECK(error_of({}, env_of({}), "http_request_timeout = 0\n")
            .starts_with("souk.toml: http_request_timeout: "));
  CHECK(error_of({}, env_of({}), "http_request_timeout = \"x\"\n")
            .starts_with("souk.toml: http_request_timeout: "));
}

TEST_CASE("config: rtmp-idle-timeout defaults to 30 s, within 1..3600") {
  CHECK(resolve_config({}, env_of({})).rtmp_idle_timeout == std::chrono::seconds(30));
  CHECK(resolve_config({{"rtmp-idle-timeout", "2"}}, env_of({})).rtmp_idle_timeout == std::chrono::seconds(2));
  CHECK(resolve_config({}, env_of({{"SOUK_RTMP_IDLE_TIMEOUT", "45"}})).rtmp_idle_timeout ==
        std::chrono::seconds(45));
  for (const char* bad : {"0", "3601", "x"}) {
    CAPTURE(bad);
    CHECK(error_of({{"rtmp-idle-timeout", bad}}, env_of({})).starts_with("--rtmp-idle-timeout: "));
  }
}

TEST_CASE("config: the RTMP bounds of issue 21 (per address, partial bytes, publish deadline)") {
  const auto d = resolve_config({}, env_of({}));
  CHECK(d.rtmp_max_per_address == 16);
  CHECK(d.rtmp_max_partial_bytes == 8u * 1024 * 1024);
  CHECK(d.rtmp_publish_deadline == std::chrono::seconds(10));
  CHECK(resolve_config({{"rtmp-max-per-address", "2"}}, env_of({})).rtmp_max_per_address == 2);
  CHECK(resolve_config({}, env_of({{"SOUK_RTMP_MAX_PARTIAL_BYTES", "65536"}})).rtmp_max_partial_bytes == 65536);
  CHECK(resolve_config({{"rtmp-publish-deadline", "3"}}, env_of({})).rtmp_publish_deadline ==
        std::chrono::seconds(3));
  for (const char* bad : {"0", "100001", "x"}) {
    CAPTURE(bad);
    CHECK(error_of({{"rtmp-max-per-address", bad}}, env_of({})).starts_with("--rtmp-max-per-address: "));
  }
  for (const char* bad : {"65535", "1073741825", "x"}) {
    CAPTURE(bad);
    CHECK(error_of({{"rtmp-max-partial-bytes", bad}}, env_of({})).starts_with("--rtmp-max-partial-bytes: "));
  }
  for (const char* bad : {"0", "3601"}) {
    CAPTURE(bad);
    CHECK(error_of({{"rtmp-publish-deadline", bad}}, env_of({})).starts_with("--rtmp-publish-deadline: "));
  }
}

TEST_CASE(
    "config: socketio ping interval and timeout default to 25000 and 20000 ms, within "
    "100..300000") {
  const auto d = resolve_config({}, env_of({}));
  CHECK(d.socketio_ping_interval == std::chrono::milliseconds(25000));
  CHECK(d.socketio_ping_timeout == std::chrono::milliseconds(20000));
  const auto c = resolve_config({{"socketio-ping-interval-ms", "300"}},
                                env_of({{"SOUK_SOCKETIO_PING_TIMEOUT_MS", "400"}}));
  CHECK(c.socketio_ping_interval == std::chrono::milliseconds(300));
  CHECK(c.socketio_ping_timeout == std::chrono::milliseconds(400));
  const auto f = resolve_config(
      {}, env_of({}), "socketio_ping_interval_ms = 100\nsocketio-ping-timeout-ms = 300000\n");
  CHECK(f.socketio_ping_interval == std::chrono::milliseconds(100));
  CHECK(f.socketio_ping_timeout == std::chrono::milliseconds(300000));
  for (const char* bad : {"99", "300001", "-1", "1.5", "", "25s"}) {
    CAPTURE(bad);
    CHECK(error_of({{"socketio-ping-interval-ms", bad}}, env_of({}))
              .starts_with("--socketio-ping-interval-ms: "));
    CHECK(error_of({{"socketio-ping-timeout-ms", bad}}, env_of({}))
              .starts_with("--socketio-ping-timeout-ms: "));
  }
  CHECK(error_of({}, env_of({{"SOUK_SOCKETIO_PING_INTERVAL_MS", "0"}}))
            .starts_with("SOUK_SOCKETIO_PING_INTERVAL_MS: "));
}

TEST_CASE("config: token-ttl-seconds defaults to 30 days, within 1..31536000") {
  CHECK(resolve_config({}, env_of({})).token_ttl == std::chrono::seconds(30 * 86400));
  CHECK(resolve_config({{"token-ttl-seconds", "3"}}, env_of({})).token_ttl ==
        std::chrono::seconds(3));
  CHECK(resolve_config({}, env_of({{"SOUK_TOKEN_TTL_SECONDS", "31536000"}})).token_ttl ==
        std::chrono::seconds(31536000));
  CHECK(resolve_config({}, env_of({}), "token_ttl_seconds = 60\n").token_ttl ==
        std::chrono::seconds(60));
  for (const char* bad : {"0", "31536001", "-5", "x", "1h"}) {
    CAPTURE(bad);
    CHECK(error_of({{"token-ttl-seconds", bad}}, env_of({})).starts_with("--token-ttl-seconds: "));
  }
  CHECK(error_of({}, env_of({{"SOUK_TOKEN_TTL_SECONDS", "0"}}))
            .starts_with("SOUK_TOKEN_TTL_SECONDS: "));
}

TEST_CASE("config: the login, hashing and product-event bounds of issue 21, with their ranges") {
  const auto d = resolve_config({}, env_of({}));
  CHECK(d.login_failures_per_minute_per_address == 30);
  CHECK(d.login_failures_per_minute == 600);
  CHECK(d.hash_threads == 2);
  CHECK(d.hash_queue == 16);
  CHECK(d.product_events_per_minute == 120);
  const auto c = resolve_config({{"hash-threads", "1"}, {"hash-queue", "0"}},
                                env_of({{"SOUK_LOGIN_FAILURES_PER_MINUTE_PER_ADDRESS", "5"},
                                        {"SOUK_PRODUCT_EVENTS_PER_MINUTE", "7"}}),
                                "login_failures_per_minute = 50\n");
  CHECK(c.hash_threads == 1);
  CHECK(c.hash_queue == 0);
  CHECK(c.login_failures_per_minute_per_address == 5);
  CHECK(c.login_failures_per_minute == 50);
  CHECK(c.product_events_per_minute == 7);
  for (const auto& [name, bad] : std::vector<std::pair<std::string, std::string>>{
           {"hash-threads", "0"}, {"hash-threads", "65"}, {"hash-queue", "257"}, {"hash-queue", "-1"},
           {"login-failures-per-minute-per-address", "0"}, {"login-failures-per-minute", "x"},
           {"product-events-per-minute", "0"}}) {
    CAPTURE(name);
    CHECK(error_of({{name, bad}}, env_of({})).starts_with("--" + name + ": "));
  }
}

TEST_CASE("config: hls-cache-mb defaults to 256, 0 turns it off, within 0..65536") {
  CHECK(resolve_config({}, env_of({})).hls_cache_mb == 256);
  CHECK(resolve_config({{"hls-cache-mb", "0"}}, env_of({})).hls_cache_mb == 0);
  CHECK(resolve_config({}, env_of({{"SOUK_HLS_CACHE_MB", "64"}})).hls_cache_mb == 64);
  CHECK(resolve_config({}, env_of({}), "hls_cache_mb = 1024\n").hls_cache_mb == 1024);
  CHECK(resolve_config({{"hls-cache-mb", "8"}}, env_of({{"SOUK_HLS_CACHE_MB", "64"}}))
            .hls_cache_mb == 8);
  for (const char* bad : {"-1", "65537", "x", ""}) {
    CAPTURE(bad);
    CHECK(error_of({{"hls-cache-mb", bad}}, env_of({})).starts_with("--hls-cache-mb: "));
  }
  CHECK(error_of({}, env_of({{"SOUK_HLS_CACHE_MB", "lots"}})).starts_with("SOUK_HLS_CACHE_MB: "));
}

TEST_CASE("config: trusted-proxies defaults to none; flag, env and TOML list") {
  const auto addr = [](const char* a) { return boost::asio::ip::make_address(a); };
  CHECK(resolve_config({}, env_of({})).trusted_proxies.empty());
  const auto flag = resolve_config({{"trusted-proxies", "10.0.0.0/8, ::1"}}, env_of({}));
  CHECK(flag.trusted_proxies.contains(addr("10.9.8.7")));
  CHECK(flag.trusted_proxies.contains(addr("::1")));
  CHECK_FALSE(flag.trusted_proxies.contains(addr("127.0.0.1")));
  const auto env = resolve_config({}, env_of({{"SOUK_TRUSTED_PROXIES", "127.0.0.1"}}));
  CHECK(env.trusted_proxies.contains(addr("127.0.0.1")));
  const auto toml = resolve_config({}, env_of({}), "trusted_proxies = [\"192.168.1.0/24\", \"fd00::/8\"]\n");
  CHECK(toml.trusted_proxies.contains(addr("192.168.1.20")));
  CHECK(toml.trusted_proxies.contains(addr("fd00::2")));
  CHECK(error_of({{"trusted-proxies", "10.0.0.0/8,proxy.local"}}, env_of({})) ==
        "--trusted-proxies: expected an IP address or CIDR network, got 'proxy.local'");
  CHECK(error_of({}, env_of({{"SOUK_TRUSTED_PROXIES", "10.0.0.1/8"}}))
            .starts_with("SOUK_TRUSTED_PROXIES: "));
}
