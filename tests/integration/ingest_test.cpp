// RTMP ingest against the real binary with real publishers: ffmpeg (its own RTMP
// client) and rtmp-publish (librtmp, the library OBS's output derives from). A
// seller goes live over HTTP, publishes to {rtmpUrl}/{streamKey}, and the stream's
// details report what arrives; bad keys, a second publisher and hostile bytes are
// turned away without disturbing the publisher that is live, and the stream key
// never reaches the log. A raw client makes what no publisher sends: messages the
// server must not hold or decode, silent connections, too many from one address
// (issue 21).
#include "api_client.hpp"
#include "media_fixtures.hpp"
#include "publishers.hpp"
#include "server_process.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <chrono>
#include <cstring>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

using namespace souk_it;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

// Wall-clock bounds, each through scaled() (server_process.hpp). The ingest issue:
// stream details show what arrives within ~3 s of the publisher starting;
// "interrupted" within 3 s of it leaving; /end drops the publisher within ~3 s.
// The first counts the publisher's own start (ffmpeg opens its input and
// connects), which the server does not control: 1.1 to 1.4 s measured with the
// 2-core machine at a load average of 10, so 5 s.
std::chrono::milliseconds ingest_report_timeout() { return scaled(5s); }
std::chrono::milliseconds settle_timeout() { return scaled(3s); }
std::chrono::milliseconds end_disconnect_limit() { return scaled(3500ms); }
// A publish of the 6 s fixture in real time, with room for a slow machine.
std::chrono::milliseconds publish_timeout() { return scaled(20s); }
// A refused publisher gives up well within this (rtmp-publish after its 5 s
// answer timeout at worst).
std::chrono::milliseconds refusal_timeout() { return scaled(10s); }
// The server closes a connection that breaks the protocol at once.
std::chrono::milliseconds close_timeout() { return scaled(5s); }

// A stream taken live by `seller`, published to on this server's RTMP port.
Live new_live_stream(ApiClient& client, const Account& seller, const ServerProcess& server) {
  Live live = client.go_live(seller);
  CHECK(live.rtmp_url == "rtmp://127.0.0.1:" + std::to_string(server.rtmp_port()) + "/live");
  REQUIRE_FALSE(live.stream_key.empty());
  return live;
}

// ---- stream details -----------------------------------------------------------

// The value at a JSON pointer ("/ingest/state"), or null when absent.
json field(const json& d, const std::string& pointer) {
  const json::json_pointer p(pointer);
  return d.is_object() && d.contains(p) ? d.at(p) : json();
}

// What the publisher sends, as stream details should report it (from onMetaData
// and the AVC/AAC sequence headers).
struct ExpectedIngest {
  int width = 640;
  int height = 360;
  double fps = 30;
  int sample_rate = 48000;
  int channels = 2;
};

bool number_near(const json& v, double want, double tolerance) {
  return v.is_number() && v.get<double>() >= want - tolerance &&
         v.get<double>() <= want + tolerance;
}

bool ingest_matches(const json& d, const ExpectedIngest& e) {
  const json kbps = field(d, "/ingest/bitrateKbps");
  return field(d, "/ingest/state") == "receiving" && field(d, "/ingest/video/codec") == "h264" &&
         field(d, "/ingest/video/width") == e.width &&
         field(d, "/ingest/video/height") == e.height &&
         number_near(field(d, "/ingest/video/fps"), e.fps, 0.1) &&
         field(d, "/ingest/audio/codec") == "aac" &&
         field(d, "/ingest/audio/sampleRate") == e.sample_rate &&
         field(d, "/ingest/audio/channels") == e.channels && kbps.is_number() &&
         kbps.get<double>() > 0;
}

// One CHECK per field, so a failure names what differs.
void check_ingest(const json& d, const ExpectedIngest& e) {
  INFO("stream details: " << d.dump());
  CHECK(field(d, "/status") == "live");
  CHECK(field(d, "/ingest/state") == "receiving");
  CHECK(field(d, "/ingest/video/codec") == "h264");
  CHECK(field(d, "/ingest/video/width") == e.width);
  CHECK(field(d, "/ingest/video/height") == e.height);
  CHECK(number_near(field(d, "/ingest/video/fps"), e.fps, 0.1));
  CHECK(field(d, "/ingest/audio/codec") == "aac");
  CHECK(field(d, "/ingest/audio/sampleRate") == e.sample_rate);
  CHECK(field(d, "/ingest/audio/channels") == e.channels);
  const json kbps = field(d, "/ingest/bitrateKbps");
  CHECK(kbps.is_number());
  if (kbps.is_number()) CHECK(kbps.get<double>() > 0);
}

// Polls until the stream reports the expected ingest, then checks each field.
void check_receiving(ApiClient& client, const std::string& id, const ExpectedIngest& e = {}) {
  const json d = client.wait_stream_details(
      id, [&e](const json& x) { return ingest_matches(x, e); }, ingest_report_timeout());
  check_ingest(d, e);
}

void check_interrupted(ApiClient& client, const std::string& id) {
  const json d = client.wait_stream_details(id, ingest_state_is("interrupted"), settle_timeout());
  INFO("stream details: " << d.dump());
  CHECK(field(d, "/ingest/state") == "interrupted");
  CHECK(field(d, "/status") == "live");
}

// The number of the last segment the stream's playlist lists (seg-000004.ts: 4),
// -1 when it lists none yet.
long last_listed_segment(ApiClient& client, const std::string& id) {
  const auto r = client.get("/hls/" + id + "/index.m3u8");
  if (r.status != 200) return -1;
  const auto at = r.raw.rfind("seg-");
  return at == std::string::npos ? -1 : std::stol(r.raw.substr(at + 4));
}

