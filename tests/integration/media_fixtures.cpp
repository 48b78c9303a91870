// Child processes for the media tests (fork/exec with output in files) and the
// FLV fixture that ffmpeg makes once per run.
#include "media_fixtures.hpp"

#include "publishers.hpp"
#include "server_process.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace souk_it {
namespace {

using Clock = std::chrono::steady_clock;

std::string find_on_path(const std::string& name) {
  auto found = on_path(name);
  if (found.empty()) {
    throw std::runtime_error(name + " not found on PATH (tools/install-deps.sh installs it)");
  }
  return found;
}

// Where child processes write their output: one directory for the run.
const std::filesystem::path& output_dir() {
  static const TempDir dir;
  return dir.path();
}

std::string join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

std::string tail(const std::string& text, std::size_t max_chars = 1500) {
  return text.size() <= max_chars ? text : "..." + text.substr(text.size() - max_chars);
}

}  // namespace

std::string on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    const auto candidate = std::filesystem::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return {};
}

std::string ffmpeg_binary() {
  static const std::string path = find_on_path("ffmpeg");
  return path;
}

std::string ffprobe_binary() {
  static const std::string path = find_on_path("ffprobe");
  return path;
}

std::string rtmp_publish_binary() {
#ifdef SOUK_RTMP_PUBLISH
  return SOUK_RTMP_PUBLISH;
#else
  throw std::runtime_error("rtmp-publish was not built (tools/CMakeLists.txt)");
#endif
}

std::string ProcessResult::describe() const {
  std::ostringstream s;
  s << "`" << command << "` ";
  if (timed_out) {
    s << "was still running after " << seconds() << " s and was killed";
  } else if (signal != 0) {
    s << "was killed by signal " << signal << " after " << seconds() << " s";
  } else {
    s << "exited with " << exit_code << " after " << seconds() << " s";
  }
  if (!err.empty()) s << "; stderr: " << tail(err);
  if (!out.empty()) s << "; stdout: " << tail(out, 500);
  return s.str();
}

ChildProcess::ChildProcess(std::vector<std::string> argv) : argv_(std::move(argv)) {
  if (argv_.empty()) throw std::invalid_argument("ChildProcess: empty argv");
  static std::atomic<int> counter{0};
  const std::string stem = "child-" + std::to_string(++counter);
  out_path_ = output_dir() / (stem + ".out");
  err_path_ = output_dir() / (stem + ".err");

  // Everything the child needs is built before fork: after it, only
  // async-signal-safe calls.
  std::vector<char*> args;
  for (auto& a : argv_) args.push_back(a.data());
  args.push_back(nullptr);
  const int out_fd = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out_fd < 0) fail_errno("open " + out_path_.string());
  const int err_fd = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (err_fd < 0) {
    ::close(out_fd);
    fail_errno("open " + err_path_.string());
  }
  started_ = Clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out_fd);
    ::close(err_fd);
    fail_errno("fork");
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The test runner ignores SIGPIPE; the child gets the default back.
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    if (::syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
      for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    }
    ::execve(args[0], args.data(), environ);
    const char msg[] = "media_fixtures: execve failed\n";
    [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(out_fd);
  ::close(err_fd);
  pid_ = pid;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exited_) {
    ::kill(pid_, SIGKILL);
    reap(true);
  }
}

bool ChildProcess::reap(bool block) {
  if (exited_) return true;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    exited_ = true;
    status_ = status;
    ended_ = Clock::now();
    return true;
  }
  return false;
}

bool ChildProcess::running() { return !reap(false); }

void ChildProcess::send_signal(int sig) {
  if (!exited_) ::kill(pid_, sig);
}

ProcessResult ChildProcess::wait(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!reap(false)) {
    if (Clock::now() >= deadline) {
      timed_out_ = true;
      ::kill(pid_, SIGKILL);
      reap(true);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ProcessResult result;
  result.command = join(argv_);
  result.timed_out = timed_out_;
  if (WIFEXITED(status_)) {
    result.exit_code = WEXITSTATUS(status_);
  } else if (WIFSIGNALED(status_)) {
    result.signal = WTERMSIG(status_);
  }
  result.out = read_whole_file(out_path_);
  result.err = read_whole_file(err_path_);
  result.started = started_;
  result.ended = ended_;
  return result;
}

ProcessResult run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  ChildProcess child(argv);
  return child.wait(timeout);
}

double probed_duration(const std::string& target) {
  const auto r = run_process({ffprobe_binary(), "-v", "error", "-show_entries", "format=duration",
                              "-of", "csv=p=0", target},
                             std::chrono::seconds(20));
  if (r.exit_code != 0) return -1;
  char* end = nullptr;
  const double d = std::strtod(r.out.c_str(), &end);
  return end == r.out.c_str() ? -1 : d;
}

double wait_recorded(const std::filesystem::path& recording, double seconds,
                     std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  double d = probed_duration(recording.string());
  while (d < seconds && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    d = probed_duration(recording.string());
  }
  return d;
}

namespace {

MediaFixtures make_fixtures() {
  static const TempDir dir;
  MediaFixtures m;
  m.flv = dir.path() / "testsrc2-640x360-30fps-h264-aac48k-6s.flv";
  // The command of the ingest issue (publishers.hpp's defaults), as fast as the CPU
  // goes, into a file.
  const auto made = run_process(ffmpeg_encode_test_pattern(m.flv.string(), {.realtime = false}),
                                std::chrono::seconds(60));
  if (made.exit_code != 0) throw std::runtime_error("making the FLV fixture: " + made.describe());

  // What the tests expect the server to report is what ffprobe sees in the file.
  const auto probe = run_process({ffprobe_binary(), "-v", "error", "-show_entries",
                                  "stream=codec_name,width,height,r_frame_rate,sample_rate,"
                                  "channels:format=duration",
                                  "-of", "json", m.flv.string()},
                                 std::chrono::seconds(20));
  if (probe.exit_code != 0)
    throw std::runtime_error("probing the FLV fixture: " + probe.describe());
  const auto j = nlohmann::json::parse(probe.out, nullptr, false);
  const auto& streams = j.is_object() && j.contains("streams") ? j["streams"] : nlohmann::json();
  bool video_ok = false;
  bool audio_ok = false;
  if (streams.is_array()) {
    for (const auto& s : streams) {
      if (s.value("codec_name", "") == "h264") {
        video_ok = s.value("width", 0) == 640 && s.value("height", 0) == 360 &&
                   s.value("r_frame_rate", "") == "30/1";
      } else if (s.value("codec_name", "") == "aac") {
        audio_ok = s.value("sample_rate", "") == "48000" && s.value("channels", 0) == 2;
      }
    }
  }
  if (!video_ok || !audio_ok) {
    throw std::runtime_error("the FLV fixture is not 640x360 30 fps H.264 + 48 kHz stereo AAC: " +
                             probe.out);
  }
  if (j.contains("format") && j["format"].is_object()) {
    m.seconds = std::strtod(j["format"].value("duration", "0").c_str(), nullptr);
  }
  return m;
}

}  // namespace

const MediaFixtures& media_fixtures() {
  static std::optional<MediaFixtures> made;
  static std::string failure;
  if (made) return *made;
  if (!failure.empty()) throw std::runtime_error(failure);
  try {
    made = make_fixtures();
  } catch (const std::exception& e) {
    failure = e.what();
    throw;
  }
  return *made;
}

}  // namespace souk_it
