// A plain TCP HTTP/1.1 client for what cpp-httplib does not let a test control:
// requests without a Content-Type, chunked bodies, idle keep-alive connections,
// noticing when the server closes the connection.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace souk_it {

struct RawResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  nlohmann::json json;  // the parsed body, or null

  // Case-insensitive lookup; empty when absent.
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
};

class RawConnection {
 public:
  // Connects to 127.0.0.1:port; throws std::runtime_error on failure.
  explicit RawConnection(std::uint16_t port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Writes all of `bytes`; false when the peer reset or closed the connection.
  bool send(std::string_view bytes);
  // Reads one response; nullopt on timeout or when the connection ends first.
  std::optional<RawResponse> read_response(
      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // True when the server closes (EOF or reset) within `timeout`. Discards data.
  bool wait_closed(std::chrono::milliseconds timeout);

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);  // read more; false on EOF/timeout

  int fd_ = -1;
  std::string buffer_;
};

// Sends one request on a fresh connection and reads the response.
std::optional<RawResponse> raw_exchange(
    std::uint16_t port, std::string_view request,
    std::chrono::milliseconds timeout = std::chrono::seconds(5));

// "METHOD path HTTP/1.1" with Host and, when body is set, Content-Length (and no
// Content-Type unless given in extra_headers, which are "Name: value" lines).
std::string raw_request_text(std::string_view method, std::string_view path,
                             const std::optional<std::string>& body = std::nullopt,
                             const std::vector<std::string>& extra_headers = {},
                             bool keep_alive = true);

}  // namespace souk_it
