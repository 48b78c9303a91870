// The command line: --version, --help, and bad values (exit 2, one line on stderr
// naming the option) from flags, environment variables and the config file.
#include "server_process.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <regex>

using namespace souk_it;

namespace {

std::size_t count_lines(const std::string& s) {
  if (s.empty()) return 0;
  auto n = static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
  if (s.back() != '\n') ++n;
  return n;
}

// `serve` with safe defaults for everything the case does not set: a temp data dir
// and free loopback ports, so a server that wrongly starts harms nothing (and is
// killed by the timeout).
std::vector<std::string> serve_args(const TempDir& dir, std::vector<std::string> extra,
                                    bool with_http_listen = true) {
  std::vector<std::string> args{"serve", "--data-dir", (dir.path() / "data").string(),
                                "--rtmp-listen", "127.0.0.1:" + std::to_string(free_port())};
  if (with_http_listen) {
    args.insert(args.end(), {"--http-listen", "127.0.0.1:" + std::to_string(free_port())});
  }
  // A flag the case sets replaces the default one rather than repeating it.
  for (auto& e : extra) {
    auto it = std::find(args.begin(), args.end(), e);
    if (e.rfind("--", 0) == 0 && it != args.end()) args.erase(it, it + 2);
  }
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// Exit code 2 and exactly one line on stderr, mentioning `needle`.
void check_usage_error(const RunResult& r, const std::string& needle) {
  INFO("exit code: " << r.exit_code << ", signal: " << r.signal << ", timed out: " << r.timed_out);
  INFO("stderr: [" << r.err << "]");
  INFO("stdout: [" << r.out << "]");
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == 2);
  CHECK(count_lines(r.err) == 1);
  if (!needle.empty()) CHECK(r.err.find(needle) != std::string::npos);
}

}  // namespace

TEST_CASE("cli: --version prints 'souk-live <version>' and exits 0") {
  const auto r = run_binary({"--version"});
  INFO("stdout: [" << r.out << "] stderr: [" << r.err << "]");
  CHECK(r.exit_code == 0);
  const auto first_line = r.out.substr(0, r.out.find('\n'));
  CHECK(first_line.rfind("souk-live ", 0) == 0);
  // "souk-live 0.1.0": a version with at least one digit after the name.
  CHECK(std::regex_search(first_line, std::regex(R"(^souk-live v?\d+(\.\d+)*)")));
}

TEST_CASE("cli: --help exits 0 and mentions the serve command") {
  const auto r = run_binary({"--help"});
  INFO("stdout: [" << r.out << "] stderr: [" << r.err << "]");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("serve") != std::string::npos);
}

TEST_CASE("cli: serve --help exits 0 and lists every option") {
  const auto r = run_binary({"serve", "--help"});
  INFO("stdout: [" << r.out << "] stderr: [" << r.err << "]");
  CHECK(r.exit_code == 0);
  for (const char* opt : {"--data-dir", "--http-listen", "--rtmp-listen", "--public-http-url",
                          "--public-rtmp-url", "--config", "--log-level", "--log-format"}) {
    CAPTURE(opt);
    CHECK(r.out.find(opt) != std::string::npos);
  }
}

TEST_CASE("cli: a bad value exits 2 with one line on stderr naming the option") {
  TempDir dir;

  SUBCASE("--http-listen nonsense") {
    check_usage_error(run_binary(serve_args(dir, {"--http-listen", "nonsense"})), "--http-listen");
  }
  SUBCASE("--http-listen with a port out of range") {
    check_usage_error(run_binary(serve_args(dir, {"--http-listen", "127.0.0.1:70000"})),
                      "--http-listen");
  }
  SUBCASE("--rtmp-listen with a port out of range") {
    check_usage_error(run_binary(serve_args(dir, {"--rtmp-listen", "127.0.0.1:70000"})),
                      "--rtmp-listen");
  }
  SUBCASE("--log-level loud") {
    check_usage_error(run_binary(serve_args(dir, {"--log-level", "loud"})), "--log-level");
  }
  SUBCASE("--log-format xml") {
    check_usage_error(run_binary(serve_args(dir, {"--log-format", "xml"})), "--log-format");
  }
  SUBCASE("SOUK_HTTP_LISTEN=nonsense in the environment") {
    check_usage_error(run_binary(serve_args(dir, {}, /*with_http_listen=*/false),
                                 {{"SOUK_HTTP_LISTEN", "nonsense"}}),
                      "SOUK_HTTP_LISTEN");
  }
  SUBCASE("--webhook-urls without --webhook-secret") {
    check_usage_error(run_binary(serve_args(dir, {"--webhook-urls", "http://127.0.0.1:9/hooks"})),
                      "--webhook-secret");
  }
  SUBCASE("--webhook-urls with an https:// receiver (not supported)") {
    const auto r = run_binary(serve_args(
        dir, {"--webhook-urls", "https://127.0.0.1:9/hooks", "--webhook-secret", "0123456789abcdef"}));
    check_usage_error(r, "--webhook-urls");
    CHECK(r.err.find("https:// receivers are not supported") != std::string::npos);
  }
  SUBCASE("--webhook-urls with something that is not a URL") {
    check_usage_error(run_binary(serve_args(dir, {"--webhook-urls", "127.0.0.1:9/hooks",
                                                  "--webhook-secret", "0123456789abcdef"})),
                      "--webhook-urls");
  }
  SUBCASE("SOUK_WEBHOOK_SECRET shorter than 16 characters") {
    check_usage_error(run_binary(serve_args(dir, {"--webhook-urls", "http://127.0.0.1:9/hooks"}),
                                 {{"SOUK_WEBHOOK_SECRET", "short"}}),
                      "SOUK_WEBHOOK_SECRET");
  }
  SUBCASE("http_listen = \"nonsense\" in the config file") {
    const auto cfg = dir.write_file("bad.toml", "http_listen = \"nonsense\"\n");
    check_usage_error(
        run_binary(serve_args(dir, {"--config", cfg.string()}, /*with_http_listen=*/false)),
        "http_listen");
  }
  SUBCASE("an unknown key in the config file") {
    const auto cfg = dir.write_file("unknown.toml", "bogus = 1\n");
    check_usage_error(run_binary(serve_args(dir, {"--config", cfg.string()})), "bogus");
  }
  SUBCASE("a config file that does not exist") {
    check_usage_error(run_binary(serve_args(dir, {"--config", "/nonexistent.toml"})), "");
  }
}
