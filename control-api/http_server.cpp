// Beast HTTP server: listener and per-connection session.
//
// A session reads one request at a time: read -> handle (blocking pool) -> write
// -> read. Pipelined requests wait in the socket buffer, which bounds them.
#include "souk/api/http_server.hpp"

#include "souk/api/api_error.hpp"
#include "souk/listen.hpp"
#include "souk/log.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <array>
#include <atomic>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace souk::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class HttpSession;

struct HttpServer::State : std::enable_shared_from_this<HttpServer::State> {
  State(net::io_context& i, net::thread_pool& b, HttpServerOptions o, Handler h)
      : ioc(i), blocking(b), options(o), handler(std::move(h)), acceptor(net::make_strand(i)) {}

  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);

  net::io_context& ioc;
  net::thread_pool& blocking;
  HttpServerOptions options;
  Handler handler;
  RealtimeEndpoint* realtime = nullptr;
  tcp::acceptor acceptor;

  mutable std::mutex mutex;
  bool stopping = false;
  std::unordered_map<HttpSession*, std::weak_ptr<HttpSession>> sessions;
};

namespace websocket = beast::websocket;

// One WebSocket after the upgrade: reads messages into the realtime handler and
// writes a bounded queue of shared, pre-encoded messages, one write at a time.
class WsSession : public WsConnection, public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(tcp::socket&& socket, std::shared_ptr<HttpServer::State> server, std::string remote)
      : ws_(std::move(socket)), server_(std::move(server)), remote_(std::move(remote)) {}

  void run(http::request<http::string_body> upgrade, HttpRequest request) {
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(server_->options.max_ws_message_bytes);
    ws_.async_accept(upgrade, [self = shared_from_this(), request = std::move(request)](
                                  beast::error_code ec) mutable { self->on_accept(ec, request); });
  }

  bool send(std::shared_ptr<const std::string> text) override {
    if (closed_.load()) return false;
    if (queued_.fetch_add(1) >= server_->options.max_ws_queue) {
      // The peer stopped reading: drop it rather than hold everyone's messages.
      log::info("websocket dropped: not reading", {{"remote", remote_}});
      close();
      return false;
    }
    net::post(ws_.get_executor(), [self = shared_from_this(), text = std::move(text)] {
      if (self->closed_.load()) return;
      self->queue_.push_back(std::move(text));
      if (self->queue_.size() == 1) self->do_write();
    });
    return true;
  }

  void close() override {
    net::post(ws_.get_executor(), [self = shared_from_this()] {
      if (self->closed_.exchange(true)) return;
      self->ws_.async_close(websocket::close_code::normal, [self](beast::error_code) {});
    });
  }

 private:
  void on_accept(beast::error_code ec, const HttpRequest& request) {
    if (ec) return;
    handler_ = server_->realtime->websocket(request, shared_from_this());
    if (!handler_) return close();
    do_read();
  }

  void do_read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      closed_.store(true);
      if (handler_) handler_->on_close();
      handler_.reset();
      return;
    }
    std::string text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    if (handler_) handler_->on_message(std::move(text));
    do_read();
  }

  void do_write() {
    ws_.text(true);
    ws_.async_write(net::buffer(*queue_.front()),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      self->queue_.pop_front();
                      --self->queued_;
                      if (ec) {
                        self->closed_.store(true);
                        return;
                      }
                      if (!self->queue_.empty()) self->do_write();
                    });
  }

  websocket::stream<beast::tcp_stream> ws_;
  std::shared_ptr<HttpServer::State> server_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::shared_ptr<WsHandler> handler_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  std::atomic<std::size_t> queued_{0};
  std::atomic<bool> closed_{false};
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, std::shared_ptr<HttpServer::State> server)
      : stream_(std::move(socket)), server_(std::move(server)) {
    beast::error_code ec;
    const auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  ~HttpSession() {
    std::lock_guard lock(server_->mutex);
    server_->sessions.erase(this);
  }

  void run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&HttpSession::do_read, shared_from_this()));
  }

  // Posted by HttpServer::shutdown: close now if waiting for a request, else
  // after the response in flight.
  void stop() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
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
    stream_.expires_after(server_->options.request_timeout);
    reading_ = true;
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    reading_ = false;
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
    req.remote = remote_;
    req.body_too_large = body_too_large;
    keep_alive_ = msg.keep_alive() && !body_too_large;
    version_ = msg.version();

    // Engine.IO answers its own oversized payloads (and ends that session).
    if (server_->realtime && req.path.starts_with("/socket.io/")) {
      return dispatch_realtime(std::move(req));
    }
    net::post(server_->blocking, [self = shared_from_this(), req = std::move(req)]() mutable {
      HttpResponse res = self->server_->handler(req);
      net::post(self->stream_.get_executor(),
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
      log::info("http", {log::bare({"method", req.method}), log::bare({"path", req.path}),
                         log::bare({"status", 101}), {"remote", remote_}});
      auto ws = std::make_shared<WsSession>(stream_.release_socket(), server_, remote_);
      ws->run(parser_->release(), std::move(req));
      return;  // this HTTP session ends here; the socket lives on in ws
    }
    const std::string method = req.method;
    const std::string path = req.path;
    server_->realtime->polling(req, [self = shared_from_this(), method, path](HttpResponse res) {
      net::post(self->stream_.get_executor(), [self, method, path, res = std::move(res)]() mutable {
        self->do_write(method, path, std::move(res));
      });
    });
  }

  void reply_and_close(int status, const char* code, const char* message) {
    closing_ = true;
    unread_input_ = true;
    keep_alive_ = false;
    version_ = 11;
    do_write("-", "-", error_response(ApiError(status, code, message)));
  }

  void do_write(const std::string& method, const std::string& path, HttpResponse res) {
    const auto elapsed = std::chrono::duration<double, std::milli>(
                             std::chrono::steady_clock::now() - started_)
                             .count();
    log::info("http", {log::bare({"method", method}), log::bare({"path", path}),
                       log::bare({"status", res.status}), {"duration_ms", elapsed},
                       {"remote", remote_}});
    stream_.expires_after(server_->options.request_timeout);
    if (res.file && !res.head) return do_write_file(std::move(res));

    if (res.head) {
      // HEAD: the headers and length the GET would have, and no body.
      head_response_.emplace(static_cast<http::status>(res.status), version_);
      head_response_->set(http::field::server, "souk-live");
      for (auto& [name, value] : res.headers) head_response_->insert(name, value);
      head_response_->keep_alive(keep_alive_ && !closing_);
      head_response_->content_length(res.file ? res.file->length : res.body.size());
      return http::async_write(stream_, *head_response_,
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
    http::async_write(stream_, *response_,
                      beast::bind_front_handler(&HttpSession::on_write, shared_from_this()));
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
    http::async_write_header(stream_, *file_->serializer,
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
      net::post(self->stream_.get_executor(), [self, want, ok] { self->write_file_chunk(want, ok); });
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
    stream_.expires_after(server_->options.request_timeout);  // per chunk: slow readers are fine
    http::async_write(stream_, *f.serializer,
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
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(2));
    linger_buffer_.resize(16 * 1024);
    linger_read();
  }

  void linger_read() {
    stream_.async_read_some(net::buffer(linger_buffer_),
                            [self = shared_from_this()](beast::error_code e, std::size_t) {
                              if (e) return self->do_close();
                              self->linger_read();
                            });
  }

  void do_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<HttpServer::State> server_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
  std::optional<http::response<http::empty_body>> head_response_;
  struct FileStream {
    FileSlice slice;
    std::uint64_t sent = 0;
    std::ifstream in;
    std::array<char, 256 * 1024> chunk;
    http::response<http::buffer_body> response;
    std::optional<http::response_serializer<http::buffer_body>> serializer;
  };
  std::unique_ptr<FileStream> file_;
  std::string remote_;
  std::chrono::steady_clock::time_point started_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool reading_ = false;
  bool closing_ = false;
  bool unread_input_ = false;  // a request body or bytes we did not read
  std::vector<char> linger_buffer_;
};

void HttpServer::State::do_accept() {
  acceptor.async_accept(net::make_strand(ioc),
                        beast::bind_front_handler(&State::on_accept, shared_from_this()));
}

void HttpServer::State::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted) return;
  if (ec) {
    // Out of descriptors and the like: keep accepting; the condition may pass.
    log::warn("http accept failed", {{"error", ec.message()}});
  } else {
    auto session = std::make_shared<HttpSession>(std::move(socket), shared_from_this());
    bool accepted = false;
    {
      std::lock_guard lock(mutex);
      accepted = !stopping;
      if (accepted) sessions.emplace(session.get(), session);
    }
    // A refused session is destroyed outside the lock (its destructor takes it).
    if (!accepted) return;
    session->run();
  }
  do_accept();
}

HttpServer::HttpServer(net::io_context& ioc, net::thread_pool& blocking, HttpServerOptions options,
                       Handler handler)
    : state_(std::make_shared<State>(ioc, blocking, options, std::move(handler))) {}

HttpServer::~HttpServer() = default;

void HttpServer::set_realtime(RealtimeEndpoint* endpoint) { state_->realtime = endpoint; }

void HttpServer::listen(const tcp::endpoint& endpoint) {
  listen_on(state_->acceptor, endpoint);
  state_->do_accept();
}

tcp::endpoint HttpServer::local_endpoint() const { return state_->acceptor.local_endpoint(); }

void HttpServer::shutdown() {
  std::vector<std::shared_ptr<HttpSession>> live;
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
    for (auto& [ptr, weak] : state_->sessions) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  net::post(state_->acceptor.get_executor(), [state = state_] {
    beast::error_code ec;
    state->acceptor.close(ec);
  });
  for (auto& s : live) s->stop();
}

std::size_t HttpServer::connection_count() const {
  std::lock_guard lock(state_->mutex);
  return state_->sessions.size();
}

}  // namespace souk::api
