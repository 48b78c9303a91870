// A WebSocket connection after the upgrade: Beast reads; our own frames go out
// by a direct sendmsg when the socket takes them (see WsSession).
#include "ws_session.hpp"

#include "souk/api/http/ws_frame.hpp"
#include "souk/log.hpp"
#include "souk/refusals.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

namespace souk::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

namespace {

// One WebSocket after the upgrade: reads messages into the realtime handler and
// writes a bounded queue of shared, pre-encoded messages.
//
// Beast does the handshake, the reading (unmasking, fragments, control frames)
// and the closing handshake. The messages this server sends are written here as
// frames straight to the socket: a server's frames are not masked, so a room's
// broadcast is the same bytes for every viewer behind a 2-10 byte header.
// - Messages for a connection with nothing waiting are sent at once, by the
//   thread that sends them (a room's broadcast pass, several frames at a time),
//   with one non-blocking sendmsg on a duplicate of the socket's descriptor: no
//   hand-off to the connection's strand, no wake-up. Handing each delivery to
//   the strand was most of the cost of a room's fan-out.
// - What the socket does not take at once waits, with every message after it,
//   and the strand writes them all in one write when the socket is writable.
// Beast never writes while we may, but for a pong to a ping, which Socket.IO
// clients do not send (a client that does can only garble its own connection),
// and its close frame, which waits until our writes are done.
class WsSession : public WsConnection, public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(tcp::socket&& socket, RealtimeEndpoint& realtime, WsLimits limits, std::string remote)
      : ws_(std::move(socket)),
        close_timer_(ws_.get_executor()),
        realtime_(realtime),
        limits_(limits),
        remote_(std::move(remote)) {
    // Our own descriptor for the socket, so a send from another thread never
    // reaches a descriptor number Beast closed and the kernel gave to another
    // connection. Without it (no descriptors left) every write takes the strand.
    send_fd_ = ::fcntl(ws_.next_layer().native_handle(), F_DUPFD_CLOEXEC, 0);
  }

  ~WsSession() override {
    if (send_fd_ >= 0) ::close(send_fd_);
  }

  void run(const http::request<http::string_body>& upgrade, HttpRequest request) {
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(limits_.max_message_bytes);
    ws_.async_accept(upgrade, [self = shared_from_this(), request = std::move(request)](
                                  beast::error_code ec) mutable { self->on_accept(ec, request); });
  }

  using WsConnection::send;
  bool send(std::span<const Text> texts) override {
    if (closed_.load()) return false;
    if (texts.empty()) return true;
    const std::size_t bytes = bytes_of(texts);
    const bool too_many = queued_.fetch_add(texts.size()) + texts.size() > limits_.max_queue;
    const bool too_large = queued_bytes_.fetch_add(bytes) + bytes > limits_.max_queue_bytes;
    if (too_many || too_large) {
      // The peer stopped reading: drop it rather than hold everyone's messages.
      // No close frame: it would wait behind what the peer does not read.
      // (The counts stay up: nothing more is queued on this connection.)
      if (dropped_.exchange(true)) return false;
      count_refusal("realtime_queue_full");
      log::info("websocket dropped: not reading", {{"remote", remote_}});
      net::post(ws_.get_executor(), [self = shared_from_this()] {
        self->closed_.store(true);
        self->abort();
      });
      return false;
    }
    std::unique_lock lock(write_mutex_);
    if (writes_closed_) {
      queued_ -= texts.size();
      queued_bytes_ -= bytes;
      return false;
    }
    std::size_t whole = 0;  // messages the socket took whole
    if (!writing_ && send_fd_ >= 0) {
      const auto taken = send_now(texts.first(std::min(texts.size(), max_frames_per_send)));
      if (!taken) {
        writes_closed_ = true;  // the peer is gone; the read side ends the session
        queued_ -= texts.size();
        queued_bytes_ -= bytes;
        return false;
      }
      whole = taken->frames;
      first_sent_ = taken->partial_bytes;
      queued_ -= whole;
      queued_bytes_ -= bytes_of(texts.first(whole));
      if (whole == texts.size()) return true;
    }
    pending_.insert(pending_.end(), texts.begin() + static_cast<std::ptrdiff_t>(whole), texts.end());
    if (std::exchange(writing_, true)) return true;
    lock.unlock();
    net::post(ws_.get_executor(), [self = shared_from_this()] { self->do_write(); });
    return true;
  }

  void close() override {
    net::post(ws_.get_executor(), [self = shared_from_this()] {
      if (self->closed_.exchange(true)) return;
      {
        std::lock_guard lock(self->write_mutex_);
        if (self->writing_) {
          // The close frame follows the writes waiting, if they end in time.
          self->close_after_write_ = true;
          self->close_timer_.expires_after(close_write_grace);
          self->close_timer_.async_wait([self](beast::error_code ec) {
            if (!ec) self->abort();
          });
          return;
        }
        self->writes_closed_ = true;
      }
      self->send_close();
    });
  }

 private:
  // Frames in one write at most (two buffers each: header and payload).
  static constexpr std::size_t max_frames_per_write = 256;
  // Room for this many frames' headers and buffers is kept between writes.
  static constexpr std::size_t idle_frames_kept = 4;
  // How long a close waits for the writes waiting before the socket is closed.
  static constexpr std::chrono::seconds close_write_grace{5};
  // Frames in one direct send (two iovecs each).
  static constexpr std::size_t max_frames_per_send = 64;
  // The read buffer keeps at most this much between messages.
  static constexpr std::size_t read_buffer_kept = std::size_t{16} * 1024;

