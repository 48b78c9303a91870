// The admin commands. Each opens its own connection to the server's database
// (WAL lets it work beside a running server; the connection's busy timeout
// rides out the server's short write transactions) and writes in one
// BEGIN IMMEDIATE transaction, as the server does.
#include "souk/app/admin.hpp"

#include "souk/api/api_error.hpp"
#include "souk/api/passwords.hpp"
#include "souk/api/stream_lifecycle.hpp"
#include "souk/api/validate.hpp"
#include "souk/random.hpp"
#include "souk/storage/auth_tokens.hpp"
#include "souk/storage/maintenance.hpp"
#include "souk/storage/migrations.hpp"
#include "souk/storage/sqlite.hpp"
#include "souk/storage/streams.hpp"
#include "souk/storage/users.hpp"
#include "souk/time.hpp"

#include <nlohmann/json.hpp>

#include <termios.h>
#include <unistd.h>

#include <istream>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace souk::app::admin {
namespace {

namespace fs = std::filesystem;
using storage::Connection;
using storage::Transaction;

// A command's failure: its exit code and the line for stderr.
class Failure : public std::runtime_error {
 public:
  Failure(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

[[noreturn]] void fail(const std::string& message) { throw Failure(exit_failed, message); }
[[noreturn]] void usage(const std::string& message) { throw Failure(exit_usage, message); }

// A backup is copied in one snapshot; give a busy source (a checkpoint) this long.
constexpr auto backup_busy_timeout = std::chrono::seconds(10);
// How often `stream end` looks whether the server has ended the stream.
constexpr auto end_poll_interval = std::chrono::milliseconds(100);

int latest_version() { return storage::known_migrations().back().version; }

// The server's database, which must exist: an admin command never creates one
// (a wrong --data-dir would otherwise look like an empty server).
std::unique_ptr<Connection> open_existing(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    fail("no database at " + path.string() + " (is --data-dir right?)");
  }
  return std::make_unique<Connection>(path.string(), Connection::Mode::read_write);
}

// Commands that read or write rows need the schema this binary knows.
std::unique_ptr<Connection> open_current(const fs::path& path) {
  auto conn = open_existing(path);
  const int version = storage::schema_version(*conn);
  if (version > latest_version()) {
    fail("database schema version " + std::to_string(version) + " is newer than this souk-live (" +
         std::to_string(latest_version()) + "): use a newer souk-live");
  }
  if (version < latest_version()) {
    fail("database schema version " + std::to_string(version) + " is behind this souk-live (" +
         std::to_string(latest_version()) + "): run 'souk-live migrate' first");
  }
  return conn;
}

storage::User find_user(Connection& c, const std::string& user) {
  auto found = storage::users::find_by_id_or_username(c, user);
  if (!found) fail("no user with id or username '" + user + "'");
  return *found;
}

// Turns echo off on the terminal while a password is typed.
class EchoOff {
 public:
  EchoOff() {
    if (::tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios quiet = saved_;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      active_ = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
    }
  }
  ~EchoOff() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

std::optional<std::string> read_line(std::istream& in) {
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// Never from argv: a password there would show in ps and in shell history.
std::string read_password(bool from_stdin, Io& io) {
  if (from_stdin) {
    auto line = read_line(io.in);
    if (!line) usage("--password-stdin: no password on standard input");
    return *line;
  }
  if (!io.in_is_terminal) {
    usage("no password: give it on standard input with --password-stdin, or run on a terminal");
  }
  const auto ask = [&io](const char* prompt) {
    io.err << prompt << std::flush;
    std::optional<std::string> line;
    {
      EchoOff quiet;
      line = read_line(io.in);
    }
    io.err << "\n";
    if (!line) usage("no password entered");
    return *line;
  };
  auto first = ask("Password: ");
  if (ask("Repeat password: ") != first) fail("the two passwords differ");
  return first;
}

std::string time_or(const std::optional<UnixMillis>& t, const char* none) {
  return t ? format_iso8601(*t) : std::string(none);
}

nlohmann::json time_json(const std::optional<UnixMillis>& t) {
  return t ? nlohmann::json(format_iso8601(*t)) : nlohmann::json(nullptr);
}

// Columns padded to their widest cell (in characters, for UTF-8 titles).
void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], api::validate::utf8_length(row[i]));
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - api::validate::utf8_length(row[i]) + 2, ' ');
    }
    out << line << "\n";
  }
}