// `publisher` (sending for ever) is still connected and its media still arrives:
// it runs, the details say receiving, and the playlist lists a segment it did not
// list before (the fixture's keyframes are 2 s apart).
void check_still_publishing(ApiClient& client, const std::string& id, ChildProcess& publisher) {
  CHECK(publisher.running());
  const json d = client.stream_details(id);
  {
    INFO("stream details: " << d.dump());
    CHECK(field(d, "/ingest/state") == "receiving");
  }
  const long before = last_listed_segment(client, id);
  const auto deadline = Clock::now() + scaled(8s);
  long now = before;
  while (now <= before && Clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    now = last_listed_segment(client, id);
  }
  CHECK_MESSAGE(now > before, "no new segment after segment " << before << " within "
                                  << scaled(8s).count() << " ms: the publisher's media stopped");
  CHECK(publisher.running());
}

void check_healthy(ServerProcess& server, ApiClient& client) {
  CHECK(server.running());
  CHECK_STATUS(client.get("/healthz"), 200);
}

// ---- the server log -----------------------------------------------------------

// Log lines written after byte `from` that mention `needle`, HTTP request lines
// (which carry ids in their paths) left out.
std::vector<std::string> non_http_lines_with(const ServerProcess& server, const std::string& needle,
                                             std::size_t from) {
  const std::string text = server.log_text();
  std::istringstream in(from < text.size() ? text.substr(from) : std::string());
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos && line.find("/api/v1/") == std::string::npos) {
      lines.push_back(line);
    }
  }
  return lines;
}

// non_http_lines_with, polled until it finds `count` lines (at most settle_timeout()).
std::vector<std::string> wait_for_lines_with(const ServerProcess& server, const std::string& needle,
                                             std::size_t from, std::size_t count = 1) {
  const auto deadline = Clock::now() + settle_timeout();
  auto lines = non_http_lines_with(server, needle, from);
  while (lines.size() < count && Clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    lines = non_http_lines_with(server, needle, from);
  }
  return lines;
}

// The server logs the stream id when a publish starts (checked from `log_mark`,
// the log's size before the publisher started).
void check_publish_logged(const ServerProcess& server, const std::string& stream_id,
                          std::size_t log_mark) {
  const auto deadline = Clock::now() + settle_timeout();
  while (non_http_lines_with(server, stream_id, log_mark).empty() && Clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  INFO("log tail:\n" << server.log_tail(30));
  CHECK_MESSAGE(
      !non_http_lines_with(server, stream_id, log_mark).empty(),
      "no log line (other than HTTP requests) names stream " << stream_id << " after the publish");
}

// The whole log of the server never contains any of the keys used against it.
void check_log_has_no_keys(const ServerProcess& server, const std::vector<std::string>& keys) {
  const std::string text = server.log_text();
  for (std::size_t i = 0; i < keys.size(); ++i) {
    INFO("key #" << i << " (" << keys[i] << ")");
    CHECK(text.find(keys[i]) == std::string::npos);
  }
}

// ---- publishers ---------------------------------------------------------------

// ffmpeg sending the fixture at its own pace; warnings kept for failure messages.
std::vector<std::string> ffmpeg_publish_fixture(const std::string& url, bool loop_forever = false) {
  FfmpegPublish options;
  options.loop_forever = loop_forever;
  options.log_level = "warning";
  return ffmpeg_publish(url, options);
}

// rtmp-publish with a 5 s answer timeout (so a refusal is reported well within
// refusal_timeout()) and `options`.
std::vector<std::string> librtmp_publish(const std::string& url, RtmpPublish options = {}) {
  options.timeout_ms = 5000;
  return rtmp_publish(url, options);
}

// ---- raw TCP, for bytes no real client sends -----------------------------------

class TcpConnection {
 public:
  explicit TcpConnection(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      const std::string why = std::strerror(errno);
      ::close(fd_);
      throw std::runtime_error("connect to RTMP port " + std::to_string(port) + ": " + why);
    }
  }
  ~TcpConnection() { close(); }
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  // False when the server has reset or closed the connection.
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Up to `n` bytes, fewer when the connection ends or `timeout` passes.
  std::string read(std::size_t n, std::chrono::milliseconds timeout) {
    std::string out;
    const auto deadline = Clock::now() + timeout;
    while (out.size() < n) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      const ssize_t got = ::recv(fd_, buf, std::min(sizeof buf, n - out.size()), 0);
      if (got <= 0) break;
      out.append(buf, static_cast<std::size_t>(got));
    }
    return out;
  }

  // True when the server closes (EOF or reset) within `timeout`; data is discarded.
  bool wait_closed(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (true) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
      if (ready <= 0) continue;
      char buf[4096];
      const ssize_t got = ::recv(fd_, buf, sizeof buf, 0);
      if (got == 0) return true;
      if (got < 0 && errno != EINTR && errno != EAGAIN) return true;
    }
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::string random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

constexpr std::size_t handshake_size = 1536;  // C1, S1, C2, S2 (RTMP spec 5.2)

