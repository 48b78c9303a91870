// Media for the ingest tests: an H.264 + AAC FLV file made once per run with
// ffmpeg, and the real clients (ffmpeg, ffprobe, rtmp-publish) run as child
// processes with a timeout, their exit status and output captured. The
// publishers' command lines are in publishers.hpp.
#pragma once

#include <sys/types.h>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace souk_it {

// `name` as found on PATH, or "" when it is not there.
std::string on_path(const std::string& name);

// ffmpeg and ffprobe as found on PATH, rtmp-publish as CMake built it
// ($<TARGET_FILE:rtmp-publish>). Each throws std::runtime_error when missing.
std::string ffmpeg_binary();
std::string ffprobe_binary();
std::string rtmp_publish_binary();

struct ProcessResult {
  int exit_code = -1;      // -1 when ended by a signal
  int signal = 0;          // the signal that ended it, if any
  bool timed_out = false;  // killed (SIGKILL) because it outlived its timeout
  std::string out;
  std::string err;
  std::chrono::steady_clock::time_point started;
  std::chrono::steady_clock::time_point ended;  // within ~10 ms of its exit

  double seconds() const { return std::chrono::duration<double>(ended - started).count(); }
  // "ffmpeg exited with 1 after 0.4 s; stderr: ..." for failure messages.
  std::string describe() const;
  std::string command;  // argv joined, for describe()
};

// A child process running beside the test. stdin is /dev/null; stdout and stderr
// go to files (nothing to drain while the test polls the API), read back by wait().
// The destructor kills and reaps it if it is still running; it also dies with the
// test runner (PR_SET_PDEATHSIG).
class ChildProcess {
 public:
  explicit ChildProcess(std::vector<std::string> argv);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // True while it has not exited (reaps it when it has).
  bool running();
  // Waits until it exits, at most `timeout`; then kills it (timed_out set). Later
  // calls return the same result.
  ProcessResult wait(std::chrono::milliseconds timeout);
  void send_signal(int sig);
  pid_t pid() const { return pid_; }

 private:
  bool reap(bool block);

  std::vector<std::string> argv_;
  std::filesystem::path out_path_;
  std::filesystem::path err_path_;
  pid_t pid_ = -1;
  int status_ = 0;
  bool exited_ = false;
  bool timed_out_ = false;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point ended_;
};

// Runs argv to completion (killed after `timeout`).
ProcessResult run_process(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = std::chrono::seconds(20));

// ffprobe's format duration of a file or URL in seconds; -1 when ffprobe fails or
// reports none.
double probed_duration(const std::string& target);

// Polls ffprobe on a recording being written (fragmented MP4, of which only
// whole fragments count) until it holds at least `seconds`, at most `timeout`;
// the last duration seen (-1 while it cannot be read).
double wait_recorded(const std::filesystem::path& recording, double seconds,
                     std::chrono::milliseconds timeout);

struct MediaFixtures {
  // 6 s of testsrc2 640x360 at 30 fps, H.264 (libx264 ultrafast, zerolatency, GOP 60,
  // yuv420p) and a 440 Hz sine, AAC 48 kHz stereo 64 kb/s, in FLV.
  std::filesystem::path flv;
  double seconds = 6.0;
};

// Made on first use into a temp dir that lasts the whole run, and checked with
// ffprobe; throws std::runtime_error with ffmpeg's output when that fails (and the
// same error on later calls, without trying again).
const MediaFixtures& media_fixtures();

}  // namespace souk_it
