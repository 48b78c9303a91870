// Faults against the real binary: publishers that die mid-GOP, stall without
// closing, or send timestamps that jump; a thousand idle connections on each port;
// a full disk. Each time the stream's playlist stays playable, the recording plays,
// and the server keeps serving everyone else.
#include "api_client.hpp"
#include "media_fixtures.hpp"
#include "publishers.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

using namespace souk_it;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

// ffmpeg reads every segment the playlist lists, from the server, as a player
// would (a copy of the playlist with ENDLIST, so a live one is read once, not
// followed); a segment that is missing, truncated or not MPEG-TS makes it fail.
void check_playlist_plays(const ServerProcess& server, const std::string& id) {
  const auto base = "http://" + server.http_address() + "/hls/" + id + "/";
  ApiClient client(server.http_port());
  const auto playlist = client.get("/hls/" + id + "/index.m3u8");
  REQUIRE_STATUS(playlist, 200);
  std::string copy;
  std::istringstream in(playlist.raw);
  for (std::string line; std::getline(in, line);) {
    copy += (!line.empty() && line[0] != '#' ? base + line : line) + "\n";
  }
  if (copy.find("#EXT-X-ENDLIST") == std::string::npos) copy += "#EXT-X-ENDLIST\n";
  TempDir tmp;
  const auto file = tmp.write_file("copy.m3u8", copy);
  const auto r = run_process({ffmpeg_binary(), "-hide_banner", "-nostdin", "-v", "error", "-protocol_whitelist",
                              "file,http,tcp", "-i", file.string(), "-map", "0", "-c", "copy", "-f", "null", "-"},
                             30s);
  INFO("reading the playlist: " << r.describe() << "\n" << playlist.raw);
  CHECK(r.exit_code == 0);
  CHECK(r.err.empty());
}

// The stream's playlist once the packager has written all it was sent: the same
// text on reads 500 ms apart. Ingest reports a publisher gone as soon as the
// socket closes, while the packager may still be draining that publisher's frames.
// Waits until the playlist exists and stays the same for 500 ms: the packager
// writes it after the publisher is gone, from its queue.
std::string settled_playlist(ApiClient& client, const std::string& id) {
  const auto deadline = Clock::now() + scaled(10s);
  std::optional<std::string> last;
  while (Clock::now() < deadline) {
    auto now = client.get("/hls/" + id + "/index.m3u8");
    if (now.status == 200 && last == now.raw) return now.raw;
    last = now.status == 200 ? std::optional(std::move(now.raw)) : std::nullopt;
    std::this_thread::sleep_for(500ms);
  }
  FAIL("the playlist of " << id << " was missing or kept changing for 10 s");
  return last.value_or("");
}

// Polls the stream's playlist until it lists a segment; REQUIREs one within 10 s.
void wait_for_segment(ApiClient& client, const std::string& id) {
  const auto deadline = Clock::now() + scaled(10s);
  std::string playlist;
  while (Clock::now() < deadline) {
    playlist = client.get("/hls/" + id + "/index.m3u8").raw;
    if (playlist.find("#EXTINF") != std::string::npos) return;
    std::this_thread::sleep_for(50ms);
  }
  FAIL("no segment listed for " << id << " within " << scaled(10s).count() << " ms: " << playlist);
}

// EXTINF durations of a playlist, in order.
std::vector<double> segment_durations(const std::string& playlist) {
  std::vector<double> out;
  std::istringstream in(playlist);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("#EXTINF:", 0) == 0) out.push_back(std::stod(line.substr(8)));
  }
  return out;
}