// PROXY protocol headers (haproxy's proxy-protocol.txt) naming `client` (an IPv4
// address) and `port` as the source of a connection to 127.0.0.1:1935.
std::string proxy_v1_header(const std::string& client, int port) {
  return "PROXY TCP4 " + client + " 127.0.0.1 " + std::to_string(port) + " 1935\r\n";
}
std::string proxy_v2_header(const std::string& client, int port) {
  // Signature, version 2 / PROXY, TCP over IPv4, 12 address bytes: source and
  // destination addresses, then ports, big-endian.
  std::string h("\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c", 16);
  in_addr source{};
  if (::inet_pton(AF_INET, client.c_str(), &source) != 1) throw std::invalid_argument(client);
  h.append(reinterpret_cast<const char*>(&source), 4);
  h.append("\x7f\x00\x00\x01", 4);
  h += static_cast<char>((port >> 8) & 0xff);
  h += static_cast<char>(port & 0xff);
  h.append("\x07\x8f", 2);  // 1935
  return h;
}

// nginx's stream module with proxy_protocol on, in little: accepts one connection
// on a port of its own, connects to `target_port` on 127.0.0.1, sends `header`
// there first, then copies bytes both ways until either side closes.
class ProxyRelay {
 public:
  ProxyRelay(std::uint16_t target_port, std::string header)
      : target_port_(target_port), header_(std::move(header)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) fail_errno("relay socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 1) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      fail_errno("relay listen");
    }
    port_ = ntohs(addr.sin_port);
    if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) fail_errno("relay pipe");
    thread_ = std::thread([this] { run(); });
  }
  ~ProxyRelay() {
    [[maybe_unused]] auto n = ::write(stop_pipe_[1], "x", 1);
    thread_.join();
    for (int fd : {listen_fd_, stop_pipe_[0], stop_pipe_[1]}) ::close(fd);
  }
  ProxyRelay(const ProxyRelay&) = delete;
  ProxyRelay& operator=(const ProxyRelay&) = delete;

  std::uint16_t port() const { return port_; }

 private:
  // Waits for `fd` to be readable; false when the relay is being stopped.
  bool wait_readable(int fd, int other = -1) {
    pollfd p[3] = {{stop_pipe_[0], POLLIN, 0}, {fd, POLLIN, 0}, {other, POLLIN, 0}};
    while (::poll(p, other < 0 ? 2 : 3, -1) < 0) {
      if (errno != EINTR) return false;
    }
    return (p[0].revents & POLLIN) == 0;
  }

  static bool send_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // One read from `from` written whole to `to`; false at the end of either.
  static bool copy(int from, int to) {
    char buf[16384];
    const ssize_t n = ::recv(from, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) return true;
    return n > 0 && send_all(to, std::string_view(buf, static_cast<std::size_t>(n)));
  }

  void run() {
    if (!wait_readable(listen_fd_)) return;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) return;
    const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(target_port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (server >= 0 && ::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        send_all(server, header_)) {
      while (wait_readable(client, server)) {
        pollfd p[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
        if (::poll(p, 2, 0) < 0) continue;
        if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !copy(client, server)) break;
        if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !copy(server, client)) break;
      }
    }
    if (server >= 0) ::close(server);
    ::close(client);
  }

  std::uint16_t target_port_;
  std::string header_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  int stop_pipe_[2] = {-1, -1};
  std::thread thread_;
};


// ---- a raw RTMP client, for what no real publisher sends ------------------------

// AMF0 values (AMF0 specification, 2.2-2.12), as bytes.
std::string be_bytes(std::uint64_t v, int n) {
  std::string out;
  for (int i = n - 1; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}
std::string amf_string(std::string_view s) {
  std::string out(1, '\x02');
  out += be_bytes(s.size(), 2);
  out += s;
  return out;
}
std::string amf_number(double d) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &d, sizeof bits);
  return std::string(1, '\0') + be_bytes(bits, 8);
}
std::string amf_null() { return "\x05"; }
std::string amf_object(const std::vector<std::pair<std::string, std::string>>& properties) {
  std::string out = "\x03";
  for (const auto& [name, value] : properties) out += be_bytes(name.size(), 2) + name + value;
  return out + std::string("\x00\x00\x09", 3);
}

// One message as chunks (RTMP spec 5.3.1): a type 0 chunk on `csid` (< 64), then
// type 3 continuations, `chunk_size` payload bytes each.
std::string rtmp_message(int csid, int type, std::uint32_t stream_id, std::string_view payload,
                         std::size_t chunk_size = 128) {
  std::string out(1, static_cast<char>(csid));
  out += be_bytes(0, 3) + be_bytes(payload.size(), 3) + static_cast<char>(type);
  for (int i = 0; i < 4; ++i) out += static_cast<char>((stream_id >> (8 * i)) & 0xff);  // little-endian
  for (std::size_t at = 0; at == 0 || at < payload.size(); at += chunk_size) {
    if (at > 0) out += static_cast<char>(0xc0 | csid);
    out += payload.substr(at, chunk_size);
    if (payload.empty()) break;
  }
  return out;
}

// Set Chunk Size (type 1 on csid 2): what the chunks after it carry.
std::string set_chunk_size(std::uint32_t size) { return rtmp_message(2, 1, 0, be_bytes(size, 4)); }

// Completes the simple handshake (C0 C1, S0 S1 S2, C2); false if the server
// does not answer it.
bool rtmp_handshake(TcpConnection& c) {
  std::string c0c1 = random_bytes(1 + handshake_size, 21);
  c0c1[0] = '\x03';
  if (!c.send(c0c1)) return false;
  const std::string s0s1s2 = c.read(1 + 2 * handshake_size, close_timeout());
  if (s0s1s2.size() != 1 + 2 * handshake_size) return false;
  return c.send(s0s1s2.substr(1, handshake_size));  // C2 echoes S1
}