std::string describe(const storage::User& u) { return "'" + u.username + "' (" + u.id + ")"; }

}  // namespace

template <class F>
int Admin::run(const char* command, F&& body) {
  const auto report = [&](int code, const std::string& message) {
    io_.err << "souk-live: " << command << ": " << message << "\n";
    return code;
  };
  try {
    return body();
  } catch (const Failure& e) {
    return report(e.code(), e.what());
  } catch (const api::ApiError& e) {
    // The API's validation of a value (422) is a usage error here; anything
    // else (a taken username) is the operation failing.
    return report(e.status() == 422 ? exit_usage : exit_failed, e.what());
  } catch (const storage::SchemaTooNewError& e) {
    return report(exit_failed, e.what());
  } catch (const storage::SqliteError& e) {
    if (e.is_busy()) {
      return report(exit_failed, std::string("the database stayed locked too long (") + e.what() +
                                     "); try again");
    }
    return report(exit_failed, std::string("database error: ") + e.what());
  } catch (const std::exception& e) {
    return report(exit_failed, e.what());
  }
}

int Admin::user_create(const UserCreate& args) {
  return run("user create", [&] {
    storage::User u;
    u.username = args.username;
    u.role = args.role;
    // The same checks as POST /auth/register, before asking for the password.
    api::validate::username(u.username);
    api::validate::role(u.role);
    u.display_name =
        args.display_name ? api::validate::text("display_name", *args.display_name, 1, 64) : u.username;
    auto conn = open_current(database_path());
    const auto taken = [&] { return storage::users::find_by_username(*conn, u.username).has_value(); };
    if (taken()) fail("the username '" + u.username + "' is taken");

    const auto password = read_password(args.password_stdin, io_);
    api::validate::password(password);
    init_crypto();
    u.password_hash = api::PasswordHasher(api::PasswordCost::interactive()).hash(password);
    u.id = uuid_v4();
    u.created_at = now_millis();
    Transaction tx(*conn, Transaction::Kind::immediate);
    if (taken()) fail("the username '" + u.username + "' is taken");
    storage::users::insert(*conn, u);
    tx.commit();
    io_.out << u.id << "\n";
    return exit_ok;
  });
}

int Admin::user_list(const std::optional<std::string>& role, bool json) {
  return run("user list", [&] {
    if (role) api::validate::role(*role);
    auto conn = open_current(database_path());
    std::vector<storage::User> users;
    {
      Transaction tx(*conn, Transaction::Kind::deferred);
      users = storage::users::list(*conn, role);
      tx.commit();
    }
    if (json) {
      auto list = nlohmann::json::array();
      for (const auto& u : users) {
        list.push_back({{"id", u.id},
                        {"username", u.username},
                        {"displayName", u.display_name},
                        {"role", u.role},
                        {"createdAt", format_iso8601(u.created_at)},
                        {"disabledAt", time_json(u.disabled_at)}});
      }
      io_.out << list.dump(2) << "\n";
      return exit_ok;
    }
    std::vector<std::vector<std::string>> rows{{"ID", "USERNAME", "ROLE", "CREATED", "DISABLED"}};
    for (const auto& u : users) {
      rows.push_back({u.id, u.username, u.role, format_iso8601(u.created_at),
                      time_or(u.disabled_at, "no")});
    }
    print_table(io_.out, rows);
    return exit_ok;
  });
}

int Admin::user_set_role(const std::string& user, const std::string& role) {
  return run("user set-role", [&] {
    api::validate::role(role);
    auto conn = open_current(database_path());
    Transaction tx(*conn, Transaction::Kind::immediate);
    const auto u = find_user(*conn, user);
    storage::users::set_role(*conn, u.id, role);
    tx.commit();
    io_.out << "user " << describe(u) << " is now a " << role << "\n";
    return exit_ok;
  });
}

