// A real browser plays the live stream: a seller goes live, ffmpeg publishes a live
// encode over RTMP, and hls.js in Debian's headless Chromium (driven by
// playwright-core, tests/browser/hls_play.mjs) plays {hlsUrl} from a page on
// about:blank (so over CORS) until video.currentTime has advanced by 2 s.
#include "api_client.hpp"
#include "media_fixtures.hpp"
#include "publishers.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>

#include <unistd.h>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>

using namespace souk_it;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

// Segments are ~2 s; the second one is listed once the third starts, ~5 s after
// ffmpeg starts. Room for a slow CI machine.
constexpr auto playlist_timeout = 20s;
// hls_play.mjs gives up by itself after this...
constexpr int script_timeout_ms = 25000;
// ...and is killed if it somehow outlives it (browser launch hangs).
constexpr auto script_kill_timeout = 35s;
constexpr const char* chromium_path = "/usr/bin/chromium";

std::filesystem::path source_dir() {
#ifdef SOUK_SOURCE_DIR
  return SOUK_SOURCE_DIR;
#else
  // tests/integration/browser_test.cpp -> the repository root.
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
#endif
}

// "http://127.0.0.1:8080/hls/x/index.m3u8" -> "/hls/x/index.m3u8".
std::string path_of(const std::string& url) {
  const auto scheme = url.find("://");
  const auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return slash == std::string::npos ? "/" : url.substr(slash);
}

// URI lines of a media playlist.
int segment_count(const std::string& playlist) {
  std::istringstream lines(playlist);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty() && line.front() != '#') ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("browser: hls.js in headless Chromium plays the live stream and currentTime advances") {
  // CI installs these (tools/install-deps.sh, make browser-deps): missing is a failure.
  const std::string node = on_path("node");
  if (node.empty()) {
    FAIL("node is not on PATH (tools/install-deps.sh installs nodejs)");
  }
  if (::access(chromium_path, X_OK) != 0) {
    FAIL(chromium_path << " is missing (tools/install-deps.sh installs chromium)");
  }
  const auto browser_dir = source_dir() / "tests" / "browser";
  const auto script = browser_dir / "hls_play.mjs";
  REQUIRE_MESSAGE(std::filesystem::exists(script), script << " is missing");
  if (!std::filesystem::exists(browser_dir / "node_modules" / "playwright-core" / "package.json") ||
      !std::filesystem::exists(browser_dir / "node_modules" / "hls.js" / "package.json")) {
    FAIL("playwright-core and hls.js are not installed in " << browser_dir
                                                            << " (run `make browser-deps`)");
  }

  ServerProcess server;
  ApiClient client(server.http_port());

  const Live live = client.go_live(client.register_user("seller"));
  const std::string& hls_url = live.hls_url;
  INFO("hlsUrl: " << hls_url);

  // 30 s of a live encode: baseline profile, a keyframe exactly every 60 frames (2 s).
  TestPatternEncode encode;
  encode.seconds = 30;
  encode.video_options = {"-tune", "zerolatency", "-keyint_min", "60", "-profile:v", "baseline"};
  encode.log_level = "warning";
  ChildProcess publisher(ffmpeg_encode_test_pattern(live.publish_url, encode));

  // The playlist exists and lists at least 2 segments.
  const std::string playlist_path = path_of(hls_url);
  const auto deadline = Clock::now() + scaled(playlist_timeout);
  Response playlist;
  int segments = 0;
  while (Clock::now() < deadline && publisher.running()) {
    playlist = client.get(playlist_path);
    segments = playlist.status == 200 ? segment_count(playlist.raw) : 0;
    if (segments >= 2) break;
    std::this_thread::sleep_for(200ms);
  }
  if (segments < 2) {
    publisher.send_signal(SIGKILL);
    const auto ffmpeg = publisher.wait(scaled(5s));
    FAIL("the playlist did not list 2 segments within "
         << std::chrono::duration<double>(scaled(playlist_timeout)).count()
         << " s; last answer: " << playlist.describe() << "\nffmpeg: " << ffmpeg.describe()
         << "\nserver log:\n"
         << server.log_tail());
  }

  const auto played = run_process(
      {node, script.string(), hls_url, "--timeout-ms",
       std::to_string(scaled(std::chrono::milliseconds(script_timeout_ms)).count())},
      scaled(script_kill_timeout));
  {
    std::ostringstream status;
    if (played.timed_out) {
      status << "was killed after " << played.seconds() << " s";
    } else if (played.signal != 0) {
      status << "was killed by signal " << played.signal;
    } else {
      status << "exited with " << played.exit_code << " after " << played.seconds() << " s";
    }
    INFO("hls_play.mjs " << status.str() << "; its output:\n"
                         << played.out << played.err << "--- server log tail ---\n"
                         << server.log_tail(20));
    CHECK(played.exit_code == 0);
  }

  // ffmpeg was still publishing throughout (it runs 30 s).
  CHECK(publisher.running());
  publisher.send_signal(SIGKILL);
  publisher.wait(scaled(5s));
  const auto stopped = server.stop();
  CHECK(stopped.exited);
}