// Ends the stream as its owner and returns the VOD's duration in seconds, after
// decoding all of it without an error.
double end_and_check_vod(ApiClient& client, const std::filesystem::path& data_dir, const Live& s) {
  const auto ended = client.end_stream(s);
  REQUIRE_STATUS(ended, 200);
  const auto d = client.wait_stream_details(s.id, vod_ready, scaled(10s));
  REQUIRE(d["vodUrl"].is_string());
  const auto vod = (data_dir / "vod" / (s.id + ".mp4")).string();
  const auto decode = run_process({ffmpeg_binary(), "-hide_banner", "-nostdin", "-v", "error", "-i", vod, "-f",
                                   "null", "-"},
                                  60s);
  INFO("decoding the VOD: " << decode.describe());
  CHECK(decode.exit_code == 0);
  CHECK(decode.err.empty());
  const auto probe = run_process(
      {ffprobe_binary(), "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", vod}, 20s);
  REQUIRE(probe.exit_code == 0);
  return std::stod(probe.out);
}

// ---- FLV rewriting ------------------------------------------------------------

// Copies an FLV, passing each tag's timestamp (ms) through `retime`.
void retime_flv(const std::filesystem::path& in, const std::filesystem::path& out,
                const std::function<std::uint32_t(std::uint32_t)>& retime) {
  std::string data = read_whole_file(in);
  REQUIRE(data.size() > 13);
  REQUIRE(data.compare(0, 3, "FLV") == 0);
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(data[i]); };
  std::size_t pos = (std::size_t{byte(5)} << 24 | std::size_t{byte(6)} << 16 | std::size_t{byte(7)} << 8 | byte(8)) + 4;
  while (pos + 11 <= data.size()) {
    const std::size_t size = std::size_t{byte(pos + 1)} << 16 | std::size_t{byte(pos + 2)} << 8 | byte(pos + 3);
    const std::uint32_t ts = std::uint32_t{byte(pos + 7)} << 24 | std::uint32_t{byte(pos + 4)} << 16 |
                             std::uint32_t{byte(pos + 5)} << 8 | byte(pos + 6);
    const std::uint32_t t = retime(ts);
    data[pos + 4] = static_cast<char>(t >> 16 & 0xff);
    data[pos + 5] = static_cast<char>(t >> 8 & 0xff);
    data[pos + 6] = static_cast<char>(t & 0xff);
    data[pos + 7] = static_cast<char>(t >> 24 & 0xff);
    pos += 11 + size + 4;
  }
  std::ofstream(out, std::ios::binary) << data;
}

// ---- many sockets -------------------------------------------------------------

// Raises this process's open-file limit (which the server inherits) to `want`;
// false when the hard limit is lower.
bool raise_fd_limit(rlim_t want) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return false;
  if (lim.rlim_cur >= want) return true;
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < want) return false;
  lim.rlim_cur = want;
  return ::setrlimit(RLIMIT_NOFILE, &lim) == 0;
}

// TCP connections to 127.0.0.1:port that send nothing; from `source` (another
// loopback address, as another client) when given.
class IdleConnections {
 public:
  IdleConnections(std::uint16_t port, int count, const char* source = nullptr) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < count; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) fail_errno("socket");
      if (source != nullptr) {
        sockaddr_in from{};
        from.sin_family = AF_INET;
        REQUIRE(::inet_pton(AF_INET, source, &from.sin_addr) == 1);
        if (::bind(fd, reinterpret_cast<const sockaddr*>(&from), sizeof from) != 0) {
          ::close(fd);
          fail_errno("bind");
        }
      }
      if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        fail_errno("connect");
      }
      ::fcntl(fd, F_SETFL, O_NONBLOCK);
      fds_.push_back(fd);
    }
  }
  ~IdleConnections() {
    for (int fd : fds_) ::close(fd);
  }
  IdleConnections(const IdleConnections&) = delete;
  IdleConnections& operator=(const IdleConnections&) = delete;

  // How many the server has closed (EOF or reset) by now; discards anything sent.
  int closed_by_server() {
    int closed = 0;
    std::vector<pollfd> pfds;
    for (int fd : fds_) pfds.push_back({fd, POLLIN, 0});
    ::poll(pfds.data(), pfds.size(), 0);
    for (const auto& p : pfds) {
      if (p.revents & (POLLHUP | POLLERR)) {
        ++closed;
        continue;
      }
      if (p.revents & POLLIN) {
        char buf[4096];
        const auto n = ::recv(p.fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN)) ++closed;
      }
    }
    return closed;
  }

  int wait_closed_at_least(int want, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    int closed = closed_by_server();
    while (closed < want && Clock::now() < deadline) {
      std::this_thread::sleep_for(100ms);
      closed = closed_by_server();
    }
    return closed;
  }

  int size() const { return static_cast<int>(fds_.size()); }

 private:
  std::vector<int> fds_;
};

}  // namespace

