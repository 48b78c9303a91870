// souk-live: command line entry point.
#include "souk/app/config.hpp"
#include "souk/app/server.hpp"
#include "souk/version.hpp"

#include <CLI/CLI.hpp>

#include <malloc.h>
#include <sys/resource.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

namespace {

// Bad usage or configuration: one line naming the option, exit code 2.
constexpr int usage_error = 2;

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every connection, segment being written and recording holds a descriptor: lift
// the soft limit (often 1024) to the hard one, as nginx's worker_rlimit_nofile
// would be set, so the connection limits are what bounds the server.
void raise_open_file_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

// glibc gives each thread that contends for the allocator its own arena, up to
// eight per core, and each arena keeps its own free memory: bursts handled on
// different threads (a room's fan-out, a publisher's frames) leave memory in
// several arenas that the others cannot reuse. Measured with 1,000 idle
// WebSocket viewers: 15 to 24 KB each by default, as noisy with two arenas, a
// steady 12.6 KB with one. Small allocations do not contend for it (each
// thread's tcache serves them), and ingest's CPU did not move.
void limit_malloc_arenas() { ::mallopt(M_ARENA_MAX, 1); }

}  // namespace

int main(int argc, char** argv) {
  limit_malloc_arenas();
  using souk::app::settings;

  CLI::App app{"Souk Live: a self-hosted live-commerce media server (RTMP in, HLS out)",
               "souk-live"};
  app.set_version_flag("--version", std::string("souk-live ") + souk::version);
  app.require_subcommand(1);

  auto* serve = app.add_subcommand("serve", "Run the server (RTMP ingest, HTTP API, HLS)");
  std::map<std::string, std::string> values;
  std::map<std::string, CLI::Option*> options;
  for (const auto& s : settings()) {
    std::string help = std::string(s.help) + " [default: " + s.default_text + "; env " + s.env + "]";
    options[s.name] = serve->add_option(std::string("--") + s.name, values[s.name], help);
  }
  std::string config_path;
  auto* config_opt = serve->add_option(
      "--config", config_path, "TOML file with the same keys (e.g. http_listen = \"0.0.0.0:8080\") [env SOUK_CONFIG]");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::cerr << "souk-live: " << e.what() << "\n";
    return usage_error;
  }

  souk::app::CliValues cli;
  for (const auto& [name, opt] : options) {
    if (opt->count() > 0) cli[name] = values[name];
  }
  const auto env = [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    return v ? std::optional<std::string>(v) : std::nullopt;
  };

  std::string config_source = "--config";
  if (config_opt->count() == 0) {
    if (auto e = env("SOUK_CONFIG")) {
      config_path = *e;
      config_source = "SOUK_CONFIG";
    }
  }
  std::optional<std::string> toml_text;
  if (!config_path.empty()) {
    toml_text = read_file(config_path);
    if (!toml_text) {
      std::cerr << "souk-live: " << config_source << ": cannot read '" << config_path << "'\n";
      return usage_error;
    }
  }

  souk::app::ServerConfig config;
  try {
    config = souk::app::resolve_config(cli, env, toml_text, config_path);
  } catch (const souk::app::ConfigError& e) {
    std::cerr << "souk-live: " << e.what() << "\n";
    return usage_error;
  }
  raise_open_file_limit();
  return souk::app::run_server(config);
}