int Admin::user_set_disabled(const std::string& user, bool disabled) {
  return run(disabled ? "user disable" : "user enable", [&] {
    auto conn = open_current(database_path());
    const auto now = now_millis();
    Transaction tx(*conn, Transaction::Kind::immediate);
    const auto u = find_user(*conn, user);
    std::int64_t revoked = 0;
    std::int64_t ended = 0;
    if (disabled) {
      // Keep the first time it was disabled; the tokens go either way, so a token
      // issued by a login that raced an earlier disable is gone too.
      storage::users::set_disabled(*conn, u.id, u.disabled_at ? *u.disabled_at : now);
      revoked = storage::auth_tokens::revoke_all_for_user(*conn, u.id, now);
      // A seller live now stops selling: the running server's sweep ends each
      // stream as /end does and drops the publisher (the key no longer works).
      ended = storage::streams::request_end_for_seller(*conn, u.id, now);
    } else {
      storage::users::set_disabled(*conn, u.id, std::nullopt);
    }
    tx.commit();
    if (disabled) {
      io_.out << "user " << describe(u) << " disabled; " << revoked << " token"
              << (revoked == 1 ? "" : "s") << " revoked";
      if (ended > 0) io_.out << "; " << ended << " live stream" << (ended == 1 ? "" : "s") << " to be ended";
      io_.out << "\n";
    } else {
      io_.out << "user " << describe(u) << " enabled; it must log in again\n";
    }
    return exit_ok;
  });
}

int Admin::stream_list(const std::optional<std::string>& status, int limit, bool json) {
  return run("stream list", [&] {
    storage::StreamFilter filter;
    if (status) {
      filter.status = storage::parse_stream_status(*status);
      if (!filter.status) {
        usage("--status: expected scheduled, live or ended, got '" + *status + "'");
      }
    }
    if (limit < 1) usage("--limit: expected a positive number, got " + std::to_string(limit));
    auto conn = open_current(database_path());
    filter.limit = limit;
    struct Row {
      storage::Stream stream;
      std::string seller;
    };
    std::vector<Row> rows;
    {
      Transaction tx(*conn, Transaction::Kind::deferred);
      for (auto& s : storage::streams::list(*conn, filter)) {
        const auto seller = storage::users::find_by_id(*conn, s.seller_id);
        rows.push_back({std::move(s), seller ? seller->username : std::string()});
      }
      tx.commit();
    }
    if (json) {
      auto list = nlohmann::json::array();
      for (const auto& [s, seller] : rows) {
        list.push_back({{"id", s.id},
                        {"sellerId", s.seller_id},
                        {"seller", seller},
                        {"title", s.settings.title},
                        {"status", storage::to_string(s.status)},
                        {"ingestState", storage::to_string(s.ingest_state)},
                        {"createdAt", format_iso8601(s.created_at)},
                        {"startedAt", time_json(s.started_at)},
                        {"endedAt", time_json(s.ended_at)},
                        {"endRequestedAt", time_json(s.end_requested_at)}});
      }
      io_.out << list.dump(2) << "\n";
      return exit_ok;
    }
    std::vector<std::vector<std::string>> table{
        {"ID", "SELLER", "TITLE", "STATUS", "CREATED", "STARTED", "ENDED"}};
    for (const auto& [s, seller] : rows) {
      std::string state(storage::to_string(s.status));
      if (s.status == storage::StreamStatus::live && s.end_requested_at) {
        state += " (end requested)";
      }
      table.push_back({s.id, seller, s.settings.title, state, format_iso8601(s.created_at),
                       time_or(s.started_at, "-"), time_or(s.ended_at, "-")});
    }
    print_table(io_.out, table);
    return exit_ok;
  });
}