TEST_CASE("faults: a publisher killed in the middle of a GOP leaves a playable playlist and recording") {
  ServerProcess server;
  ApiClient client(server.http_port());
  const auto s = client.go_live(client.register_user("seller"));
  const auto& fixture = media_fixtures();  // keyframes every 2 s

  ChildProcess publisher(ffmpeg_publish(s.publish_url));
  REQUIRE(client.wait_stream_details(s.id, ingest_state_is("receiving"), scaled(5s))["ingest"]["state"] ==
          "receiving");
  // The first GOP is a listed segment (its 2 s keyframe arrived); half a GOP
  // more at the publisher's real-time pace puts the kill in the second GOP.
  wait_for_segment(client, s.id);
  std::this_thread::sleep_for(1s);
  publisher.send_signal(SIGKILL);
  publisher.wait(5s);

  const auto after = client.wait_stream_details(s.id, ingest_state_is("interrupted"), scaled(5s));
  CHECK(after["ingest"]["state"] == "interrupted");
  CHECK(after["status"] == "live");
  check_playlist_plays(server, s.id);

  // The seller's encoder comes back and sends the whole file.
  const auto again = run_process(ffmpeg_publish(s.publish_url), 30s);
  INFO(again.describe());
  REQUIRE(again.exit_code == 0);
  check_playlist_plays(server, s.id);

  const double vod = end_and_check_vod(client, server.data_dir(), s);
  CHECK(vod >= fixture.seconds + 2.0);  // the second run, and the first's GOP that closed
  CHECK(vod <= fixture.seconds + 4.5);
  CHECK_STATUS(client.get("/healthz"), 200);
}

TEST_CASE("faults: a publisher that stops sending without closing is dropped; the idle timeout ends the stream") {
  ServerOptions options;
  options.extra_args = {"--rtmp-idle-timeout", "2", "--idle-timeout", "3"};
  ServerProcess server(options);
  ApiClient client(server.http_port());
  const auto s = client.go_live(client.register_user("seller"));

  ChildProcess publisher(ffmpeg_publish(s.publish_url, {.loop_forever = true}));
  REQUIRE(client.wait_stream_details(s.id, ingest_state_is("receiving"), scaled(5s))["ingest"]["state"] ==
          "receiving");
  wait_for_segment(client, s.id);  // media to play and record before the stall
  publisher.send_signal(SIGSTOP);  // the connection stays open; nothing more arrives
  const auto stalled = Clock::now();

  // The RTMP idle timeout drops it (interrupted), then the stream's idle timeout
  // ends the stream as /end would: ENDLIST, and a VOD of what arrived.
  CHECK(client.wait_stream_details(s.id, ingest_state_is("interrupted"), scaled(6s))["ingest"]["state"] ==
        "interrupted");
  CHECK(Clock::now() - stalled >= 1500ms);
  const auto ended = client.wait_stream_details(
      s.id, [](const json& d) { return d["status"] == "ended"; }, scaled(10s));
  CHECK(ended["status"] == "ended");
  CHECK(server.log_text().find("no media within the idle timeout") != std::string::npos);
  const auto playlist = client.get("/hls/" + s.id + "/index.m3u8");
  CHECK(playlist.raw.find("#EXT-X-ENDLIST") != std::string::npos);
  check_playlist_plays(server, s.id);
  const auto d = client.wait_stream_details(s.id, vod_ready, scaled(10s));
  CHECK(d["vodUrl"].is_string());
  publisher.send_signal(SIGCONT);
  publisher.send_signal(SIGKILL);
}

