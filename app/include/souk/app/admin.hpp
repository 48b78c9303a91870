// The admin commands of souk-live (users, streams, the database file, migrations),
// run by an operator against the server's data directory, whether or not the
// server runs. main.cpp parses the command line; these do the work over storage/.
// Each returns the process exit code and writes one line on `err` when it fails.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>

namespace souk::app::admin {

// Exit codes: as `serve` uses them.
constexpr int exit_ok = 0;
constexpr int exit_failed = 1;  // not found, check failed, database busy too long, ...
constexpr int exit_usage = 2;   // bad arguments or configuration

struct Io {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  bool in_is_terminal = false;  // prompt for a password without echo
};

struct UserCreate {
  std::string username;
  std::string role;
  std::optional<std::string> display_name;
  bool password_stdin = false;
};

class Admin {
 public:
  Admin(std::filesystem::path data_dir, Io io) : data_dir_(std::move(data_dir)), io_(io) {}

  int user_create(const UserCreate& args);
  int user_list(const std::optional<std::string>& role, bool json);
  int user_set_role(const std::string& user, const std::string& role);
  int user_set_disabled(const std::string& user, bool disabled);

  int stream_list(const std::optional<std::string>& status, int limit, bool json);
  // Asks the running server (or the next start) to end the stream as POST /end
  // does, then waits up to `wait` for it to be ended.
  int stream_end(const std::string& stream_id, std::chrono::milliseconds wait);

  int db_check();
  int db_backup(const std::filesystem::path& file, bool force);

  int migrate(bool check_only);

  std::filesystem::path database_path() const { return data_dir_ / "souk.db"; }

 private:
  // Runs a command, turning its exceptions into one line on stderr and an exit code.
  template <class F>
  int run(const char* command, F&& body);

  std::filesystem::path data_dir_;
  Io io_;
};

}  // namespace souk::app::admin