  static std::size_t bytes_of(std::span<const Text> texts) {
    std::size_t n = 0;
    for (const auto& t : texts) n += t->size();
    return n;
  }

  // One non-blocking sendmsg of up to max_frames_per_send frames: what the socket
  // took (nothing when it is full), or nullopt when the connection failed.
  std::optional<WsFramesTaken> send_now(std::span<const Text> texts) {
    std::array<WsFrameHeader, max_frames_per_send> headers;
    std::array<std::size_t, max_frames_per_send> frame_sizes;
    std::array<iovec, 2 * max_frames_per_send> iov;
    for (std::size_t i = 0; i < texts.size(); ++i) {
      headers[i] = ws_text_frame_header(texts[i]->size());
      frame_sizes[i] = headers[i].size + texts[i]->size();
      iov[2 * i] = {headers[i].bytes.data(), headers[i].size};
      iov[2 * i + 1] = {const_cast<char*>(texts[i]->data()), texts[i]->size()};
    }
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = 2 * texts.size();
    ssize_t n;
    while ((n = ::sendmsg(send_fd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL)) < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return WsFramesTaken{};
      if (errno != EINTR) return std::nullopt;
    }
    return ws_frames_taken(std::span(frame_sizes).first(texts.size()), static_cast<std::size_t>(n));
  }

  // Closes the socket: pending operations end with operation_aborted.
  void abort() {
    {
      std::lock_guard lock(write_mutex_);
      writes_closed_ = true;
    }
    beast::error_code ignored;
    ws_.next_layer().close(ignored);
  }

  void on_accept(beast::error_code ec, const HttpRequest& request) {
    if (ec) return;
    handler_ = realtime_.websocket(request, shared_from_this());
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
    // A large message leaves the buffer as large as it was: give the memory
    // back, or a few hundred idle sockets that each sent one hold hundreds of MB.
    if (buffer_.capacity() > read_buffer_kept) buffer_.shrink_to_fit();
    if (handler_) handler_->on_message(std::move(text));
    do_read();
  }

  // On the strand: writes the waiting messages (up to max_frames_per_write), the
  // first from where the socket left it.
  void do_write() {
    {
      std::lock_guard lock(write_mutex_);
      if (writes_closed_ || pending_.empty()) {
        writing_ = false;
        return;
      }
      in_flight_.assign(pending_.begin(),
                        pending_.begin() + static_cast<std::ptrdiff_t>(std::min(pending_.size(), max_frames_per_write)));
    }
    headers_.resize(in_flight_.size());
    buffers_.clear();
    for (std::size_t i = 0; i < in_flight_.size(); ++i) {
      headers_[i] = ws_text_frame_header(in_flight_[i]->size());
      buffers_.emplace_back(headers_[i].bytes.data(), headers_[i].size);
      buffers_.push_back(net::buffer(*in_flight_[i]));
    }
    // The first frame's bytes the socket already took.
    for (std::size_t skip = first_sent_, b = 0; skip > 0; ++b) {
      const std::size_t n = std::min(skip, buffers_[b].size());
      buffers_[b] += n;
      skip -= n;
    }
    net::async_write(ws_.next_layer(), buffers_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(beast::error_code ec) {
    const std::size_t written = in_flight_.size();
    queued_bytes_ -= bytes_of(in_flight_);
    in_flight_.clear();
    queued_ -= written;
    bool more = false;
    bool close_now = false;
    {
      std::lock_guard lock(write_mutex_);
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(written));
      first_sent_ = 0;
      if (ec) writes_closed_ = true;
      if (close_after_write_ && (pending_.empty() || ec)) {
        writes_closed_ = true;
        close_now = !ec;
      }
      more = !writes_closed_ && !pending_.empty();
      if (!more) writing_ = false;
    }
    if (close_now) {
      close_timer_.cancel();
      return send_close();
    }
    if (more) return do_write();
    // Idle again: an idle viewer keeps no room for a burst it once had.
    if (headers_.capacity() > idle_frames_kept) {
      headers_ = {};
      buffers_ = {};
      in_flight_ = {};
    }
  }

  void send_close() {
    ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](beast::error_code) {});
  }

  websocket::stream<tcp::socket> ws_;
  net::steady_timer close_timer_;
  RealtimeEndpoint& realtime_;
  const WsLimits limits_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::shared_ptr<WsHandler> handler_;
  int send_fd_ = -1;

  std::mutex write_mutex_;  // guards the four below, taken by senders on any thread
  std::deque<Text> pending_;  // not yet written whole
  std::size_t first_sent_ = 0;  // bytes of pending_.front()'s frame already sent
  bool writing_ = false;        // the strand writes pending_; senders only append
  bool writes_closed_ = false;  // nothing more is written (closing, or failed)
  bool close_after_write_ = false;  // on the strand

  // On the strand, while a write is in flight.
  std::vector<Text> in_flight_;
  std::vector<WsFrameHeader> headers_;
  std::vector<net::const_buffer> buffers_;

  std::atomic<std::size_t> queued_{0};  // messages accepted and not yet written whole
  std::atomic<std::size_t> queued_bytes_{0};  // their bytes
  std::atomic<bool> closed_{false};
  std::atomic<bool> dropped_{false};  // past the queue's bounds: being closed
};

}  // namespace

void start_ws_session(tcp::socket&& socket, const http::request<http::string_body>& upgrade,
                      HttpRequest request, RealtimeEndpoint& realtime, WsLimits limits,
                      std::string remote) {
  std::make_shared<WsSession>(std::move(socket), realtime, limits, std::move(remote))
      ->run(upgrade, std::move(request));
}

}  // namespace souk::api