TEST_CASE("faults: timestamps that jump by hours or back to zero do not break the timeline") {
  ServerProcess server;
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto& fixture = media_fixtures();
  TempDir tmp;

  struct Case {
    const char* name;
    std::function<std::uint32_t(std::uint32_t)> retime;
  };
  const std::vector<Case> cases = {
      // A device clock set forward three hours, three seconds in.
      {"forward by three hours", [](std::uint32_t t) { return t < 3000 ? t : t + 3u * 3600 * 1000; }},
      // An encoder restarting its clock: back to zero, three seconds in.
      {"back to zero", [](std::uint32_t t) { return t < 3000 ? t : t - 3000; }},
      // Starting near the 32-bit wrap, then wrapping.
      {"across the 32-bit wrap", [](std::uint32_t t) { return t + 0xffffffffu - 2500; }},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const auto s = client.go_live(seller);
    const auto flv = tmp.path() / "retimed.flv";
    retime_flv(fixture.flv, flv, c.retime);
    // As fast as the server reads: a paced sender would sleep through the jump.
    const auto sent = run_process(rtmp_publish(s.publish_url, {.input = flv}), 30s);
    INFO(sent.describe());
    REQUIRE(sent.exit_code == 0);
    const auto sent_all = client.wait_stream_details(s.id, ingest_state_is("interrupted"), scaled(5s));
    REQUIRE(sent_all["ingest"]["state"] == "interrupted");

    const auto durations = segment_durations(settled_playlist(client, s.id));
    double total = 0;
    for (double d : durations) {
      CHECK(d <= 4.5);  // a 2 s target: no segment holds the jump
      total += d;
    }
    CHECK(total >= fixture.seconds - 2.5);  // the last GOP may still be open
    CHECK(total <= fixture.seconds + 1.0);
    check_playlist_plays(server, s.id);
    const double vod = end_and_check_vod(client, server.data_dir(), s);
    CHECK(vod >= fixture.seconds - 0.5);
    CHECK(vod <= fixture.seconds + 1.0);
  }
  CHECK(server.log_text().find("rtmp timestamp jumped") != std::string::npos);
}

// Issue 21, finding 12: "rtmp timestamp jumped" was logged for every frame (2,000
// lines for 2,000 frames). A clock that jumps by 20 s forth and back every 100 ms
// of the fixture makes ~120 jumps; one line per 10 s is logged, with the count
// left unlogged.
TEST_CASE("faults: a publisher whose clock jumps on every few frames gets a log line per 10 s, not per frame") {
  ServerProcess server;
  ApiClient client(server.http_port());
  const auto s = client.go_live(client.register_user("seller"));
  TempDir tmp;
  const auto flv = tmp.path() / "jumpy.flv";
  retime_flv(media_fixtures().flv, flv, [](std::uint32_t t) { return (t / 100) % 2 == 1 ? t + 20000 : t; });
  const auto log_mark = server.log_text().size();
  // As fast as the server reads: the whole file within one 10 s interval.
  const auto sent = run_process(rtmp_publish(s.publish_url, {.input = flv}), 30s);
  INFO(sent.describe());
  REQUIRE(sent.exit_code == 0);
  REQUIRE(client.wait_stream_details(s.id, ingest_state_is("interrupted"), scaled(5s))["ingest"]["state"] ==
          "interrupted");
  const std::string log = server.log_text().substr(log_mark);
  std::size_t lines = 0;
  for (std::size_t at = 0; (at = log.find("rtmp timestamp jumped", at)) != std::string::npos; ++at) ++lines;
  INFO("log tail:\n" << server.log_tail(10));
  CHECK(lines >= 1);
  CHECK(lines <= 2);
}

