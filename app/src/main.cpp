// souk-live: command line entry point.
#include "souk/app/admin.hpp"
#include "souk/app/config.hpp"
#include "souk/app/server.hpp"
#include "souk/version.hpp"

#include <CLI/CLI.hpp>

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

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

// Resolves the settings as `serve` does: flags, SOUK_* environment, the TOML
// file of --config (or SOUK_CONFIG), defaults. Prints the error and returns
// nullopt when one is bad.
std::optional<souk::app::ServerConfig> load_config(const souk::app::CliValues& cli,
                                                   std::string config_path, bool config_given) {
  const auto env = [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
  std::string config_source = "--config";
  if (!config_given) {
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
      return std::nullopt;
    }
  }
  try {
    return souk::app::resolve_config(cli, env, toml_text, config_path);
  } catch (const souk::app::ConfigError& e) {
    std::cerr << "souk-live: " << e.what() << "\n";
    return std::nullopt;
  }
}

// Where the admin commands find the server's data: the same --data-dir,
// SOUK_DATA_DIR or data_dir in --config as `serve`.
struct Location {
  std::string data_dir;
  std::string config_path;
  std::vector<std::pair<CLI::Option*, CLI::Option*>> options;  // (--data-dir, --config) per command

  CLI::App* add(CLI::App* command) {
    auto* dir = command->add_option("--data-dir", data_dir,
                                    "The server's data directory (souk.db) [default: ./data; env "
                                    "SOUK_DATA_DIR]");
    auto* config = command->add_option("--config", config_path,
                                       "The server's TOML config file, for its data_dir [env SOUK_CONFIG]");
    options.emplace_back(dir, config);
    return command;
  }

  std::optional<souk::app::ServerConfig> resolve() const {
    souk::app::CliValues cli;
    bool config_given = false;
    for (const auto& [dir, config] : options) {
      if (dir->count() > 0) cli["data-dir"] = data_dir;
      config_given = config_given || config->count() > 0;
    }
    return load_config(cli, config_path, config_given);
  }
};

}  // namespace

int main(int argc, char** argv) {
  limit_malloc_arenas();
  using souk::app::settings;
  namespace admin = souk::app::admin;

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

  // The admin commands (docs/operations.md, "Admin CLI").
  Location where;
  auto* user = app.add_subcommand("user", "Manage accounts");
  user->require_subcommand(1);
  admin::UserCreate create_args;
  auto* user_create = where.add(user->add_subcommand("create", "Create an account; prints its id"));
  user_create->add_option("--username", create_args.username, "3 to 32 letters, digits, '_', '.' or '-'")
      ->required();
  user_create->add_option("--role", create_args.role, "seller or buyer")->required();
  std::string display_name;
  auto* display_name_opt =
      user_create->add_option("--display-name", display_name, "Shown name [default: the username]");
  user_create->add_flag("--password-stdin", create_args.password_stdin,
                        "Read the password from the first line of standard input (otherwise it is "
                        "asked for on the terminal)");
  std::string role_filter;
  bool json = false;
  auto* user_list = where.add(user->add_subcommand("list", "List accounts"));
  auto* role_filter_opt = user_list->add_option("--role", role_filter, "Only seller or buyer accounts");
  user_list->add_flag("--json", json, "JSON instead of a table");
  std::string user_ref;
  std::string new_role;
  auto* set_role = where.add(user->add_subcommand("set-role", "Change an account's role"));
  set_role->add_option("USER", user_ref, "Id or username")->required();
  set_role->add_option("ROLE", new_role, "seller or buyer")->required();
  auto* disable = where.add(user->add_subcommand(
      "disable", "Disable an account: no login, its tokens revoked at once"));
  disable->add_option("USER", user_ref, "Id or username")->required();
  auto* enable = where.add(user->add_subcommand("enable", "Enable a disabled account again"));
  enable->add_option("USER", user_ref, "Id or username")->required();

  auto* stream = app.add_subcommand("stream", "Inspect and end streams");
  stream->require_subcommand(1);
  std::string status_filter;
  int limit = 100;
  auto* stream_list = where.add(stream->add_subcommand("list", "List streams, newest first"));
  auto* status_filter_opt =
      stream_list->add_option("--status", status_filter, "Only scheduled, live or ended streams");
  stream_list->add_option("--limit", limit, "Most streams listed")->capture_default_str();
  stream_list->add_flag("--json", json, "JSON instead of a table");
  std::string stream_id;
  double wait_seconds = 5;
  auto* stream_end = where.add(stream->add_subcommand(
      "end", "End a live stream as POST /streams/{id}/end does (through the running server, or "
             "at its next start)"));
  stream_end->add_option("ID", stream_id, "The stream's id")->required();
  stream_end->add_option("--wait", wait_seconds,
                         "Seconds to wait for the running server to end it (0: do not wait)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));

  auto* db = app.add_subcommand("db", "Check or back up the database");
  db->require_subcommand(1);
  auto* db_check = where.add(db->add_subcommand(
      "check", "Integrity, foreign keys and schema version; prints ok or the problems"));
  std::string backup_file;
  bool force = false;
  auto* db_backup = where.add(db->add_subcommand(
      "backup", "Copy the database to FILE (safe while the server runs), then verify the copy"));
  db_backup->add_option("FILE", backup_file, "Where the copy goes")->required();
  db_backup->add_flag("--force", force, "Replace FILE if it exists");

  bool check_only = false;
  auto* migrate = where.add(app.add_subcommand("migrate", "Apply pending schema migrations"));
  migrate->add_flag("--check", check_only, "Only report whether migrations are pending (exit 1 if so)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::cerr << "souk-live: " << e.what() << "\n";
    return usage_error;
  }

  if (serve->parsed()) {
    souk::app::CliValues cli;
    for (const auto& [name, opt] : options) {
      if (opt->count() > 0) cli[name] = values[name];
    }
    const auto config = load_config(cli, config_path, config_opt->count() > 0);
    if (!config) return usage_error;
    raise_open_file_limit();
    return souk::app::run_server(*config);
  }

  const auto config = where.resolve();
  if (!config) return usage_error;
  admin::Admin run(config->data_dir,
                   admin::Io{std::cin, std::cout, std::cerr, ::isatty(STDIN_FILENO) == 1});
  const auto optional = [](CLI::Option* opt, const std::string& v) {
    return opt->count() > 0 ? std::optional<std::string>(v) : std::nullopt;
  };
  if (user_create->parsed()) {
    create_args.display_name = optional(display_name_opt, display_name);
    return run.user_create(create_args);
  }
  if (user_list->parsed()) return run.user_list(optional(role_filter_opt, role_filter), json);
  if (set_role->parsed()) return run.user_set_role(user_ref, new_role);
  if (disable->parsed()) return run.user_set_disabled(user_ref, true);
  if (enable->parsed()) return run.user_set_disabled(user_ref, false);
  if (stream_list->parsed()) {
    return run.stream_list(optional(status_filter_opt, status_filter), limit, json);
  }
  if (stream_end->parsed()) {
    return run.stream_end(stream_id, std::chrono::milliseconds(static_cast<std::int64_t>(wait_seconds * 1000)));
  }
  if (db_check->parsed()) return run.db_check();
  if (db_backup->parsed()) return run.db_backup(backup_file, force);
  if (migrate->parsed()) return run.migrate(check_only);
  std::cerr << "souk-live: no command given (see souk-live --help)\n";
  return usage_error;
}