// What a publisher sends up to publish, as ffmpeg orders it: connect (to `app`),
// createStream, publish(`key`).
std::string connect_and_publish(const std::string& app, const std::string& key) {
  const std::string connect = amf_string("connect") + amf_number(1) +
                              amf_object({{"app", amf_string(app)},
                                          {"type", amf_string("nonprivate")},
                                          {"tcUrl", amf_string("rtmp://127.0.0.1/" + app)}});
  const std::string create = amf_string("createStream") + amf_number(2) + amf_null();
  const std::string publish = amf_string("publish") + amf_number(3) + amf_null() + amf_string(key) +
                              amf_string("live");
  return rtmp_message(3, 20, 0, connect) + rtmp_message(3, 20, 0, create) + rtmp_message(4, 20, 1, publish);
}

// Reads what the server sends until `needle` is among it (false at the timeout
// or when the connection ends first).
bool read_until(TcpConnection& c, const std::string& needle, std::chrono::milliseconds timeout) {
  std::string got;
  const auto deadline = Clock::now() + timeout;
  while (got.find(needle) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    const std::string more = c.read(4096, std::min(left, std::chrono::milliseconds(100)));
    got += more;
  }
  return true;
}

// A raw connection that has completed the handshake and, with a key, published.
void open_publisher(TcpConnection& c, const std::string& key) {
  REQUIRE(rtmp_handshake(c));
  REQUIRE(c.send(connect_and_publish("live", key)));
  REQUIRE_MESSAGE(read_until(c, "NetStream.Publish.Start", close_timeout()),
                  "the raw publisher was not answered NetStream.Publish.Start");
}

// ---- the server's memory -------------------------------------------------------

// A "Vm...:" figure of /proc/<pid>/status, in bytes (VmRSS: resident now; VmHWM:
// the peak of it).
std::uint64_t proc_status_bytes(pid_t pid, const std::string& field) {
  const std::string text = read_whole_file("/proc/" + std::to_string(pid) + "/status");
  const auto at = text.find(field + ":");
  REQUIRE(at != std::string::npos);
  return std::stoull(text.substr(at + field.size() + 1)) * 1024;  // given in kB
}

// souk_refused_total{reason} as /metrics shows it (0 when absent).
double refused(ApiClient& client, const std::string& reason) {
  const auto r = client.get("/metrics");
  const std::string line = "souk_refused_total{reason=\"" + reason + "\"} ";
  const auto at = r.raw.find(line);
  return at == std::string::npos ? 0 : std::stod(r.raw.substr(at + line.size()));
}

// Sends `bytes` over `c` in one go and returns whether the server took it all.
// Unfinished messages on 59 chunk streams: each announced at `announced` bytes and
// sent one chunk of `chunk` bytes, so none ever completes (issue 21).
bool send_unfinished_messages(TcpConnection& c, std::uint32_t announced, std::size_t chunk) {
  if (!c.send(set_chunk_size(static_cast<std::uint32_t>(chunk)))) return false;
  const std::string body(chunk, '\x17');
  for (int csid = 3; csid < 3 + 59; ++csid) {
    std::string header(1, static_cast<char>(csid));
    header += be_bytes(0, 3) + be_bytes(announced, 3) + '\x09' + std::string("\x01\x00\x00\x00", 4);
    if (!c.send(header) || !c.send(body)) return false;
  }
  return true;
}
}  // namespace

TEST_CASE("ingest: ffmpeg publishes an FLV file; details show what arrives, then interrupted") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());
  const auto& media = media_fixtures();
  CHECK(media.seconds == doctest::Approx(6.0).epsilon(0.05));
  const Account seller = client.register_user("seller");
  const Live live = new_live_stream(client, seller, server);
  CHECK(field(client.stream_details(live.id), "/ingest/state") == "waiting");

  const auto log_mark = server.log_text().size();
  ChildProcess publisher(ffmpeg_publish_fixture(live.publish_url));
  check_receiving(client, live.id);
  check_publish_logged(server, live.id, log_mark);

  const auto result = publisher.wait(publish_timeout());
  INFO("publisher: " << result.describe());
  CHECK(result.exit_code == 0);
  check_interrupted(client, live.id);
  check_log_has_no_keys(server, {live.stream_key});
}

TEST_CASE("ingest: ffmpeg encoding live publishes") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());
  const Account seller = client.register_user("seller");
  const Live live = new_live_stream(client, seller, server);

  // The issue's command: no zerolatency tune, AAC at ffmpeg's defaults, and sine's
  // defaults, 44.1 kHz mono, which the details should say (so nothing is taken for
  // granted from the fixture).
  ChildProcess publisher(ffmpeg_encode_test_pattern(live.publish_url, {.seconds = 4,
                                                                       .audio_source = "sine",
                                                                       .video_options = {},
                                                                       .audio_options = {},
                                                                       .log_level = "warning"}));
  ExpectedIngest expected;
  expected.sample_rate = 44100;
  expected.channels = 1;
  check_receiving(client, live.id, expected);

  const auto result = publisher.wait(publish_timeout());
  INFO("publisher: " << result.describe());
  CHECK(result.exit_code == 0);
  check_interrupted(client, live.id);
  check_log_has_no_keys(server, {live.stream_key});
}