TEST_CASE("faults: a thousand idle connections on each port; limits hold and service continues") {
  constexpr int idle_per_port = 1000;
  constexpr int rtmp_limit = 1100;
  // The test process and the server (which inherits the limit) each hold over
  // 2,000 sockets. An unprivileged user cannot raise the hard limit: where it is
  // below 4096 (some CI runners, `ulimit -Hn 1024` shells) the case cannot run
  // and says so in the output. Docker's default (1048576) and systemd's (524288)
  // are far above it.
  if (!raise_fd_limit(4096)) {
    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    MESSAGE("SKIPPED: the open-file hard limit (ulimit -Hn) is " << lim.rlim_max
                                                                  << ", below the 4096 this case needs");
    return;
  }
  ServerOptions options;
  // All from 127.0.0.1: the per-address cap is lifted, so the total cap is what is tested.
  options.extra_args = {"--rtmp-max-connections", std::to_string(rtmp_limit), "--rtmp-max-per-address", "100000",
                        "--http-request-timeout", "3"};
  ServerProcess server(options);
  ApiClient client(server.http_port());
  const auto s = client.go_live(client.register_user("seller"));

  IdleConnections http_idle(server.http_port(), idle_per_port);
  IdleConnections rtmp_idle(server.rtmp_port(), idle_per_port);
  CHECK(http_idle.closed_by_server() == 0);
  CHECK(rtmp_idle.closed_by_server() == 0);

  // Everyone else is served: the API, and a publisher among the idle RTMP sockets.
  const auto started = Clock::now();
  CHECK_STATUS(client.get("/healthz"), 200);
  CHECK_STATUS(client.get(api_path("/streams/" + s.id)), 200);
  // Answered as promptly as on an idle server (a few milliseconds there): the
  // idle sockets cost the event loop nothing. The bound leaves room for a loaded
  // machine.
  CHECK(Clock::now() - started < scaled(2s));
  ChildProcess publisher(ffmpeg_publish(s.publish_url, {.loop_forever = true}));
  CHECK(client.wait_stream_details(s.id, ingest_state_is("receiving"), scaled(8s))["ingest"]["state"] ==
        "receiving");

  // Past the RTMP limit, more connections are closed at once.
  IdleConnections over(server.rtmp_port(), 200);
  const int over_limit = idle_per_port + 1 + 200 - rtmp_limit;
  CHECK(over.wait_closed_at_least(over_limit, scaled(3s)) >= over_limit);

  // Idle HTTP connections are closed at the request timeout (3 s here), idle RTMP
  // ones at the 10 s handshake timeout; the publisher carries on.
  CHECK(http_idle.wait_closed_at_least(idle_per_port, scaled(8s)) == idle_per_port);
  CHECK(rtmp_idle.wait_closed_at_least(idle_per_port, scaled(15s)) == idle_per_port);
  CHECK(publisher.running());
  CHECK(client.stream_details(s.id)["ingest"]["state"] == "receiving");
  CHECK_STATUS(client.get("/healthz"), 200);
  CHECK(server.running());
}

