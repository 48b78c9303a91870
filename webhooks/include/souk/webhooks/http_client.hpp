// The outbound HTTP client webhooks are posted with: plain http://, one request
// per connection (Connection: close), no redirects followed, an overall deadline
// per request. Several requests run at once on a private io_context driven by
// the calling thread, so a slow receiver delays only its own delivery and no
// network thread of the server is ever involved.
#pragma once

#include "souk/webhooks/url.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace souk::webhooks {

struct PostRequest {
  HttpUrl url;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct PostOutcome {
  std::optional<int> status;  // the receiver's HTTP status, once its header arrived
  std::string error;          // otherwise why not ("timed out", "connection refused", ...)
  bool cancelled = false;     // cut short by cancel(): neither success nor failure
  std::chrono::milliseconds duration{0};
};

class HttpPoster {
 public:
  HttpPoster();
  ~HttpPoster();
  HttpPoster(const HttpPoster&) = delete;
  HttpPoster& operator=(const HttpPoster&) = delete;

  // Sends every request concurrently and returns their outcomes in the same
  // order, each within `timeout` (resolve, connect, send and the response
  // header). Blocking; one caller at a time.
  std::vector<PostOutcome> post_all(const std::vector<PostRequest>& requests,
                                    std::chrono::milliseconds timeout);

  // From any thread: the post_all in progress (or the next one) returns at once,
  // its unfinished requests marked cancelled.
  void cancel();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace souk::webhooks