TEST_CASE("ingest: rtmp-publish (librtmp, as OBS) publishes paced and unpaced on one key") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());
  const Account seller = client.register_user("seller");
  const Live live = new_live_stream(client, seller, server);

  // Paced like a live encoder, with librtmp's 128-byte chunks and RTMP_Write's
  // framing (@setDataFrame, type 1 headers on one chunk stream).
  const auto log_mark = server.log_text().size();
  ChildProcess paced(librtmp_publish(live.publish_url, {.realtime = true}));
  check_receiving(client, live.id);
  check_publish_logged(server, live.id, log_mark);
  const auto paced_result = paced.wait(publish_timeout());
  {
    INFO("rtmp-publish --realtime: " << paced_result.describe());
    CHECK(paced_result.exit_code == 0);
  }
  check_interrupted(client, live.id);

  // The publisher left cleanly, so the key takes a new one at once; this one sends
  // the whole file as fast as the server reads it, in 4096-byte chunks.
  const auto burst = run_process(librtmp_publish(live.publish_url, {.chunk_size = 4096}), publish_timeout());
  {
    INFO("rtmp-publish: " << burst.describe());
    CHECK(burst.exit_code == 0);
  }
  check_interrupted(client, live.id);
  check_healthy(server, client);
  check_log_has_no_keys(server, {live.stream_key});
}

TEST_CASE("ingest: a wrong key, an ended stream's key and a scheduled stream are refused") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());
  const Account seller = client.register_user("seller");
  const Live live = new_live_stream(client, seller, server);

  // A wrong key as close to the live one as can be: its last character changed.
  std::string wrong = live.stream_key;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  const Live ended = new_live_stream(client, seller, server);
  CHECK_STATUS(client.end_stream(ended), 200);
  // A scheduled stream has no key yet: its id is the only name a client could try.
  const std::string scheduled_id = client.create_stream(seller);

  struct Attempt {
    const char* what;
    std::string key;
  };
  const std::vector<Attempt> attempts = {{"wrong key", wrong},
                                         {"key of an ended stream", ended.stream_key},
                                         {"id of a scheduled stream", scheduled_id}};
  for (const auto& a : attempts) {
    INFO(a.what);
    const std::string url = live.rtmp_url + "/" + a.key;
    const auto ffmpeg = run_process(ffmpeg_publish_fixture(url), refusal_timeout());
    {
      INFO("ffmpeg: " << ffmpeg.describe());
      CHECK_FALSE(ffmpeg.timed_out);
      CHECK(ffmpeg.exit_code != 0);
    }
    const auto librtmp = run_process(librtmp_publish(url), refusal_timeout());
    {
      INFO("rtmp-publish: " << librtmp.describe());
      CHECK(librtmp.exit_code == 3);
      CHECK(librtmp.err.find("NetStream.Publish.BadName") != std::string::npos);
    }
    check_healthy(server, client);
  }

  // Nothing reached the streams.
  const json l = client.stream_details(live.id);
  CHECK(field(l, "/status") == "live");
  CHECK(field(l, "/ingest/state") == "waiting");
  CHECK(field(client.stream_details(ended.id), "/status") == "ended");
  CHECK(field(client.stream_details(scheduled_id), "/status") == "scheduled");
  check_log_has_no_keys(server, {live.stream_key, wrong, ended.stream_key});
}

TEST_CASE("ingest: a second publisher on a key in use is refused; the first carries on") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());
  const Account seller = client.register_user("seller");
  const Live live = new_live_stream(client, seller, server);

  // The first sends until killed: a publisher that ran out of file while the others
  // were starting would free the key (a clean leave), and they would be let in.
  ChildProcess first(ffmpeg_publish_fixture(live.publish_url, /*loop_forever=*/true));
  check_receiving(client, live.id);
  const auto log_mark = server.log_text().size();

  const auto second = run_process(ffmpeg_publish_fixture(live.publish_url), refusal_timeout());
  {
    INFO("second ffmpeg: " << second.describe());
    CHECK_FALSE(second.timed_out);
    CHECK(second.exit_code != 0);
  }
  const auto third = run_process(librtmp_publish(live.publish_url), refusal_timeout());
  {
    INFO("rtmp-publish: " << third.describe());
    CHECK(third.exit_code == 3);
    CHECK(third.err.find("NetStream.Publish.BadName") != std::string::npos);
  }
  check_still_publishing(client, live.id, first);
  // Refused, not a takeover: the first was never kicked.
  CHECK(non_http_lines_with(server, "replaced by a new publisher", log_mark).empty());
  CHECK(wait_for_lines_with(server, "another publisher is sending", log_mark, 2).size() == 2);

  first.send_signal(SIGKILL);
  check_healthy(server, client);
  check_log_has_no_keys(server, {live.stream_key});
}

