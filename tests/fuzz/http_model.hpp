// For the HTTP session fuzz targets: what an HTTP/1.1 server must answer to a
// byte stream, read with Beast's parser and the server's limits exactly as
// http_session.cpp reads it (one request at a time until the stream ends, a
// request closes the connection, or the input is refused), and a check that
// the bytes the server wrote are those answers, and nothing else.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace souk_fuzz {

namespace http = boost::beast::http;

// The input as a SyncReadStream that ends with EOF, handing out `step` bytes a read.
class MemoryStream {
 public:
  MemoryStream(std::span<const std::uint8_t> bytes, std::size_t step) : rest_(bytes), step_(step) {}
  template <class Buffers>
  std::size_t read_some(const Buffers& buffers, boost::system::error_code& ec) {
    if (rest_.empty()) {
      ec = boost::asio::error::eof;
      return 0;
    }
    ec = {};
    const auto n = boost::asio::buffer_copy(
        buffers, boost::asio::buffer(rest_.data(), std::min(step_, rest_.size())));
    rest_ = rest_.subspan(n);
    return n;
  }
  template <class Buffers>
  std::size_t read_some(const Buffers& buffers) {
    boost::system::error_code ec;
    const auto n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  std::span<const std::uint8_t> rest_;
  std::size_t step_;
};

struct ExpectedResponse {
  std::string method;          // of the request it answers ("-" for a refusal)
  std::string target;
  std::optional<int> status;   // when the input decides it (a refusal)
  // The request head is refused: 431 (too large) or 400 (malformed). Which one
  // Beast reports for a head that is both can depend on where the reads cut it
  // (seen: a NUL inside an over-long field gives 400 or 431), so either is right.
  bool head_refused = false;
  bool upgrade = false;        // a WebSocket upgrade request: what follows is not HTTP
  bool operator==(const ExpectedResponse&) const = default;
};

// The responses owed; when reads cut differently would be answered differently
// (Beast enforces the header limit and finds malformed fields at points that
// depend on what one read brought), only what every cut owes is required.
struct Owed {
  std::vector<ExpectedResponse> responses;
  std::size_t at_least = 0;  // responses that must come; the rest may
};

struct HttpLimits {
  std::size_t max_body_bytes;
  std::size_t max_header_bytes;
};

// The answers http_session.cpp owes `input`, in order (see the file comment).
inline std::vector<ExpectedResponse> expected_responses(std::span<const std::uint8_t> input,
                                                        HttpLimits limits, std::size_t step,
                                                        bool realtime) {
  std::vector<ExpectedResponse> out;
  MemoryStream stream(input, step);
  boost::beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(limits.max_body_bytes);
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    boost::system::error_code ec;
    http::read(stream, buffer, parser, ec);
    if (ec == http::error::end_of_stream || ec == boost::asio::error::eof) return out;
    if (ec == http::error::body_limit) {
      const auto& m = parser.get();
      out.push_back({std::string(m.method_string()), std::string(m.target()), 413});
      return out;
    }
    if (ec == http::error::header_limit) {
      out.push_back({"-", "-", std::nullopt, true});
      return out;
    }
    if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
      // A malformed head, or a request cut short by the end of the input.
      out.push_back({"-", "-", std::nullopt, true});
      return out;
    }
    if (ec) return out;
    const auto& m = parser.get();
    const std::string target(m.target());
    const bool upgrade = realtime && target.starts_with("/socket.io/") &&
                         boost::beast::websocket::is_upgrade(m);
    out.push_back({std::string(m.method_string()), target, std::nullopt, false, upgrade});
    if (upgrade || !m.keep_alive()) return out;
  }
}

// The answers owed under the ways the server's reads may cut the input: all of
// it at once (as a loopback read usually brings it), byte by byte, and in
// pieces of `step`. Where they agree, exactly those; where they do not, the
// longest list with its statuses left open, of which the shortest must come.
inline Owed owed_responses(std::span<const std::uint8_t> input, HttpLimits limits, std::size_t step,
                           bool realtime) {
  const std::vector<std::vector<ExpectedResponse>> cuts = {
      expected_responses(input, limits, input.size() + 1, realtime),
      expected_responses(input, limits, 1, realtime),
      expected_responses(input, limits, step, realtime)};
  Owed owed{cuts[0], cuts[0].size()};
  for (const auto& cut : cuts) {
    if (cut == cuts[0]) continue;
    if (cut.size() > owed.responses.size()) owed.responses = cut;
    owed.at_least = std::min(owed.at_least, cut.size());
  }
  if (owed.at_least != owed.responses.size() || owed.responses != cuts[0]) {
    for (auto& r : owed.responses) {
      r.status.reset();
      r.head_refused = false;
    }
  }
  return owed;
}

struct ReceivedResponse {
  int status;
  std::string body;
  std::string content_type;
};

// Parses the server's bytes as answers to `owed`; traps if they are not that
// many well-formed responses (up to an upgrade, after which the bytes are
// WebSocket frames), or if a refusal has the wrong status.
inline std::vector<ReceivedResponse> check_responses(std::span<const std::uint8_t> received,
                                                     const Owed& owed) {
  std::vector<ReceivedResponse> out;
  std::size_t pos = 0;
  for (const auto& e : owed.responses) {
    if (pos == received.size() && out.size() >= owed.at_least) break;
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    parser.header_limit(1 << 20);
    if (e.method == "HEAD") parser.skip(true);
    parser.eager(true);
    while (!parser.is_done()) {
      boost::system::error_code ec;
      const auto rest = received.subspan(pos);
      const auto used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
      if (ec || used == 0) __builtin_trap();  // a missing or malformed response
      pos += used;
    }
    const auto& m = parser.get();
    const int status = static_cast<int>(m.result_int());
    if ((e.status && status != *e.status) || (e.head_refused && status != 400 && status != 431)) {
      std::fprintf(stderr, "response %d, expected %d\n", status, e.status.value_or(431));
      __builtin_trap();
    }
    out.push_back({status, m.body(), std::string(m[http::field::content_type])});
    if (e.upgrade && status == 101) return out;
  }
  if (pos != received.size()) __builtin_trap();  // bytes nobody asked for
  return out;
}

}  // namespace souk_fuzz