int Admin::stream_end(const std::string& stream_id, std::chrono::milliseconds wait) {
  return run("stream end", [&] {
    auto conn = open_current(database_path());
    {
      Transaction tx(*conn, Transaction::Kind::immediate);
      try {
        api::StreamLifecycle::request_end(*conn, stream_id, now_millis());
      } catch (const api::LifecycleError& e) {
        if (e.code() != api::LifecycleErrc::not_live || !e.status()) {
          fail("no stream with id '" + stream_id + "'");
        }
        fail("stream " + stream_id + " is not live (it is " +
             std::string(storage::to_string(*e.status())) + ")");
      }
      tx.commit();
    }
    // The running server's sweep ends it within about a second, as POST /end
    // would; without a server, the next start does.
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(end_poll_interval);
      Transaction tx(*conn, Transaction::Kind::deferred);
      const auto s = storage::streams::find_by_id(*conn, stream_id);
      tx.commit();
      if (s && s->status == storage::StreamStatus::ended) {
        io_.out << "stream " << stream_id << " ended at " << time_or(s->ended_at, "-") << "\n";
        return exit_ok;
      }
    }
    io_.out << "stream " << stream_id
            << " will be ended: a running server does so within seconds, otherwise the next "
               "start does\n";
    return exit_ok;
  });
}

int Admin::db_check() {
  return run("db check", [&] {
    auto conn = open_existing(database_path());
    auto problems = storage::integrity_problems(*conn);
    const int version = storage::schema_version(*conn);
    if (version != latest_version()) {
      problems.push_back("schema: version " + std::to_string(version) + ", this souk-live has " +
                         std::to_string(latest_version()) +
                         (version < latest_version() ? " (run 'souk-live migrate')"
                                                     : " (use a newer souk-live)"));
    }
    if (problems.empty()) {
      io_.out << "ok\n";
      return exit_ok;
    }
    for (const auto& p : problems) io_.out << p << "\n";
    fail(database_path().string() + ": " + std::to_string(problems.size()) + " problem" +
         (problems.size() == 1 ? "" : "s"));
  });
}

int Admin::db_backup(const fs::path& file, bool force) {
  return run("db backup", [&] {
    const auto source = database_path();
    open_existing(source);  // the same message as every command when it is missing
    std::error_code ec;
    if (fs::exists(file, ec)) {
      if (fs::equivalent(file, source, ec)) fail(file.string() + " is the database itself");
      if (!force) fail(file.string() + " exists (use --force to replace it)");
    }
    // Written beside FILE under another name and renamed once verified, so FILE
    // is never a half-written copy.
    const fs::path partial = file.string() + ".partial";
    fs::remove(partial, ec);
    try {
      const auto result = storage::backup(source.string(), partial.string(), backup_busy_timeout);
      std::vector<std::string> problems;
      {
        Connection copy(partial.string(), Connection::Mode::read_only);
        problems = storage::integrity_problems(copy);
      }
      if (!problems.empty()) fail("the copy failed its integrity check: " + problems.front());
      fs::rename(partial, file);
      io_.out << "backup written to " << file.string() << ": " << result.bytes << " bytes ("
              << result.pages << " pages), integrity ok\n";
    } catch (...) {
      fs::remove(partial, ec);
      throw;
    }
    return exit_ok;
  });
}

int Admin::migrate(bool check_only) {
  return run("migrate", [&] {
    const auto path = database_path();
    std::error_code ec;
    const bool exists = fs::is_regular_file(path, ec);
    if (check_only) {
      const int version = exists ? storage::schema_version(*open_existing(path)) : 0;
      if (version > latest_version()) {
        fail("database schema version " + std::to_string(version) + " is newer than this souk-live (" +
             std::to_string(latest_version()) + "): use a newer souk-live");
      }
      if (version == latest_version()) {
        io_.out << "schema version " << version << ": up to date\n";
        return exit_ok;
      }
      io_.out << "schema version " << version << ": migrations up to " << latest_version()
              << " pending\n";
      return exit_failed;
    }
    if (!exists) {
      fs::create_directories(data_dir_, ec);
      if (ec) fail("cannot create " + data_dir_.string() + ": " + ec.message());
    }
    Connection conn(path.string(), Connection::Mode::read_write);
    const int before = storage::schema_version(conn);
    const int after = storage::migrate(conn);
    if (before == after) {
      io_.out << "schema version " << after << ": up to date\n";
    } else {
      io_.out << "schema version " << before << " -> " << after << "\n";
    }
    return exit_ok;
  });
}

}  // namespace souk::app::admin