TEST_CASE("ingest: hostile bytes on the RTMP port get closed; the live publisher carries on") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());
  const Account seller = client.register_user("seller");
  const Live live = new_live_stream(client, seller, server);

  // Sending until killed, so it is still live when the hostile connections are
  // done, however long they take.
  ChildProcess publisher(ffmpeg_publish_fixture(live.publish_url, /*loop_forever=*/true));
  check_receiving(client, live.id);

  {
    // (a) 4 KiB of noise. Its first byte is the handshake version; it is not 3 here
    // (were it 3, the rest would be read as C1, C2 and chunks announcing messages
    // that never complete, which a server can only wait out).
    std::string noise = random_bytes(4096, 20261124);
    noise[0] = '\x16';  // what a TLS ClientHello starts with
    TcpConnection c(server.rtmp_port());
    c.send(noise);
    CHECK_MESSAGE(c.wait_closed(close_timeout()), "4 KiB of random bytes: the server kept the connection open");
  }
  {
    // (b) A handshake cut short: C0 and 100 bytes of C1, then we hang up.
    TcpConnection c(server.rtmp_port());
    std::string cut = random_bytes(1 + 100, 7);
    cut[0] = '\x03';
    c.send(cut);
    c.close();
  }
  {
    // (c) A valid handshake, then chunks that make no sense.
    TcpConnection c(server.rtmp_port());
    std::string c0c1 = random_bytes(1 + handshake_size, 99);
    c0c1[0] = '\x03';
    REQUIRE(c.send(c0c1));
    const std::string s0s1s2 = c.read(1 + 2 * handshake_size, close_timeout());
    REQUIRE_MESSAGE(s0s1s2.size() == 1 + 2 * handshake_size,
                    "S0+S1+S2: got " << s0s1s2.size() << " bytes");
    CHECK(s0s1s2[0] == '\x03');
    c.send(s0s1s2.substr(1, handshake_size));  // C2 echoes S1
    // A type 0 chunk on chunk stream 3: timestamp 0, length 64, type 20 (AMF0
    // command), message stream 0; its body is 0xFF bytes, no AMF0 marker at all.
    std::string garbage("\x03\x00\x00\x00\x00\x00\x40\x14\x00\x00\x00\x00", 12);
    garbage += std::string(64, '\xff');
    garbage += random_bytes(1024, 42);
    c.send(garbage);
    CHECK_MESSAGE(c.wait_closed(close_timeout()),
                  "garbage chunks after the handshake: the server kept the "
                  "connection open");
  }

  check_healthy(server, client);
  check_still_publishing(client, live.id, publisher);
  publisher.send_signal(SIGKILL);
  check_healthy(server, client);
  check_log_has_no_keys(server, {live.stream_key});
}

TEST_CASE("ingest: ending the stream disconnects its publisher") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());
  const Account seller = client.register_user("seller");
  const Live a = new_live_stream(client, seller, server);
  const Live b = new_live_stream(client, seller, server);

  // Publishers that would go on for ever: ffmpeg looping the file, and librtmp.
  ChildProcess ffmpeg(ffmpeg_publish_fixture(a.publish_url, /*loop_forever=*/true));
  ChildProcess librtmp(librtmp_publish(b.publish_url, {.realtime = true, .loop = 0}));
  for (const auto* s : {&a, &b}) {
    const json d =
        client.wait_stream_details(s->id, ingest_state_is("receiving"), ingest_report_timeout());
    INFO("stream details: " << d.dump());
    CHECK(field(d, "/ingest/state") == "receiving");
  }

  const auto end_a = Clock::now();
  CHECK_STATUS(client.end_stream(a), 200);
  const auto end_b = Clock::now();
  CHECK_STATUS(client.end_stream(b), 200);

  const auto ra = ffmpeg.wait(scaled(10s));
  {
    INFO("ffmpeg: " << ra.describe());
    CHECK_FALSE(ra.timed_out);
    CHECK(ra.ended - end_a <= end_disconnect_limit());
  }
  const auto rb = librtmp.wait(scaled(10s));
  {
    INFO("rtmp-publish: " << rb.describe());
    CHECK(rb.exit_code == 3);
    CHECK(rb.ended - end_b <= end_disconnect_limit());
  }
  check_healthy(server, client);
  check_log_has_no_keys(server, {a.stream_key, b.stream_key});
}

TEST_CASE("ingest: a PROXY protocol header from a peer not in --trusted-proxies is refused and logged") {
  auto& server = test_case_server();  // trusts no proxy
  ApiClient client(server.http_port());
  const Live live = new_live_stream(client, client.register_user("seller"), server);
  const std::string logged = "a PROXY protocol header from a peer not in --trusted-proxies";

  struct Header {
    const char* what;
    std::string bytes;
  };
  for (const auto& h : {Header{"v1 (text)", proxy_v1_header("203.0.113.7", 4321)},
                        Header{"v2 (binary)", proxy_v2_header("203.0.113.8", 4322)}}) {
    INFO("PROXY " << h.what);
    const auto log_mark = server.log_text().size();
    // The header, then C0 and C1 as a client behind the proxy would send them.
    TcpConnection c(server.rtmp_port());
    std::string c0c1 = random_bytes(1 + handshake_size, 5);
    c0c1[0] = '\x03';
    c.send(h.bytes + c0c1);
    // No S0 comes back: the connection is closed instead.
    CHECK(c.read(1, close_timeout()).empty());
    CHECK(c.wait_closed(close_timeout()));
    const auto lines = wait_for_lines_with(server, logged, log_mark);
    INFO("log tail:\n" << server.log_tail(10));
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].find("rtmp protocol error") != std::string::npos);
    // The address the header named is not taken for the peer's.
    CHECK(lines[0].find("remote=127.0.0.1:") != std::string::npos);
  }
  // Nothing reached the stream; a publisher without a header is still welcome.
  CHECK(field(client.stream_details(live.id), "/ingest/state") == "waiting");
  const auto plain = run_process(librtmp_publish(live.publish_url), publish_timeout());
  INFO("rtmp-publish: " << plain.describe());
  CHECK(plain.exit_code == 0);
  check_healthy(server, client);
}

