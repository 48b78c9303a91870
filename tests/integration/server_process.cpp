// Process control for the integration tests: fork/exec of souk-live, free ports,
// temp dirs, readiness polling and the per-TEST_CASE shared server registry.
#include "server_process.hpp"

#include <doctest/doctest.h>
#include <httplib.h>

#include "doctest_listener.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace souk_it {
namespace {

using Clock = std::chrono::steady_clock;


// argv/envp built before fork: only async-signal-safe calls happen in the child.
struct ExecArgs {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::vector<char*> argv;
  std::vector<char*> envp;

  ExecArgs(std::vector<std::string> a, const EnvVars& extra) : args(std::move(a)) {
    for (char** e = environ; e && *e; ++e) {
      // The test controls the configuration: no SOUK_* from the calling shell.
      if (std::strncmp(*e, "SOUK_", 5) == 0) continue;
      env.emplace_back(*e);
    }
    for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
  }
};

// In the child: die with the test runner, drop inherited descriptors, exec.
[[noreturn]] void exec_child(const ExecArgs& a) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Ignored signals and the signal mask survive exec: give the server a clean slate.
  ::signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // Client sockets of the test process must not stay open in the child.
  if (::syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
  }
  ::execve(a.argv[0], a.argv.data(), a.envp.data());
  const char msg[] = "integration harness: execve failed\n";
  [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
  ::_exit(127);
}

// The server exited at start-up because another process took one of its ports in
// the moment between free_port() closing it and the server binding it.
struct PortTaken : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

}  // namespace

[[noreturn]] void fail_errno(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

std::string read_whole_file(const std::filesystem::path& p) {
  // A FIFO in the log's place (faults_test's LogPipe) has a writer that never
  // closes: reading it to its end would never return.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(p, ec)) return {};
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string server_binary() { return SOUK_LIVE_BINARY; }

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail_errno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    fail_errno("bind");
  }
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    fail_errno("getsockname");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

HeldPort::HeldPort(std::uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) fail_errno("socket");
  const int on = 1;
  ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  socklen_t len = sizeof addr;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 1) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int saved = errno;
    ::close(fd_);
    errno = saved;
    fail_errno("listen on 127.0.0.1:" + std::to_string(port));
  }
  port_ = ntohs(addr.sin_port);
}

void HeldPort::release() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

double time_scale() {
  static const double scale = [] {
    const char* text = std::getenv("SOUK_TEST_TIME_SCALE");
    if (text == nullptr || *text == '\0') return 1.0;
    char* end = nullptr;
    const double value = std::strtod(text, &end);
    if (end == text || *end != '\0' || !(value >= 1.0) || value > 100.0) {
      throw std::runtime_error(std::string("SOUK_TEST_TIME_SCALE=") + text +
                               ": expected a number from 1 to 100");
    }
    return value;
  }();
  return scale;
}

std::chrono::milliseconds scaled(std::chrono::milliseconds bound) {
  return std::chrono::milliseconds(
      static_cast<std::chrono::milliseconds::rep>(static_cast<double>(bound.count()) * time_scale()));
}

TempDir::TempDir() {
  std::string tmpl = "/tmp/souk-it-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) fail_errno("mkdtemp");
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (std::getenv("SOUK_IT_KEEP_TMP") != nullptr) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path TempDir::write_file(const std::string& name, const std::string& text) const {
  const auto p = path_ / name;
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + p.string());
  return p;
}