// Issue 21, finding 7: one client cannot hold every HTTP connection, and a flood
// from many cannot hold more than the total; a trusted proxy is not capped per
// address. Other loopback addresses (127.0.0.2, ...) stand for other clients.
TEST_CASE("faults: HTTP connections past --http-max-per-address and --http-max-connections are closed at accept") {
  ServerOptions options;
  options.extra_args = {"--http-max-connections", "100", "--http-max-per-address", "30",
                        "--trusted-proxies", "127.0.0.9"};
  ServerProcess server(options);
  ApiClient client(server.http_port());

  // One client: 30 held, the next 10 closed at once; the others are served.
  IdleConnections one(server.http_port(), 30, "127.0.0.2");
  std::optional<IdleConnections> one_more(std::in_place, server.http_port(), 10, "127.0.0.2");
  CHECK(one_more->wait_closed_at_least(10, scaled(3s)) == 10);
  CHECK(one.closed_by_server() == 0);
  CHECK_STATUS(client.get("/healthz"), 200);

  // A trusted proxy carries many clients: 40 from it stay open.
  std::optional<IdleConnections> proxy(std::in_place, server.http_port(), 40, "127.0.0.9");
  // 30 + 40 + 29 from two more clients: 99 open (100 if the test's client kept
  // its connection). Of 20 more, at most one gets in.
  IdleConnections two(server.http_port(), 15, "127.0.0.3");
  IdleConnections three(server.http_port(), 14, "127.0.0.4");
  std::this_thread::sleep_for(200ms);
  CHECK(proxy->closed_by_server() == 0);
  CHECK(two.closed_by_server() == 0);
  CHECK(three.closed_by_server() == 0);
  IdleConnections flood(server.http_port(), 20, "127.0.0.5");
  CHECK(flood.wait_closed_at_least(19, scaled(3s)) >= 19);

  // Room again once some go; the refusals were counted by reason.
  one_more.reset();
  proxy.reset();
  // (The server sees them go when it reads their end: a moment later.)
  auto metrics = client.get("/metrics");
  const auto deadline = Clock::now() + scaled(3s);
  while (metrics.status != 200 && Clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    metrics = client.get("/metrics");
  }
  INFO("GET /metrics: " << metrics.status << "\n" << metrics.raw.substr(0, 300));
  CHECK(metrics.raw.find("souk_refused_total{reason=\"http_per_address\"} 10") != std::string::npos);
  CHECK(metrics.raw.find("souk_refused_total{reason=\"http_connections\"}") != std::string::npos);
  CHECK(server.running());
}

namespace {

// The server's output on a pipe instead of a file: a file-size limit applies to
// every regular file the process writes, its log file included, and the log must
// go on while writes to the data directory fail. Restarts the server (same data
// dir and ports) with server.log replaced by a FIFO that a thread drains.
class LogPipe {
 public:
  explicit LogPipe(ServerProcess& server) : path_(server.log_path()) {
    const auto stopped = server.stop();
    REQUIRE(stopped.exited);
    std::filesystem::rename(path_, path_.string() + ".before-pipe");
    REQUIRE(::mkfifo(path_.c_str(), 0600) == 0);
    // Read and write: opening never blocks, and the harness's open for writing
    // finds a reader.
    fd_ = ::open(path_.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) fail_errno("open the log FIFO");
    reader_ = std::thread([this] { drain(); });
    server.restart();
  }
  ~LogPipe() {
    stop_ = true;
    reader_.join();
    ::close(fd_);
  }
  LogPipe(const LogPipe&) = delete;
  LogPipe& operator=(const LogPipe&) = delete;

  std::string text() const {
    std::lock_guard lock(mutex_);
    return text_;
  }
  bool wait_for(const std::string& needle, std::chrono::milliseconds timeout) const {
    const auto deadline = Clock::now() + scaled(timeout);
    while (text().find(needle) == std::string::npos) {
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  }

 private:
  void drain() {
    char buf[8192];
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const auto n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) continue;
      std::lock_guard lock(mutex_);
      text_.append(buf, static_cast<std::size_t>(n));
    }
  }

  std::filesystem::path path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::string text_;
  std::thread reader_;
};

// The server's file-size limit (RLIMIT_FSIZE), soft value only: 0 refuses every
// write to a regular file (EFBIG), as a full disk refuses them (ENOSPC), without
// root or a mount; RLIM_INFINITY (or the hard limit) gives the room back. No
// privilege is needed to lower a soft limit or raise it up to the hard one.
void set_file_size_limit(pid_t pid, rlim_t soft) {
  rlimit now{};
  if (::prlimit(pid, RLIMIT_FSIZE, nullptr, &now) != 0) fail_errno("prlimit (read)");
  rlimit want{std::min(soft, now.rlim_max), now.rlim_max};
  if (::prlimit(pid, RLIMIT_FSIZE, &want, nullptr) != 0) fail_errno("prlimit (set)");
}

