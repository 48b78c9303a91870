// One HTTP/1.1 connection on Beast.
//
// A session reads one request at a time: read -> handle (blocking pool) -> write
// -> read. Pipelined requests wait in the socket buffer, which bounds them. A hot
// HLS file skips the blocking pool: the fast handler answers it from the cache on
// the network thread, and its shared bytes are written without a copy. A Socket.IO
// upgrade hands the socket to a WebSocket session (ws_session.cpp).
#include "http_session.hpp"

#include "ws_session.hpp"

#include "souk/api/api_error.hpp"
#include "souk/api/http/response_head.hpp"
#include "souk/file_cache.hpp"
#include "souk/log.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <sys/sendfile.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <fstream>
#include <optional>

namespace souk::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

namespace {

class HttpSession : public Connection, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, std::shared_ptr<const HttpSessionContext> server)
      : socket_(std::move(socket)), watchdog_(socket_.get_executor()), server_(std::move(server)) {
    beast::error_code ec;
    const auto ep = socket_.remote_endpoint(ec);
    if (!ec) {
      peer_ = ep.address();
      remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
    }
    request_remote_ = remote_;
    // A response's last bytes leave at once, not after the peer's (delayed) ACK of
    // the ones before: Nagle's algorithm would hold the tail of every segment.
    socket_.set_option(tcp::no_delay(true), ec);
  }

  void start() override {
    net::dispatch(socket_.get_executor(),
                  beast::bind_front_handler(&HttpSession::do_read, shared_from_this()));
  }

  // From HttpServer::shutdown: close now if waiting for a request, else after
  // the response in flight.
  void stop() override {
    net::post(socket_.get_executor(), [self = shared_from_this()] {
      self->closing_ = true;
      if (self->reading_) self->do_close();
    });
  }

 private:
  void do_read() {
    if (closing_) return do_close();
    parser_.emplace();
    parser_->body_limit(server_->options.max_body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(server_->options.max_header_bytes));
    set_deadline(server_->options.request_timeout);
    reading_ = true;
    http::async_read(socket_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    reading_ = false;
    clear_deadline();
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted ||
        ec == beast::error::timeout || ec == net::error::connection_reset ||
        ec == net::error::eof) {
      return do_close();
    }
    started_ = std::chrono::steady_clock::now();
    if (ec == http::error::body_limit) {
      // The body stays unread (with Content-Length over the limit Beast stops right
      // after the header fields, which are already parsed): answer 413, drain, close.
      closing_ = true;
      unread_input_ = true;
      return dispatch(true);
    }
    if (ec == http::error::header_limit) {
      return reply_and_close(431, "headers_too_large", "the request headers are too large");
    }
    if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
      return reply_and_close(400, "bad_request", "the request is not valid HTTP/1.1");
    }
    if (ec) {
      log::debug("http read failed", {{"remote", remote_}, {"error", ec.message()}});
      return do_close();
    }
    dispatch(false);
  }

  void dispatch(bool body_too_large) {
    auto& msg = parser_->get();
    HttpRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    split_target(req.target, req.path, req.query);
    for (const auto& field : msg) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const std::string_view value(field.value().data(), field.value().size());
      auto [it, inserted] = req.headers.emplace(std::move(name), std::string(value));
      if (!inserted) {
        it->second += ", ";
        it->second += value;
      }
    }
    if (!body_too_large) req.body = std::move(msg.body());
    // Behind a trusted proxy the client is who its X-Forwarded-For says (without a
    // port: the proxy does not pass one on); a keep-alive connection from a proxy
    // carries many clients' requests, so this is decided per request.
    request_remote_ = remote_;
    req.client_address = unmapped(peer_).to_string();
    if (auto client = forwarded_client(server_->options.trusted_proxies, peer_,
                                       req.header("x-forwarded-for"))) {
      request_remote_ = client->to_string();
      req.client_address = unmapped(*client).to_string();
    }
    req.remote = request_remote_;
    req.body_too_large = body_too_large;
    keep_alive_ = msg.keep_alive() && !body_too_large;
    version_ = msg.version();

    // Engine.IO answers its own oversized payloads (and ends that session).
    if (server_->realtime && req.path.starts_with("/socket.io/")) {
      return dispatch_realtime(std::move(req));
    }
    // A hot HLS file is answered here, from the cache: no hop to the blocking pool.
    if (server_->fast && req.path.starts_with("/hls/") &&
        (req.method == "GET" || req.method == "HEAD")) {
      if (auto res = server_->fast(req)) return do_write(req.method, req.path, std::move(*res));
    }
    net::post(server_->blocking, [self = shared_from_this(), req = std::move(req)]() mutable {
      HttpResponse res = self->server_->handler(req);
      net::post(self->socket_.get_executor(),
                [self, req = std::move(req), res = std::move(res)]() mutable {
                  self->do_write(req.method, req.path, std::move(res));
                });
    });
  }

  // Engine.IO: a WebSocket upgrade leaves this session for a WsSession; a
  // long-poll is answered whenever the realtime plane has something to say.
  void dispatch_realtime(HttpRequest req) {
    auto& msg = parser_->get();
    if (!req.body_too_large && websocket::is_upgrade(msg)) {
      // Refused before the handshake (a foreign Origin, too many sessions): an
      // HTTP answer, then the connection closes.
      if (auto refusal = server_->realtime->check_upgrade(req)) {
        closing_ = true;
        keep_alive_ = false;
        refusal->route = realtime_route;
        return do_write(req.method, req.path, std::move(*refusal));
      }
      log::info("http", {log::bare({"method", req.method}), log::bare({"path", req.path}),
                         log::bare({"status", 101}), {"remote", request_remote_}});
      if (server_->options.metrics) {
        server_->options.metrics->observe(req.method, realtime_route, 101, seconds_since_start());
      }
      watchdog_.cancel();  // the WebSocket keeps its own time
      start_ws_session(std::move(socket_), parser_->release(), std::move(req), *server_->realtime,
                       {server_->options.max_ws_message_bytes, server_->options.max_ws_queue,
                        server_->options.max_ws_queue_bytes},
                       request_remote_);
      return;  // this HTTP session ends here; the socket lives on in the WebSocket session
    }
    const std::string method = req.method;
    const std::string path = req.path;
    server_->realtime->polling(req, [self = shared_from_this(), method, path](HttpResponse res) {
      res.route = realtime_route;
      net::post(self->socket_.get_executor(), [self, method, path, res = std::move(res)]() mutable {
        self->do_write(method, path, std::move(res));
      });
    });
  }

  void reply_and_close(int status, const char* code, const char* message) {
    request_remote_ = remote_;  // no headers to believe
    closing_ = true;
    unread_input_ = true;
    keep_alive_ = false;
    version_ = 11;
    do_write("-", "-", error_response(ApiError(status, code, message)));
  }

  double seconds_since_start() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  }

  void do_write(const std::string& method, const std::string& path, HttpResponse res) {
    const bool logging = log::enabled(spdlog::level::info);  // the fields cost, even unwritten
    if (logging || server_->options.metrics) {
      const double elapsed = seconds_since_start();
      if (server_->options.metrics) server_->options.metrics->observe(method, res.route, res.status, elapsed);
      if (logging) {
        log::info("http", {log::bare({"method", method}), log::bare({"path", path}),
                           log::bare({"status", res.status}), {"duration_ms", elapsed * 1000},
                           {"remote", request_remote_}});
      }
    }
    set_deadline(server_->options.request_timeout);
    if (res.file && !res.head) return do_write_file(std::move(res));
    if (res.shared && !res.head) return do_write_shared(std::move(res));

    if (res.head) {
      // HEAD: the headers and length the GET would have, and no body.
      head_response_.emplace(static_cast<http::status>(res.status), version_);
      head_response_->set(http::field::server, "souk-live");
      for (auto& [name, value] : res.headers) head_response_->insert(name, value);
      head_response_->keep_alive(keep_alive_ && !closing_);
      head_response_->content_length(res.file     ? res.file->length
                                     : res.shared ? res.shared->length
                                                  : res.body.size());
      return http::async_write(socket_, *head_response_,
                               [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                 const bool keep = self->head_response_->keep_alive();
                                 self->head_response_.reset();
                                 self->after_write(ec, keep);
                               });
    }
    response_.emplace(static_cast<http::status>(res.status), version_);
    response_->set(http::field::server, "souk-live");
    for (auto& [name, value] : res.headers) response_->insert(name, value);
    response_->keep_alive(keep_alive_ && !closing_);
    response_->body() = std::move(res.body);
    response_->prepare_payload();
    http::async_write(socket_, *response_,
                      beast::bind_front_handler(&HttpSession::on_write, shared_from_this()));
  }

  // Bytes in memory shared with other responses (a cached file): the header block
  // and the slice in one write, the bytes held until it completes. The socket
  // usually takes it all at once (a playlist always): then it is done here, with
  // no asynchronous write, timer or handler; what it does not take is written
  // asynchronously, with the request timeout.
  void do_write_shared(HttpResponse res) {
    if (res.shared->file) return do_write_pinned_file(std::move(res));
    shared_bytes_ = std::move(res.shared->bytes);
    shared_keep_alive_ = keep_alive_ && !closing_;
    render_head(shared_head_, res, version_, shared_keep_alive_, res.shared->length);
    const std::array<net::const_buffer, 2> buffers = {
        net::buffer(shared_head_),
        net::const_buffer(shared_bytes_->data() + res.shared->offset, res.shared->length)};
    const std::size_t total = net::buffer_size(buffers);
    beast::error_code ec;
    if (!socket_.non_blocking()) socket_.non_blocking(true, ec);
    const std::size_t sent = ec ? 0 : socket_.write_some(buffers, ec);
    if (ec == net::error::would_block || ec == net::error::try_again) ec = {};
    if (ec || sent == total) {
      shared_bytes_.reset();
      return after_write(ec, shared_keep_alive_);
    }
    beast::buffers_suffix<std::array<net::const_buffer, 2>> rest(buffers);
    rest.consume(sent);
    net::async_write(socket_, rest, [self = shared_from_this()](beast::error_code e, std::size_t) {
      self->shared_bytes_.reset();
      self->after_write(e, self->shared_keep_alive_);
    });
  }

  // A pinned file (a cached segment): the header block, sent with MSG_MORE so it
  // leaves with the body's first bytes, then sendfile(2), which hands the file's
  // pages to the socket without copying them (as nginx sends files). Each goes as
  // far as the socket takes it now and goes on when the socket is writable again.
  void do_write_pinned_file(HttpResponse res) {
    sendfile_ = std::move(res.shared->file);
    sendfile_offset_ = res.shared->offset;
    sendfile_end_ = res.shared->offset + res.shared->length;
    shared_keep_alive_ = keep_alive_ && !closing_;
    render_head(shared_head_, res, version_, shared_keep_alive_, res.shared->length);
    head_sent_ = 0;
    continue_pinned_file();
  }

  void continue_pinned_file() {
    beast::error_code ec;
    if (!socket_.non_blocking()) socket_.non_blocking(true, ec);
    const int fd = socket_.native_handle();
    while (!ec && (head_sent_ < shared_head_.size() || sendfile_offset_ < sendfile_end_)) {
      ssize_t n = 0;
      if (head_sent_ < shared_head_.size()) {
        n = ::send(fd, shared_head_.data() + head_sent_, shared_head_.size() - head_sent_,
                   MSG_MORE | MSG_NOSIGNAL);
        if (n > 0) head_sent_ += static_cast<std::size_t>(n);
      } else {
        auto offset = static_cast<off_t>(sendfile_offset_);
        n = ::sendfile(fd, sendfile_->fd(), &offset, sendfile_end_ - sendfile_offset_);
        if (n > 0) sendfile_offset_ = static_cast<std::size_t>(offset);
        if (n == 0) ec = net::error::eof;  // shorter than it said: the file was cut
      }
      if (n >= 0 || errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return wait_writable();
      ec = beast::error_code(errno, beast::system_category());
    }
    sendfile_.reset();
    after_write(ec, shared_keep_alive_);
  }

  void wait_writable() {
    set_deadline(server_->options.request_timeout);  // a slow reader, not a stalled one
    socket_.async_wait(tcp::socket::wait_write, [self = shared_from_this()](beast::error_code ec) {
      if (!ec) return self->continue_pinned_file();
      self->sendfile_.reset();
      self->after_write(ec, false);
    });
  }

  // A file body: the header, then chunks read on the blocking pool and written
  // here, one at a time (Beast's buffer_body protocol).
  void do_write_file(HttpResponse res) {
    file_ = std::make_unique<FileStream>();
    file_->slice = *res.file;
    file_->response.result(static_cast<http::status>(res.status));
    file_->response.version(version_);
    file_->response.set(http::field::server, "souk-live");
    for (auto& [name, value] : res.headers) file_->response.insert(name, value);
    file_->response.keep_alive(keep_alive_ && !closing_);
    file_->response.content_length(file_->slice.length);
    file_->response.body().data = nullptr;
    file_->response.body().more = true;
    file_->serializer.emplace(file_->response);
    http::async_write_header(socket_, *file_->serializer,
                             [self = shared_from_this()](beast::error_code ec, std::size_t) {
                               if (ec) return self->after_write(ec, false);
                               self->read_file_chunk();
                             });
  }

  void read_file_chunk() {
    net::post(server_->blocking, [self = shared_from_this()] {
      auto& f = *self->file_;
      const auto want = static_cast<std::size_t>(
          std::min<std::uint64_t>(f.chunk.size(), f.slice.length - f.sent));
      bool ok = false;
      if (!f.in.is_open()) {
        f.in.open(f.slice.path, std::ios::binary);
        f.in.seekg(static_cast<std::streamoff>(f.slice.offset));
      }
      if (f.in) {
        f.in.read(f.chunk.data(), static_cast<std::streamsize>(want));
        ok = f.in.gcount() == static_cast<std::streamsize>(want);
      }
      net::post(self->socket_.get_executor(), [self, want, ok] { self->write_file_chunk(want, ok); });
    });
  }

  void write_file_chunk(std::size_t n, bool ok) {
    auto& f = *file_;
    if (!ok) {
      // The file shrank or vanished after the headers went out: the only honest
      // signal left is to cut the connection.
      log::warn("http file read failed", {{"path", f.slice.path}});
      return do_close();
    }
    f.sent += n;
    f.response.body().data = f.chunk.data();
    f.response.body().size = n;
    f.response.body().more = f.sent < f.slice.length;
    set_deadline(server_->options.request_timeout);  // per chunk: slow readers are fine
    http::async_write(socket_, *f.serializer,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec == http::error::need_buffer) ec = {};
                        if (ec) return self->after_write(ec, false);
                        auto& fs = *self->file_;
                        if (fs.sent < fs.slice.length) return self->read_file_chunk();
                        const bool keep = fs.response.keep_alive();
                        self->file_.reset();
                        self->after_write(ec, keep);
                      });
  }

  void on_write(beast::error_code ec, std::size_t) {
    const bool keep = response_->keep_alive();
    response_.reset();
    after_write(ec, keep);
  }

  void after_write(beast::error_code ec, bool keep) {
    if (ec) {
      log::debug("http write failed", {{"remote", remote_}, {"error", ec.message()}});
      return do_close();
    }
    if (!keep) return unread_input_ ? do_linger() : do_close();
    do_read();
  }

  // Closing a socket with unread input makes the kernel send RST, which can
  // destroy the response before the client reads it. So, like nginx's lingering
  // close: stop sending, discard input for a short while, then close. The 2 s
  // are in all, set once: a client that keeps trickling bytes must not extend them.
  void do_linger() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    set_deadline(std::chrono::seconds(2));
    linger_buffer_.resize(std::size_t{16} * 1024);
    linger_read();
  }

  void linger_read() {
    socket_.async_read_some(net::buffer(linger_buffer_),
                            [self = shared_from_this()](beast::error_code e, std::size_t) {
                              if (e) return self->do_close();
                              self->linger_read();
                            });
  }

  void do_close() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    socket_.close(ec);
    watchdog_.cancel();
  }

  // Timeouts: one timer per connection, moved only when a deadline comes earlier
  // than it is set for. Each step pushes the deadline (a clock read, no timer
  // work); when the timer fires before the deadline it sleeps again until then,
  // and after it the socket is closed, which ends the pending operation
  // (operation_aborted). Per-operation timers cost more than the rest of a
  // cached request.
  void set_deadline(std::chrono::steady_clock::duration timeout) {
    deadline_ = std::chrono::steady_clock::now() + timeout;
    arm_watchdog();
  }

  // No timeout while the request is being handled (it is the server that is busy).
  void clear_deadline() { deadline_ = std::chrono::steady_clock::time_point::max(); }

  void arm_watchdog() {
    if (!socket_.is_open() || (watchdog_armed_ && watchdog_.expiry() <= deadline_)) return;
    watchdog_armed_ = true;
    watchdog_.expires_at(deadline_);  // cancels a later wait, whose handler sees operation_aborted
    watchdog_.async_wait(beast::bind_front_handler(&HttpSession::on_watchdog, shared_from_this()));
  }

  void on_watchdog(beast::error_code ec) {
    if (ec == net::error::operation_aborted) return;  // re-armed earlier, or closed
    watchdog_armed_ = false;
    if (std::chrono::steady_clock::now() < deadline_) return arm_watchdog();
    log::debug("http timeout", {{"remote", remote_}});
    beast::error_code ignored;
    socket_.close(ignored);
  }

  tcp::socket socket_;
  net::steady_timer watchdog_;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  bool watchdog_armed_ = false;
  beast::flat_buffer buffer_;
  std::shared_ptr<const HttpSessionContext> server_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
  std::optional<http::response<http::empty_body>> head_response_;
  std::string shared_head_;  // the header block of a shared body (capacity reused)
  std::shared_ptr<const std::string> shared_bytes_;  // held while being written
  bool shared_keep_alive_ = true;
  std::shared_ptr<const PinnedFile> sendfile_;  // held while being sent
  std::size_t sendfile_offset_ = 0;
  std::size_t sendfile_end_ = 0;
  std::size_t head_sent_ = 0;
  struct FileStream {
    FileSlice slice;
    std::uint64_t sent = 0;
    std::ifstream in;
    std::array<char, std::size_t{256} * 1024> chunk;
    http::response<http::buffer_body> response;
    std::optional<http::response_serializer<http::buffer_body>> serializer;
  };
  std::unique_ptr<FileStream> file_;
  boost::asio::ip::address peer_;
  std::string remote_;          // the peer, IP:port
  std::string request_remote_;  // the current request's client (see dispatch)
  std::chrono::steady_clock::time_point started_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool reading_ = false;
  bool closing_ = false;
  bool unread_input_ = false;  // a request body or bytes we did not read
  std::vector<char> linger_buffer_;
};

}  // namespace

std::shared_ptr<Connection> make_http_session(tcp::socket&& socket,
                                              std::shared_ptr<const HttpSessionContext> context) {
  return std::make_shared<HttpSession>(std::move(socket), std::move(context));
}

}  // namespace souk::api