RunResult run_binary(const std::vector<std::string>& args, const EnvVars& env,
                     std::chrono::milliseconds timeout, const std::string& input) {
  std::vector<std::string> full{server_binary()};
  full.insert(full.end(), args.begin(), args.end());
  ExecArgs exec_args(full, env);

  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) fail_errno("pipe2");
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) fail_errno("pipe2");
  int in_pipe[2] = {-1, -1};
  if (!input.empty() && ::pipe2(in_pipe, O_CLOEXEC) != 0) fail_errno("pipe2");
  const pid_t pid = ::fork();
  if (pid < 0) fail_errno("fork");
  if (pid == 0) {
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    const int stdin_fd = input.empty() ? ::open("/dev/null", O_RDONLY) : in_pipe[0];
    if (stdin_fd >= 0) ::dup2(stdin_fd, 0);
    exec_child(exec_args);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (!input.empty()) {
    // A few lines at most: they fit in the pipe's buffer, so this never blocks.
    ::close(in_pipe[0]);
    const ssize_t wrote = ::write(in_pipe[1], input.data(), input.size());
    ::close(in_pipe[1]);
    if (wrote != static_cast<ssize_t>(input.size())) fail_errno("write to the child's stdin");
  }

  RunResult result;
  const auto deadline = Clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    const int n = ::poll(fds, 2, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

ServerProcess::ServerProcess(ServerOptions options)
    : options_(std::move(options)), dir_(std::make_unique<TempDir>()) {
  pick_ports();
  start(/*may_move=*/true);
}

void ServerProcess::pick_ports() {
  http_port_ = options_.http_port ? *options_.http_port : free_port();
  rtmp_port_ = options_.rtmp_port ? *options_.rtmp_port : free_port();
  while (rtmp_port_ == http_port_) rtmp_port_ = free_port();
}

// free_port() closes the port it found, so another process may bind it before
// the server does (another test binary under `ctest -j`, an outgoing connection's
// ephemeral port). The server then exits at once saying so; start it again, on
// new ports where the test let the harness pick them, else on the same ones
// once they are free (a restart keeps its ports: the clients know them).
void ServerProcess::start(bool may_move) {
  const auto deadline = Clock::now() + scaled(std::chrono::seconds(10));
  for (int attempt = 1;; ++attempt) {
    spawn();
    try {
      wait_ready();
      return;
    } catch (const PortTaken& e) {
      if (Clock::now() >= deadline) throw std::runtime_error(e.what());
      MESSAGE("souk-live start-up attempt " << attempt << ": a port was taken; trying again");
    }
    if (may_move) {
      pick_ports();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
}

void ServerProcess::spawn() {
  std::vector<std::string> args{server_binary(), "serve"};
  if (options_.data_dir_flag) {
    args.insert(args.end(), {"--data-dir", data_dir().string()});
  }
  if (options_.http_listen_flag) args.insert(args.end(), {"--http-listen", http_address()});
  if (options_.rtmp_listen_flag) {
    args.insert(args.end(), {"--rtmp-listen", "127.0.0.1:" + std::to_string(rtmp_port_)});
  }
  if (!options_.log_level.empty()) args.insert(args.end(), {"--log-level", options_.log_level});
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  ExecArgs exec_args(args, options_.env);

  std::error_code size_ec;
  const auto log_size = std::filesystem::file_size(log_path(), size_ec);
  log_offset_ = size_ec ? 0 : log_size;
  const int log_fd = ::open(log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) fail_errno("open " + log_path().string());
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    fail_errno("fork");
  }
  if (pid == 0) {
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    // Relative paths in a test (none by default) resolve inside the temp dir.
    if (::chdir(dir_->path().c_str()) != 0) ::_exit(126);
    exec_child(exec_args);
  }
  ::close(log_fd);
  pid_ = pid;
}

std::optional<int> ServerProcess::try_reap(bool block) {
  if (pid_ <= 0) return std::nullopt;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    pid_ = -1;
    return status;
  }
  return std::nullopt;
}

bool ServerProcess::running() {
  if (pid_ <= 0) return false;
  return !try_reap(false).has_value();
}

void ServerProcess::wait_ready() {
  const auto ready_timeout = scaled(options_.ready_timeout);
  const auto deadline = Clock::now() + ready_timeout;
  httplib::Client client("127.0.0.1", http_port_);
  client.set_connection_timeout(std::chrono::milliseconds(200));
  client.set_read_timeout(std::chrono::seconds(2));
  while (true) {
    if (auto status = try_reap(false)) {
      const std::string message = "souk-live " + describe_status(*status) +
                                  " before answering /healthz on " + http_address() +
                                  "; log tail:\n" + log_tail();
      const std::string this_run = log_text().substr(std::min(log_offset_, log_text().size()));
      if (this_run.find("cannot listen") != std::string::npos &&
          this_run.find("Address already in use") != std::string::npos) {
        throw PortTaken(message);
      }
      throw std::runtime_error(message);
    }
    if (auto res = client.Get("/healthz"); res && res->status == 200) return;
    if (Clock::now() >= deadline) {
      throw std::runtime_error("souk-live did not answer 200 on GET /healthz at " + http_address() +
                               " within " + std::to_string(ready_timeout.count()) +
                               " ms; log tail:\n" + log_tail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

StopResult ServerProcess::stop(std::chrono::milliseconds timeout) {
  StopResult result;
  if (pid_ <= 0) return result;
  const auto start = Clock::now();
  ::kill(pid_, SIGTERM);
  std::optional<int> status;
  while (!(status = try_reap(false))) {
    if (Clock::now() - start >= timeout) {
      ::kill(pid_, SIGKILL);
      status = try_reap(true);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  if (status) {
    if (WIFEXITED(*status)) {
      result.exited = true;
      result.exit_code = WEXITSTATUS(*status);
    } else if (WIFSIGNALED(*status)) {
      result.signal = WTERMSIG(*status);
    }
  }
  return result;
}

void ServerProcess::restart(bool new_ports) {
  if (pid_ > 0) stop();
  if (new_ports) pick_ports();
  start(/*may_move=*/new_ports);
}

std::string ServerProcess::log_text() const { return read_whole_file(log_path()); }

std::string ServerProcess::log_tail(std::size_t lines) const {
  const std::string text = log_text();
  std::size_t pos = text.size();
  // Skip a trailing newline, then step back over `lines` line breaks.
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (std::size_t seen = 0; pos > 0; --pos) {
    if (text[pos - 1] == '\n' && ++seen == lines) break;
  }
  return text.substr(pos);
}

bool ServerProcess::wait_for_log(const std::string& needle,
                                 std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + scaled(timeout);
  while (true) {
    if (log_text().find(needle) != std::string::npos) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// --- per-TEST_CASE registry ----------------------------------------------------

namespace {

std::map<std::string, std::unique_ptr<ServerProcess>>& servers() {
  static std::map<std::string, std::unique_ptr<ServerProcess>> m;
  return m;
}

std::map<std::string, std::shared_ptr<void>>& slots() {
  static std::map<std::string, std::shared_ptr<void>> m;
  return m;
}

// Failed starts are remembered so later subcases fail fast with the same reason
// instead of waiting 15 s again.
std::map<std::string, std::string>& start_failures() {
  static std::map<std::string, std::string> m;
  return m;
}

void clear_test_case_resources() {
  slots().clear();
  servers().clear();
  start_failures().clear();
}

// Stops the servers of a TEST_CASE once all of its subcases have run.
struct TestCaseCleanup : souk::test::QuietListener {
  using QuietListener::QuietListener;
  void test_run_end(const doctest::TestRunStats&) override { clear_test_case_resources(); }
  void test_case_start(const doctest::TestCaseData&) override { clear_test_case_resources(); }
  void test_case_end(const doctest::CurrentTestCaseStats&) override { clear_test_case_resources(); }
};

}  // namespace

DOCTEST_REGISTER_LISTENER("souk_test_case_cleanup", 1, TestCaseCleanup);

ServerProcess& test_case_server(const std::string& name, ServerOptions options) {
  auto& m = servers();
  if (auto it = m.find(name); it != m.end()) return *it->second;
  if (auto f = start_failures().find(name); f != start_failures().end()) {
    throw std::runtime_error(f->second);
  }
  try {
    auto server = std::make_unique<ServerProcess>(std::move(options));
    return *m.emplace(name, std::move(server)).first->second;
  } catch (const std::exception& e) {
    start_failures()[name] = e.what();
    throw;
  }
}

namespace detail {
std::shared_ptr<void>& test_case_slot(const std::string& name) { return slots()[name]; }
}  // namespace detail

}  // namespace souk_it
