// Configuration precedence: command line > SOUK_* environment > config file >
// defaults, observed through the address the HTTP API listens on.
#include "api_client.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>

using namespace souk_it;

namespace {

// True when something answers GET /healthz with 200 on 127.0.0.1:port.
bool answers_on(std::uint16_t port) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(std::chrono::milliseconds(500));
  c.set_read_timeout(std::chrono::seconds(2));
  auto res = c.Get("/healthz");
  return res && res->status == 200;
}

std::string listen_on(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

}  // namespace

TEST_CASE("config: precedence is command line > environment > config file > defaults") {
  TempDir cfg_dir;
  const std::uint16_t chosen = free_port();
  std::uint16_t other = free_port();
  while (other == chosen) other = free_port();

  ServerOptions opts;
  opts.http_port = chosen;  // the port the harness waits on: the one that must win

  SUBCASE("command line beats the config file (http_listen)") {
    const auto cfg = cfg_dir.write_file("c.toml", "http_listen = \"" + listen_on(other) + "\"\n");
    opts.extra_args = {"--config", cfg.string()};
  }
  SUBCASE("environment beats the config file (key with dashes: http-listen)") {
    const auto cfg = cfg_dir.write_file("c.toml", "http-listen = \"" + listen_on(other) + "\"\n");
    opts.http_listen_flag = false;
    opts.env = {{"SOUK_HTTP_LISTEN", listen_on(chosen)}};
    opts.extra_args = {"--config", cfg.string()};
  }
  SUBCASE("command line beats the environment") {
    opts.env = {{"SOUK_HTTP_LISTEN", listen_on(other)}};
  }
  SUBCASE("the config file beats the default") {
    const auto cfg = cfg_dir.write_file("c.toml", "http_listen = \"" + listen_on(chosen) + "\"\n");
    opts.http_listen_flag = false;
    opts.extra_args = {"--config", cfg.string()};
  }

  ServerProcess server(opts);  // throws with the log tail unless `chosen` answers
  CHECK(answers_on(chosen));
  CHECK_FALSE(answers_on(other));
  // The startup summary names the address actually used. It is logged after both
  // listeners are bound, so a request can be answered before it is written.
  CHECK(server.wait_for_log(listen_on(chosen)));
  const auto stopped = server.stop();
  CHECK(stopped.exited);
  CHECK(stopped.exit_code == 0);
}

TEST_CASE("config: TOML keys with underscores or dashes both configure the server") {
  // max_body_bytes / max-body-bytes: observable as the 413 limit.
  TempDir cfg_dir;
  std::string text;
  SUBCASE("underscores") { text = "max_body_bytes = 100\nlog_level = \"debug\"\n"; }
  SUBCASE("dashes") { text = "max-body-bytes = 100\nlog-level = \"debug\"\n"; }
  const auto cfg = cfg_dir.write_file("c.toml", text);
  ServerOptions opts;
  opts.extra_args = {"--config", cfg.string()};
  ServerProcess server(opts);
  ApiClient client(server.http_port());
  const auto big = client.post(api_path("/auth/login"),
                               Body::raw("{\"username\":\"" + std::string(200, 'a') + "\"}"));
  CHECK_ERROR(big, 413, "payload_too_large");
}

TEST_CASE("config: a port another program holds is named, and the server exits 1") {
  HeldPort held;
  for (const std::string option : {"--http-listen", "--rtmp-listen"}) {
    CAPTURE(option);
    TempDir dir;
    const auto other = option == "--http-listen" ? "--rtmp-listen" : "--http-listen";
    const auto result =
        run_binary({"serve", "--data-dir", (dir.path() / "data").string(), option,
                    listen_on(held.port()), other, listen_on(free_port())});
    CHECK_FALSE(result.timed_out);
    CHECK(result.signal == 0);  // not an abort
    CHECK(result.exit_code == 1);
    const auto log = result.out + result.err;
    CHECK(log.find("cannot listen option=" + option.substr(2)) != std::string::npos);
    CHECK(log.find("address=" + listen_on(held.port())) != std::string::npos);
    CHECK(log.find("Address already in use") != std::string::npos);
  }
}
