// The webhook HTTP client against peers the test plays itself on 127.0.0.1
// (raw sockets, port 0): a 3xx is an outcome and its Location is not followed,
// a peer that never answers ends the request at its deadline, the requests of one
// post_all are open together, and cancel() ends them as cancelled.
#include "souk/webhooks/http_client.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using souk::webhooks::HttpPoster;
using souk::webhooks::PostOutcome;
using souk::webhooks::PostRequest;

namespace {

// Every wait on the peer's side is bounded by this, so a client that misbehaves
// fails the test rather than hanging it.
constexpr int peer_timeout_ms = 10000;

// An owned file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&&) = delete;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// True when `fd` is readable (or a listener has a connection waiting) within `timeout_ms`.
bool readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

// A listening socket on 127.0.0.1, on a port the kernel picked.
class Listener {
 public:
  Listener() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    if (fd_.get() < 0) throw std::runtime_error("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_.get(), 64) != 0 ||
        ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("bind/listen");
    }
    port_ = ntohs(addr.sin_port);
  }
  std::uint16_t port() const { return port_; }
  int fd() const { return fd_.get(); }
  // The next connection (fd -1 if none came within the peer timeout).
  Fd accept() const {
    if (!readable(fd_.get(), peer_timeout_ms)) return Fd();
    return Fd(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  }

 private:
  Fd fd_;
  std::uint16_t port_ = 0;
};

// Reads one request (header and Content-Length body); "" if it did not come whole.
std::string read_request(int fd) {
  std::string in;
  char buf[4096];
  std::size_t need = std::string::npos;
  while (need == std::string::npos || in.size() < need) {
    if (!readable(fd, peer_timeout_ms)) return "";
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return "";
    in.append(buf, static_cast<std::size_t>(n));
    const auto end = in.find("\r\n\r\n");
    if (need == std::string::npos && end != std::string::npos) {
      const auto at = in.find("Content-Length: ");
      const auto length = at == std::string::npos ? 0 : std::stoul(in.substr(at + 16));
      need = end + 4 + length;
    }
  }
  return in;
}

void write_all(int fd, const std::string& text) {
  std::size_t sent = 0;
  while (sent < text.size()) {
    const auto n = ::send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

// Waits until the client closes `fd` (reads to EOF); false if it stays open past the peer timeout.
bool wait_closed(int fd) {
  char buf[4096];
  for (;;) {
    if (!readable(fd, peer_timeout_ms)) return false;
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return true;
  }
}

PostRequest request_to(std::uint16_t port, const std::string& body = "{}") {
  PostRequest r;
  r.url = souk::webhooks::parse_http_url("http://127.0.0.1:" + std::to_string(port) + "/hooks");
  r.body = body;
  r.headers = {{"Content-Type", "application/json"}};
  return r;
}

using Clock = std::chrono::steady_clock;

}  // namespace

TEST_CASE("webhook client: a 3xx is the outcome and its Location is not followed") {
  Listener receiver, behind;
  for (const int status : {301, 302, 303, 307, 308}) {
    CAPTURE(status);
    std::string request;
    std::thread peer([&] {
      const auto c = receiver.accept();
      if (c.get() < 0) return;
      request = read_request(c.get());
      write_all(c.get(), "HTTP/1.1 " + std::to_string(status) +
                             " Moved\r\nLocation: http://127.0.0.1:" +
                             std::to_string(behind.port()) + "/hooks\r\nContent-Length: 0\r\n\r\n");
      wait_closed(c.get());
    });
    HttpPoster poster;
    const auto outcomes = poster.post_all({request_to(receiver.port(), R"({"n":1})")}, 10s);
    peer.join();
    CHECK(request.rfind("POST /hooks HTTP/1.1\r\n", 0) == 0);
    REQUIRE(outcomes.size() == 1);
    REQUIRE(outcomes[0].status.has_value());
    CHECK(*outcomes[0].status == status);
    CHECK(outcomes[0].error.empty());
    CHECK_FALSE(outcomes[0].cancelled);
    // A client that followed would have connected before post_all returned.
    CHECK_FALSE(readable(behind.fd(), 0));
  }
}

TEST_CASE("webhook client: a peer that never answers ends the request at its deadline, timed out") {
  Listener receiver;
  const auto deadline = 300ms;
  bool got_request = false, closed = false;
  Clock::time_point arrived, closed_at;
  std::thread peer([&] {
    const auto c = receiver.accept();
    if (c.get() < 0) return;
    got_request = !read_request(c.get()).empty();
    arrived = Clock::now();
    closed = wait_closed(c.get());  // no answer: the client gives up and closes
    closed_at = Clock::now();
  });
  HttpPoster poster;
  const auto started = Clock::now();
  const auto outcomes = poster.post_all({request_to(receiver.port())}, deadline);
  const auto elapsed = Clock::now() - started;
  peer.join();

  CHECK(got_request);
  CHECK(closed);
  REQUIRE(outcomes.size() == 1);
  CHECK_FALSE(outcomes[0].status.has_value());
  CHECK(outcomes[0].error == "timed out");
  CHECK_FALSE(outcomes[0].cancelled);
  // Not before the deadline; the bound above is loose (a loaded or instrumented run).
  CHECK(outcomes[0].duration >= deadline);
  CHECK(elapsed >= deadline);
  CHECK(elapsed < deadline + 5s);
  CHECK(closed_at - arrived < deadline + 5s);
}

TEST_CASE("webhook client: the requests of one post_all are all open at once") {
  // The peer answers none until it holds all three: a client sending them one
  // after another would never get there (and the peer gives up after its timeout).
  Listener receiver;
  constexpr int count = 3;
  int held = 0;
  std::thread peer([&] {
    std::vector<Fd> connections;
    for (int i = 0; i < count; ++i) {
      auto c = receiver.accept();
      if (c.get() < 0 || read_request(c.get()).empty()) return;
      connections.push_back(std::move(c));
    }
    held = static_cast<int>(connections.size());
    for (const auto& c : connections) write_all(c.get(), "HTTP/1.1 204 No Content\r\n\r\n");
    for (const auto& c : connections) wait_closed(c.get());
  });
  HttpPoster poster;
  const auto outcomes =
      poster.post_all(std::vector<PostRequest>(count, request_to(receiver.port())), 30s);
  peer.join();
  CHECK(held == count);
  REQUIRE(outcomes.size() == count);
  for (const auto& o : outcomes) {
    CHECK(o.status == 204);
    CHECK(o.error.empty());
  }
}

TEST_CASE("webhook client: cancel() ends the requests in flight as cancelled, at once") {
  Listener receiver;
  HttpPoster poster;
  bool got_request = false, closed = false;
  std::thread peer([&] {
    const auto c = receiver.accept();
    if (c.get() < 0) return;
    got_request = !read_request(c.get()).empty();
    poster.cancel();  // the request is in flight: it arrived and is not answered
    closed = wait_closed(c.get());
  });
  const auto started = Clock::now();
  const auto outcomes = poster.post_all({request_to(receiver.port())}, 60s);
  const auto elapsed = Clock::now() - started;
  peer.join();

  CHECK(got_request);
  CHECK(closed);
  REQUIRE(outcomes.size() == 1);
  CHECK(outcomes[0].cancelled);
  CHECK_FALSE(outcomes[0].status.has_value());
  CHECK(elapsed < 10s);  // well before the 60 s deadline
}
