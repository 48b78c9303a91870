// Starts the real souk-live binary for a test: temp dir, free ports, log file,
// readiness wait, SIGTERM stop, restart on the same data dir.
#pragma once

#include <sys/types.h>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace souk_it {

// Throws std::runtime_error("what: <strerror(errno)>").
[[noreturn]] void fail_errno(const std::string& what);
// The whole file ("" when it cannot be read or is not a regular file).
std::string read_whole_file(const std::filesystem::path& p);

// Path of the binary under test (from CMake's $<TARGET_FILE:souk-live>).
std::string server_binary();

// A free TCP port on 127.0.0.1 (bind port 0, read it, close).
std::uint16_t free_port();

// Listens on 127.0.0.1:port (port 0: one the kernel picks) as another program
// holding the port would, until destroyed or release()d.
class HeldPort {
 public:
  explicit HeldPort(std::uint16_t port = 0);
  ~HeldPort() { release(); }
  HeldPort(const HeldPort&) = delete;
  HeldPort& operator=(const HeldPort&) = delete;
  std::uint16_t port() const { return port_; }
  void release();

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// Wall-clock bounds on a loaded machine. Every bound a test puts on how long the
// server may take (to report a state, to answer, to stop) is written as
// scaled(the bound's default) and so grows with SOUK_TEST_TIME_SCALE (a number
// >= 1 in the test's environment; default 1). The defaults are already generous
// for a busy 2-core CI machine; the factor is for slower ones (sanitizers,
// valgrind, an emulated CPU). Bounds that check a configured duration from
// below (an idle timeout must not fire early) are not scaled.
double time_scale();
std::chrono::milliseconds scaled(std::chrono::milliseconds bound);

// A directory made with mkdtemp under /tmp, removed recursively by the destructor
// unless SOUK_IT_KEEP_TMP is set in the environment.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  // Writes `text` to `name` inside the directory and returns the full path.
  std::filesystem::path write_file(const std::string& name, const std::string& text) const;

 private:
  std::filesystem::path path_;
};

using EnvVars = std::vector<std::pair<std::string, std::string>>;

// Result of running the binary to completion.
struct RunResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;      // the signal that ended it, if any
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Runs the binary with `args` (argv[1..]) and extra environment variables (the test
// process's SOUK_* variables are removed first), capturing stdout and stderr. Kills
// it after `timeout`. Standard input is `input` (a pipe), or /dev/null when empty.
RunResult run_binary(const std::vector<std::string>& args, const EnvVars& env = {},
                     std::chrono::milliseconds timeout = std::chrono::seconds(15),
                     const std::string& input = {});

struct ServerOptions {
  std::vector<std::string> extra_args;  // appended after the standard serve flags
  EnvVars env;                          // added to the child's environment
  // Pass --http-listen 127.0.0.1:<http port>; turn off to configure it another way
  // (env, config file) while the harness still polls the chosen port.
  bool http_listen_flag = true;
  bool rtmp_listen_flag = true;
  bool data_dir_flag = true;
  std::optional<std::uint16_t> http_port;  // default: a free port
  std::optional<std::uint16_t> rtmp_port;  // default: a free port
  std::string log_level = "debug";         // empty: no --log-level flag
  std::chrono::milliseconds ready_timeout = std::chrono::seconds(15);
};

struct StopResult {
  bool exited = false;  // exited normally (not by a signal)
  int exit_code = -1;
  int signal = 0;
  std::chrono::milliseconds elapsed{0};
};

class ServerProcess {
 public:
  // Makes the temp dir, picks ports and starts the server, waiting for /healthz
  // (started again on new ports if one was taken before the server bound it).
  // Throws std::runtime_error (with the log tail) if it does not become ready.
  explicit ServerProcess(ServerOptions options = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // SIGTERM, then wait up to `timeout`; on timeout SIGKILL (and exited=false,
  // signal=SIGKILL in the result).
  StopResult stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Starts again on the same data dir (and the same ports unless new_ports);
  // the log file is appended to.
  void restart(bool new_ports = false);
  bool running();

  std::uint16_t http_port() const { return http_port_; }
  std::uint16_t rtmp_port() const { return rtmp_port_; }
  std::string http_address() const { return "127.0.0.1:" + std::to_string(http_port_); }
  const std::filesystem::path& dir() const { return dir_->path(); }
  std::filesystem::path data_dir() const { return dir_->path() / "data"; }
  std::filesystem::path log_path() const { return dir_->path() / "server.log"; }
  pid_t pid() const { return pid_; }
  const ServerOptions& options() const { return options_; }

  std::string log_text() const;
  std::string log_tail(std::size_t lines = 40) const;
  // Polls the log until it contains `needle` (the access log is written after the
  // response, so a test may read it a moment early). The timeout is scaled().
  bool wait_for_log(const std::string& needle,
                    std::chrono::milliseconds timeout = std::chrono::seconds(3)) const;

 private:
  void pick_ports();
  void start(bool may_move);
  void spawn();
  void wait_ready();
  std::optional<int> try_reap(bool block);

  ServerOptions options_;
  std::unique_ptr<TempDir> dir_;
  std::uint16_t http_port_ = 0;
  std::uint16_t rtmp_port_ = 0;
  pid_t pid_ = -1;
  std::size_t log_offset_ = 0;  // where this run's lines start in the log
};

// A server shared by all subcases of the running TEST_CASE: doctest re-enters the
// test case once per subcase, so the first call starts it and later calls (same
// name) return it; it is stopped when the TEST_CASE ends. Options apply only to the
// first call.
ServerProcess& test_case_server(const std::string& name = "default", ServerOptions options = {});

// Something shared by the subcases of the running TEST_CASE (accounts registered
// once, secrets collected for a final check): cleared with the servers.
template <class T>
T& test_case_state(const std::string& name);

namespace detail {
std::shared_ptr<void>& test_case_slot(const std::string& name);
}

template <class T>
T& test_case_state(const std::string& name) {
  auto& slot = detail::test_case_slot(name);
  if (!slot) slot = std::make_shared<T>();
  return *static_cast<T*>(slot.get());
}

}  // namespace souk_it
