// The HTTP request and response as the API sees them: plain values, no Beast, so
// routes and handlers compile without the networking headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace souk {
class PinnedFile;
}

namespace souk::api {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path and query
  std::string path;    // target up to '?'
  std::string query;   // after '?', without it
  std::map<std::string, std::string, std::less<>> headers;  // names lowercased
  std::string body;
  std::string remote;  // peer address
  // The client's IP address without a port: the peer's, or the one a trusted
  // proxy's X-Forwarded-For names (the key of bounds kept per client address).
  std::string client_address;
  bool body_too_large = false;  // the body was over the limit and not read

  std::string_view header(std::string_view lowercase_name) const {
    auto it = headers.find(lowercase_name);
    return it == headers.end() ? std::string_view() : std::string_view(it->second);
  }
};

// A byte range of a file to send as the response body. The server streams it in
// chunks read on the blocking-work pool, so memory stays bounded and network
// threads never read the disk.
struct FileSlice {
  std::string path;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

// A cached file shared by every response that sends it: the body is `length`
// bytes from `offset` of `bytes`, or of `file` (sent with sendfile). The server
// holds them until written: nothing is copied per request.
struct SharedSlice {
  std::shared_ptr<const std::string> bytes;
  std::shared_ptr<const PinnedFile> file;  // when bytes is null
  std::size_t offset = 0;
  std::size_t length = 0;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<FileSlice> file;      // when set, the body (Content-Length = file->length)
  std::optional<SharedSlice> shared;  // when set, the body (Content-Length = shared->length)
  bool head = false;                  // a HEAD request: headers only, Content-Length as for GET
  // The route template that answered ("/api/v1/streams/{id}", "unmatched"), for
  // metrics: a router pattern or a string literal, never freed while serving.
  std::string_view route;

  void set_header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
  std::string_view header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return {};
  }
};

// Route templates of requests no router pattern answers (metrics labels).
inline constexpr std::string_view unmatched_route = "unmatched";
inline constexpr std::string_view realtime_route = "/socket.io/";

// Splits "/a/b?x=1" into path and query.
inline void split_target(std::string_view target, std::string& path, std::string& query) {
  const auto q = target.find('?');
  path = std::string(target.substr(0, q));
  query = q == std::string_view::npos ? std::string() : std::string(target.substr(q + 1));
}

}  // namespace souk::api
