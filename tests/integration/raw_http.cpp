// Raw-socket HTTP/1.1 client: request text in, parsed response out.
#include "raw_http.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace souk_it {
namespace {

using Clock = std::chrono::steady_clock;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string trim(std::string_view s) {
  const auto a = s.find_first_not_of(" \t");
  if (a == std::string_view::npos) return {};
  const auto b = s.find_last_not_of(" \t\r");
  return std::string(s.substr(a, b - a + 1));
}

}  // namespace

std::string RawResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return {};
}

bool RawResponse::has_header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return true;
  }
  return false;
}

RawConnection::RawConnection(std::uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("connect 127.0.0.1:" + std::to_string(port) + ": " + why);
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConnection::send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool RawConnection::fill(Clock::time_point deadline) {
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char buf[16384];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
}

std::optional<RawResponse> RawConnection::read_response(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::size_t head_end;
  while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill(deadline)) return std::nullopt;
  }
  const std::string head = buffer_.substr(0, head_end);
  buffer_.erase(0, head_end + 4);

  RawResponse res;
  std::size_t line_start = 0;
  bool first = true;
  while (line_start <= head.size()) {
    auto line_end = head.find("\r\n", line_start);
    if (line_end == std::string::npos) line_end = head.size();
    const std::string_view line(head.data() + line_start, line_end - line_start);
    if (first) {
      // HTTP/1.1 200 OK
      const auto sp = line.find(' ');
      if (sp == std::string_view::npos) return std::nullopt;
      res.status = std::atoi(std::string(line.substr(sp + 1, 3)).c_str());
      first = false;
    } else if (!line.empty()) {
      const auto colon = line.find(':');
      if (colon != std::string_view::npos) {
        res.headers.emplace_back(std::string(line.substr(0, colon)), trim(line.substr(colon + 1)));
      }
    }
    line_start = line_end + 2;
  }

  const bool no_body =
      res.status == 204 || res.status == 304 || (res.status >= 100 && res.status < 200);
  if (no_body) {
    // Nothing follows the head.
  } else if (iequals(res.header("Transfer-Encoding"), "chunked")) {
    while (true) {
      std::size_t eol;
      while ((eol = buffer_.find("\r\n")) == std::string::npos) {
        if (!fill(deadline)) return std::nullopt;
      }
      const std::size_t size = std::stoul(buffer_.substr(0, eol), nullptr, 16);
      while (buffer_.size() < eol + 2 + size + 2) {
        if (!fill(deadline)) return std::nullopt;
      }
      res.body += buffer_.substr(eol + 2, size);
      buffer_.erase(0, eol + 2 + size + 2);
      if (size == 0) break;  // (no trailers expected)
    }
  } else if (res.has_header("Content-Length")) {
    const std::size_t len = std::stoul(res.header("Content-Length"));
    while (buffer_.size() < len) {
      if (!fill(deadline)) return std::nullopt;
    }
    res.body = buffer_.substr(0, len);
    buffer_.erase(0, len);
  } else {
    while (fill(deadline)) {
    }
    res.body = std::move(buffer_);
    buffer_.clear();
  }
  res.json = nlohmann::json::parse(res.body, nullptr, false);
  if (res.json.is_discarded()) res.json = nullptr;
  return res;
}

bool RawConnection::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return false;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
  }
}

std::optional<RawResponse> raw_exchange(std::uint16_t port, std::string_view request,
                                        std::chrono::milliseconds timeout) {
  RawConnection c(port);
  if (!c.send(request)) return std::nullopt;
  return c.read_response(timeout);
}

std::string raw_request_text(std::string_view method, std::string_view path,
                             const std::optional<std::string>& body,
                             const std::vector<std::string>& extra_headers, bool keep_alive) {
  std::string r;
  r.append(method).append(" ").append(path).append(" HTTP/1.1\r\n");
  r += "Host: 127.0.0.1\r\n";
  if (!keep_alive) r += "Connection: close\r\n";
  for (const auto& h : extra_headers) r += h + "\r\n";
  if (body) r += "Content-Length: " + std::to_string(body->size()) + "\r\n";
  r += "\r\n";
  if (body) r += *body;
  return r;
}

}  // namespace souk_it