std::string sqlite_cli(const std::filesystem::path& db, const std::string& sql) {
  const auto r = run_process({"/usr/bin/sqlite3", db.string(), sql}, 30s);
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  auto out = r.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace

TEST_CASE(
    "faults: a full disk pauses HLS, stops the recording cleanly and refuses writes with 503 "
    "storage_full; everything else carries on and recovers when room returns") {
  ServerProcess server;
  LogPipe log(server);
  ApiClient client(server.http_port());
  const auto seller = client.register_user("seller");
  const auto a = client.go_live(seller);
  const auto b = client.go_live(seller);
  const auto& fixture = media_fixtures();

  // Some media first, so the recording has whole fragments before the disk fills.
  const auto first = run_process(rtmp_publish(a.publish_url), 30s);
  REQUIRE(first.exit_code == 0);
  REQUIRE(client.wait_stream_details(a.id, ingest_state_is("interrupted"), scaled(5s))["ingest"]["state"] ==
          "interrupted");
  settled_playlist(client, a.id);
  CHECK_STATUS(client.get("/readyz"), 200);

  // The disk is full: no write to any file succeeds from here on.
  set_file_size_limit(server.pid(), 0);
  const auto flood = run_process(rtmp_publish(a.publish_url, {.loop = 6}), 60s);
  INFO(flood.describe());
  CHECK(flood.exit_code == 0);  // the server keeps reading a publisher it cannot store
  REQUIRE(log.wait_for("packager: recording stopped", 5s));

  // Said once each, not once per frame.
  const auto text = log.text();
  const auto count = [&](const std::string& needle) {
    std::size_t n = 0;
    for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
    return n;
  };
  INFO("server log:\n" << text);
  CHECK(count("packager: HLS paused") == 1);
  CHECK(count("packager: HLS resumed") == 0);
  CHECK(count("packager: recording stopped") == 1);
  CHECK(count(std::strerror(EFBIG)) >= 1);
  CHECK(count(std::strerror(EFBIG)) <= 12);

  // The playlist lists only whole segments; everyone else is still served, and
  // what needs a write is refused as documented.
  check_playlist_plays(server, a.id);
  CHECK_STATUS(client.get("/healthz"), 200);
  CHECK_STATUS(client.get(api_path("/streams/" + b.id)), 200);
  const auto signup = client.post(api_path("/auth/register"),
                                  json{{"username", unique_username("full")}, {"password", unique_password()},
                                       {"role", "buyer"}});
  CHECK_ERROR(signup, 503, "storage_full");
  CHECK(signup.header("Retry-After") == "60");
  CHECK_ERROR(client.get("/readyz"), 503, "not_ready");

  // Room again: writes succeed, HLS resumes after a discontinuity, and the other
  // stream publishes.
  set_file_size_limit(server.pid(), RLIM_INFINITY);
  CHECK_STATUS(client.get("/readyz"), 200);
  const auto after = client.post(api_path("/auth/register"),
                                 json{{"username", unique_username("room")}, {"password", unique_password()},
                                      {"role", "buyer"}});
  CHECK_STATUS(after, 201);
  const auto again = run_process(rtmp_publish(a.publish_url), 30s);
  CHECK(again.exit_code == 0);
  CHECK(log.wait_for("packager: HLS resumed", 5s));
  const auto playlist = client.get("/hls/" + a.id + "/index.m3u8");
  CHECK(playlist.raw.find("#EXT-X-DISCONTINUITY") != std::string::npos);
  check_playlist_plays(server, a.id);
  const auto other = run_process(rtmp_publish(b.publish_url), 30s);
  CHECK(other.exit_code == 0);
  settled_playlist(client, b.id);
  check_playlist_plays(server, b.id);

  // The VOD keeps what was recorded before the disk filled: the first run, less
  // its last GOP if that fragment was still open when the disk filled.
  const double vod = end_and_check_vod(client, server.data_dir(), a);
  CHECK(vod >= fixture.seconds - 2.5);
  CHECK(vod <= fixture.seconds + 0.5);
  CHECK(server.stop().exit_code == 0);
  CHECK(sqlite_cli(server.data_dir() / "souk.db", "PRAGMA integrity_check") == "ok");
}