TEST_CASE("ingest: a trusted proxy's PROXY header (v1 or v2) names the publisher; without one it is the peer") {
  ServerOptions options;
  options.extra_args = {"--trusted-proxies", "127.0.0.1"};
  auto& server = test_case_server("trusted", options);
  ApiClient client(server.http_port());
  const Account seller = client.register_user("seller");

  SUBCASE("ffmpeg through a relay that sends PROXY v1") {
    const Live live = new_live_stream(client, seller, server);
    ProxyRelay relay(server.rtmp_port(), proxy_v1_header("203.0.113.7", 4321));
    const auto log_mark = server.log_text().size();
    ChildProcess publisher(ffmpeg_publish_fixture(
        "rtmp://127.0.0.1:" + std::to_string(relay.port()) + "/live/" + live.stream_key));
    check_receiving(client, live.id);
    const auto started = wait_for_lines_with(server, "rtmp publish started", log_mark);
    INFO("log tail:\n" << server.log_tail(10));
    REQUIRE(started.size() == 1);
    CHECK(started[0].find("remote=203.0.113.7:4321") != std::string::npos);
    const auto result = publisher.wait(publish_timeout());
    INFO("ffmpeg: " << result.describe());
    CHECK(result.exit_code == 0);
  }
  SUBCASE("rtmp-publish through a relay that sends PROXY v2") {
    const Live live = new_live_stream(client, seller, server);
    ProxyRelay relay(server.rtmp_port(), proxy_v2_header("203.0.113.8", 4322));
    const auto log_mark = server.log_text().size();
    const auto result = run_process(
        librtmp_publish("rtmp://127.0.0.1:" + std::to_string(relay.port()) + "/live/" + live.stream_key),
        publish_timeout());
    INFO("rtmp-publish: " << result.describe());
    CHECK(result.exit_code == 0);
    INFO("log tail:\n" << server.log_tail(10));
    const auto started = wait_for_lines_with(server, "rtmp publish started", log_mark);
    REQUIRE(started.size() == 1);
    CHECK(started[0].find("remote=203.0.113.8:4322") != std::string::npos);
  }
  SUBCASE("rtmp-publish straight to the port, no header") {
    const Live live = new_live_stream(client, seller, server);
    const auto log_mark = server.log_text().size();
    const auto result = run_process(librtmp_publish(live.publish_url), publish_timeout());
    INFO("rtmp-publish: " << result.describe());
    CHECK(result.exit_code == 0);
    INFO("log tail:\n" << server.log_tail(10));
    const auto started = wait_for_lines_with(server, "rtmp publish started", log_mark);
    REQUIRE(started.size() == 1);
    CHECK(started[0].find("remote=127.0.0.1:") != std::string::npos);
  }
}

// Issue 21, finding 1: one connection that never sent connect announced large
// messages on 59 chunk streams and sent all of each but its end: the server held
// every byte (~1 GB at 16 MiB each), until the socket closed. After a publish
// the same held up to --rtmp-max-partial-bytes; and a data message of nulls
// decoded into ~40 bytes a byte (1.2 GB for 16 MB). Each attack here sends
// 236 MB (a 3 MB onMetaData for the last), which the server used to keep or
// decode; the bound is 64 MiB of RSS, far above what the server needs for it
// now and far below what it used to take.
TEST_CASE("ingest: a client cannot make the server hold or decode large messages; the live publisher carries on") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());
  const Account seller = client.register_user("seller");
  const Live live = new_live_stream(client, seller, server);
  ChildProcess publisher(ffmpeg_publish_fixture(live.publish_url, /*loop_forever=*/true));
  check_receiving(client, live.id);
  constexpr std::uint64_t bound = std::uint64_t{64} * 1024 * 1024;
  constexpr std::size_t chunk = std::size_t{4} * 1024 * 1024;
  constexpr std::uint32_t announced = 4 * 1024 * 1024 + 1024;  // each message one chunk short of whole

  {
    // First, so the peak it would reach is not hidden by an earlier one.
    INFO("after a publish: a 3 MB onMetaData of nulls is ignored, not decoded");
    const Live attacker = new_live_stream(client, seller, server);
    const double refused_before = refused(client, "rtmp_metadata_size");
    TcpConnection c(server.rtmp_port());
    open_publisher(c, attacker.stream_key);
    const auto log_mark = server.log_text().size();
    constexpr std::uint32_t nulls = 3'000'000;
    std::string payload = amf_string("@setDataFrame") + amf_string("onMetaData") + "\x0a" + be_bytes(nulls, 4);
    payload.append(nulls, '\x05');
    const auto peak_before = proc_status_bytes(server.pid(), "VmHWM");
    REQUIRE(c.send(set_chunk_size(static_cast<std::uint32_t>(chunk)) + rtmp_message(5, 18, 1, payload, chunk)));
    const auto ignored = wait_for_lines_with(server, "rtmp data message ignored: too large", log_mark);
    const auto peak_after = proc_status_bytes(server.pid(), "VmHWM");
    CAPTURE(peak_before);
    CAPTURE(peak_after);
    CHECK(ignored.size() == 1);
    CHECK(peak_after < peak_before + bound);
    CHECK(refused(client, "rtmp_metadata_size") >= refused_before + 1);
    // Ignored, not a reason to drop the publisher.
    CHECK_FALSE(c.wait_closed(200ms));
  }

  {
    INFO("before connect: messages over 64 KiB are refused at their header");
    const double refused_before = refused(client, "rtmp_message_size");
    const auto rss_before = proc_status_bytes(server.pid(), "VmRSS");
    TcpConnection c(server.rtmp_port());
    REQUIRE(rtmp_handshake(c));
    send_unfinished_messages(c, announced, chunk);
    std::this_thread::sleep_for(300ms);  // whatever was sent is read by now
    const auto rss_after = proc_status_bytes(server.pid(), "VmRSS");
    CAPTURE(rss_before);
    CAPTURE(rss_after);
    CHECK(rss_after < rss_before + bound);
    CHECK(c.wait_closed(close_timeout()));
    CHECK(refused(client, "rtmp_message_size") >= refused_before + 1);
  }
  {
    INFO("after a publish: unfinished messages hold at most --rtmp-max-partial-bytes");
    const Live attacker = new_live_stream(client, seller, server);
    const double refused_before = refused(client, "rtmp_partial_bytes");
    TcpConnection c(server.rtmp_port());
    open_publisher(c, attacker.stream_key);
    const auto rss_before = proc_status_bytes(server.pid(), "VmRSS");
    send_unfinished_messages(c, announced, chunk);
    std::this_thread::sleep_for(300ms);
    const auto rss_after = proc_status_bytes(server.pid(), "VmRSS");
    CAPTURE(rss_before);
    CAPTURE(rss_after);
    CHECK(rss_after < rss_before + bound);
    CHECK(c.wait_closed(close_timeout()));
    CHECK(refused(client, "rtmp_partial_bytes") >= refused_before + 1);
  }
  check_healthy(server, client);
  check_still_publishing(client, live.id, publisher);
  publisher.send_signal(SIGKILL);
  check_log_has_no_keys(server, {live.stream_key});
}

// Issue 21, finding 8: 50 sockets that completed the handshake and said nothing
// held every RTMP slot for 30 s (the idle timeout). A deadline from accept to an
// accepted publish (2 s here, 10 s by default) closes them.
TEST_CASE("ingest: connections that never publish are closed at the publish deadline; a publisher gets in") {
  ServerOptions options;
  options.extra_args = {"--rtmp-max-connections", "50", "--rtmp-max-per-address", "100",
                        "--rtmp-publish-deadline", "2"};
  auto& server = test_case_server("deadline", options);
  ApiClient client(server.http_port());
  const Live live = new_live_stream(client, client.register_user("seller"), server);
  const double refused_before = refused(client, "rtmp_publish_deadline");

  const auto started = Clock::now();
  std::vector<std::unique_ptr<TcpConnection>> silent;
  for (int i = 0; i < 50; ++i) {
    silent.push_back(std::make_unique<TcpConnection>(server.rtmp_port()));
    REQUIRE(rtmp_handshake(*silent.back()));
  }
  {
    // Every slot is taken: the next is closed at accept.
    TcpConnection over(server.rtmp_port());
    CHECK(over.wait_closed(close_timeout()));
  }
  // Closed at the deadline (checked each second), not at the 30 s idle timeout.
  for (auto& c : silent) CHECK(c->wait_closed(scaled(5s)));
  CHECK(Clock::now() - started < scaled(6s));
  CHECK(refused(client, "rtmp_publish_deadline") >= refused_before + 50);

  const auto result = run_process(librtmp_publish(live.publish_url), publish_timeout());
  INFO("rtmp-publish: " << result.describe());
  CHECK(result.exit_code == 0);
  check_healthy(server, client);
}

// Issue 21, finding 8: one address may hold --rtmp-max-per-address connections
// (16 by default), so one client cannot take all of --rtmp-max-connections.
TEST_CASE("ingest: connections over the per-address cap are closed at accept; a freed slot takes a publisher") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());
  const Live live = new_live_stream(client, client.register_user("seller"), server);
  const double refused_before = refused(client, "rtmp_per_address");

  std::vector<std::unique_ptr<TcpConnection>> held;
  for (int i = 0; i < 16; ++i) {
    held.push_back(std::make_unique<TcpConnection>(server.rtmp_port()));
    REQUIRE(rtmp_handshake(*held.back()));
  }
  TcpConnection over(server.rtmp_port());
  CHECK(over.wait_closed(close_timeout()));
  CHECK(refused(client, "rtmp_per_address") == refused_before + 1);

  held.pop_back();  // a slot of this address is free again, once the server sees it close
  std::this_thread::sleep_for(500ms);
  const auto result = run_process(librtmp_publish(live.publish_url), publish_timeout());
  INFO("rtmp-publish: " << result.describe());
  CHECK(result.exit_code == 0);
  check_healthy(server, client);
}

// Issue 21, finding 12: OBS users paste rtmp://host/live/KEY into the Server
// field; librtmp then connects to the app "live/KEY", which the log showed whole.
TEST_CASE("ingest: a stream key pasted into the server URL is refused and never logged") {
  auto& server = test_case_server();
  ApiClient client(server.http_port());
  const Live live = new_live_stream(client, client.register_user("seller"), server);
  const auto log_mark = server.log_text().size();

  // librtmp takes rtmp://host/app/instance/playpath: app "live/KEY", play path KEY.
  const auto result = run_process(librtmp_publish(live.rtmp_url + "/" + live.stream_key + "/" + live.stream_key),
                                  refusal_timeout());
  {
    INFO("rtmp-publish: " << result.describe());
    CHECK_FALSE(result.timed_out);
    CHECK(result.exit_code != 0);
  }
  const auto refused_lines = wait_for_lines_with(server, "rtmp connect refused", log_mark);
  INFO("log tail:\n" << server.log_tail(10));
  REQUIRE(refused_lines.size() == 1);
  // The app as far as its first 4 characters after "live/", then an ellipsis.
  CHECK(refused_lines[0].find("live/" + live.stream_key.substr(0, 4) + "\u2026") != std::string::npos);
  check_log_has_no_keys(server, {live.stream_key});
  CHECK(field(client.stream_details(live.id), "/ingest/state") == "waiting");
}
