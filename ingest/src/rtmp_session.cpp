// One RTMP connection: handshake, chunk stream, commands, and media handed to
// the hub. It owns the socket, its timers and its write queue, all on one
// executor that serializes its handlers (a one-thread event loop, or a strand).
//
//   handshake (10 s) -> connect -> [releaseStream, FCPublish] -> createStream
//   -> publish(key) -> authorize (storage, off the network thread)
//        accepted: Stream Begin + onStatus NetStream.Publish.Start, media flows
//        refused:  onStatus NetStream.Publish.BadName, then close
//   all of it within the publish deadline (10 s) of the accept.
//
// Until a publish is accepted the peer has shown no key, so it gets little:
// messages of 64 KiB at most, and no data messages before it sends publish (so
// nothing of it is decoded and kept but its commands). Whatever the state, the
// chunk reader holds at most max_partial_bytes of unfinished messages, AMF0
// decodes at most amf0::default_max_values values, and onMetaData over 64 KiB is
// ignored (issue 21).
//
// publish is answered by onStatus with transaction id 0, as nginx-rtmp sends it
// (ngx_rtmp_create_status): a notification, not publish's _result. librtmp, which
// OBS and ffmpeg use, matches onStatus by its code, so publish's id is not kept.
#include "rtmp_session.hpp"

#include "souk/ingest/flv.hpp"
#include "souk/ingest/handshake.hpp"
#include "souk/ingest/proxy_protocol.hpp"
#include "souk/ingest/rtmp_command.hpp"
#include "souk/ingest/stream_hub.hpp"
#include "souk/log.hpp"
#include "souk/metrics.hpp"
#include "souk/refusals.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <sodium.h>

#include <algorithm>
#include <deque>

namespace souk::ingest {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

namespace {

// Chunk stream ids the server writes on (as FMS and nginx-rtmp use them).
constexpr std::uint32_t csid_control = 2;
constexpr std::uint32_t csid_command = 3;
constexpr std::uint32_t csid_status = 5;
constexpr std::uint32_t publish_stream_id = 1;  // the one message stream we create

// Commands are a few hundred bytes; one larger is not from a publisher.
constexpr std::size_t max_command_size = std::size_t{64} * 1024;



class RtmpSession : public Publisher, public Connection, public std::enable_shared_from_this<RtmpSession> {
 public:
  RtmpSession(tcp::socket&& socket, std::shared_ptr<const RtmpSessionContext> server)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        server_(std::move(server)),
        reader_(server_->options.chunk_limits),
        publish_deadline_(std::chrono::steady_clock::now() + server_->options.publish_deadline) {
    reader_.set_message_limit(server_->options.max_message_size_before_publish);
    error_code ec;
    const auto ep = socket_.remote_endpoint(ec);
    if (!ec) {
      peer_ = ep.address();
      remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
    }
  }

  ~RtmpSession() override {
    if (publishing_) server_->hub.release(stream_id_, this);
  }

  void start() override {
    net::dispatch(socket_.get_executor(), [self = shared_from_this()] {
      // A trusted proxy may put a PROXY protocol header first (nginx's stream
      // module with proxy_protocol on); from anyone else one is an RTMP error.
      if (self->server_->options.trusted_proxies.contains(self->peer_)) {
        self->arm_timer(self->handshake_timeout(), "handshake timeout");
        self->do_read_proxy_header();
      } else {
        self->do_handshake();
      }
    });
  }

  // From RtmpServer::shutdown.
  void stop() override { kick("server shutting down"); }

  void kick(const char* reason) override {
    net::post(socket_.get_executor(), [self = shared_from_this(), reason] {
      if (self->closed_) return;
      log::info("rtmp publisher disconnected", {{"stream_id", self->stream_id_},
                                                {"remote", self->remote_},
                                                {"reason", reason}});
      self->close();
    });
  }

 private:
  // --- PROXY protocol ----------------------------------------------------------
  void do_read_proxy_header() {
    const auto have = pending_.size();
    pending_.resize(proxy_protocol::max_v2_size);
    socket_.async_read_some(
        net::buffer(pending_.data() + have, pending_.size() - have),
        [self = shared_from_this(), have](error_code ec, std::size_t n) {
          self->pending_.resize(have + n);
          self->on_proxy_header(ec);
        });
  }

  void on_proxy_header(error_code ec) {
    if (ec) return fail(ec, "proxy header read");
    const auto result = proxy_protocol::parse(pending_);
    switch (result.status) {
      case proxy_protocol::Status::need_more:
        // parse() decides within max_v2_size bytes; this only keeps a bug from spinning.
        if (pending_.size() >= proxy_protocol::max_v2_size) return protocol_error("PROXY header too long");
        return do_read_proxy_header();
      case proxy_protocol::Status::invalid:
        log::info("rtmp protocol error", {{"remote", remote_}, {"error", result.error}});
        return close();
      case proxy_protocol::Status::header:
        if (result.source) {
          log::debug("rtmp proxied", {{"proxy", remote_}});
          remote_ = result.source->address().to_string() + ":" +
                    std::to_string(result.source->port());
        }
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(result.size));
        break;
      case proxy_protocol::Status::none:
        break;  // a publisher on the proxy's own host, straight to our port
    }
    in_.resize(1 + handshake::packet_size);
    read_exactly(&RtmpSession::on_c0c1);
  }

  // Fills in_ (its whole size): first with bytes read ahead with the PROXY
  // header, then from the socket.
  void read_exactly(void (RtmpSession::*next)(error_code)) {
    const auto from_pending = std::min(pending_.size(), in_.size());
    std::copy_n(pending_.begin(), from_pending, in_.begin());
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(from_pending));
    net::async_read(socket_, net::buffer(in_.data() + from_pending, in_.size() - from_pending),
                    [self = shared_from_this(), next](error_code ec, std::size_t) {
                      ((*self).*next)(ec);
                    });
  }

  // --- handshake -----------------------------------------------------------
  // The handshake's own timeout, or the publish deadline when that comes first.
  std::chrono::seconds handshake_timeout() const {
    return std::min(server_->options.handshake_timeout, server_->options.publish_deadline);
  }

  void do_handshake() {
    arm_timer(handshake_timeout(), "handshake timeout");
    in_.resize(1 + handshake::packet_size);
    read_exactly(&RtmpSession::on_c0c1);
  }

  void on_c0c1(error_code ec) {
    if (ec) return fail(ec, "handshake read");
    const auto now = static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now().time_since_epoch())
            .count());
    auto response = handshake::respond(in_, now, [](std::span<std::uint8_t> b) {
      randombytes_buf(b.data(), b.size());
    });
    if (!response) {
      // The usual cause behind nginx: proxy_protocol on, but its address is not
      // in --trusted-proxies. Say so rather than "not RTMP".
      if (proxy_protocol::parse(in_).status != proxy_protocol::Status::none) {
        return protocol_error("handshake: a PROXY protocol header from a peer not in --trusted-proxies");
      }
      return protocol_error("handshake: not RTMP version 3");
    }
    send_raw(std::make_shared<std::vector<std::uint8_t>>(std::move(response->s0s1s2)));
    in_.resize(handshake::packet_size);
    read_exactly(&RtmpSession::on_c2);
  }

  void on_c2(error_code ec) {
    if (ec) return fail(ec, "handshake read");
    // C2 echoes S1; nothing in it changes what we do.
    last_activity_ = std::chrono::steady_clock::now();
    arm_idle_check();
    in_.resize(std::size_t{64} * 1024);
    if (!pending_.empty()) {
      // Chunks that came with the PROXY header's read, before C2 was asked for.
      const auto n = pending_.size();
      std::copy_n(pending_.begin(), n, in_.begin());
      pending_.clear();
      return on_read({}, n);
    }
    do_read();
  }

  // --- chunk stream ----------------------------------------------------------
  void do_read() {
    socket_.async_read_some(net::buffer(in_), [self = shared_from_this()](error_code ec, std::size_t n) {
      self->on_read(ec, n);
    });
  }

  void on_read(error_code ec, std::size_t n) {
    if (ec) return fail(ec, "read");
    received_bytes_.inc(n);
    const auto err = reader_.feed(std::span(in_.data(), n), [this](RtmpMessage&& m) {
      if (!closed_) on_message(m);
    });
    if (closed_) return;  // a message already ended the session; the rest is moot
    if (err != ChunkError::none) {
      if (const char* reason = refusal_reason(err)) count_refusal(reason);
      return protocol_error(to_string(err));
    }
    maybe_acknowledge();
    do_read();
  }

  void maybe_acknowledge() {
    // Tell the peer how much we received each time its window fills (5.4.3).
    const auto received = reader_.bytes_received();
    if (peer_window_ > 0 && received - last_ack_ >= peer_window_) {
      last_ack_ = received;
      send_message(csid_control, msg_acknowledgement, 0,
                   control::acknowledgement(static_cast<std::uint32_t>(received)));
    }
  }

  void on_message(const RtmpMessage& m) {
    const auto& payload = *m.payload;
    switch (m.type) {
      case msg_window_ack_size:
        if (payload.size() >= 4) {
          peer_window_ = (std::uint32_t{payload[0]} << 24) | (std::uint32_t{payload[1]} << 16) |
                         (std::uint32_t{payload[2]} << 8) | payload[3];
        }
        return;
      case msg_user_control:
        // Ping Request (event 6) -> Ping Response with its timestamp.
        if (payload.size() >= 6 && payload[0] == 0 && payload[1] == 6) {
          const std::uint32_t ts = (std::uint32_t{payload[2]} << 24) |
                                   (std::uint32_t{payload[3]} << 16) |
                                   (std::uint32_t{payload[4]} << 8) | payload[5];
          send_message(csid_control, msg_user_control, 0, control::ping_response(ts));
        }
        return;
      case msg_command_amf0:
        return on_command(payload);
      case msg_command_amf3:
        // AMF3 commands start with a format byte; the rest is AMF0 in practice.
        if (!payload.empty() && payload[0] == 0) {
          return on_command(std::span(payload).subspan(1));
        }
        return;
      case msg_data_amf0:
        return on_data(payload);
      case msg_audio:
      case msg_video:
        return on_media(m);
      default:
        return;  // Set Chunk Size and Abort were applied by the reader; the rest is advisory
    }
  }

  // --- commands --------------------------------------------------------------
  void on_command(std::span<const std::uint8_t> payload) {
    if (payload.size() > max_command_size) {
      count_refusal("rtmp_command_size");
      return protocol_error("command too large");
    }
    auto cmd = parse_command(payload);
    if (!cmd) return protocol_error("malformed command");
    const auto& name = cmd->name;
    if (name == "connect") return on_connect(*cmd);
    if (!connected_) return protocol_error("command before connect");
    if (name == "createStream") {
      return send_command(csid_command, 0, "_result",
                          {cmd->transaction_id, nullptr, static_cast<double>(publish_stream_id)});
    }
    if (name == "releaseStream" || name == "FCPublish") {
      // Answered for clients that wait for it; the decision comes with publish.
      return send_command(csid_command, 0, "_result", {cmd->transaction_id, nullptr, amf0::Undefined{}});
    }
    if (name == "publish") return on_publish(*cmd);
    if (name == "FCUnpublish" || name == "deleteStream" || name == "closeStream") {
      if (publishing_) {
        log::info("rtmp unpublish", {{"stream_id", stream_id_}, {"remote", remote_}});
        stop_publishing();
      }
      return;
    }
    // Anything else (_checkbw, getStreamLength, play...) is not for an ingest server.
    if (cmd->transaction_id != 0) {
      send_command(csid_command, 0, "_error",
                   {cmd->transaction_id, nullptr,
                    status_object("error", "NetConnection.Call.Failed",
                                  "unsupported: " + name.substr(0, 64))});
    }
  }

  void on_connect(const Command& cmd) {
    if (connected_) return protocol_error("connect twice");
    const auto app = connect_app(cmd);
    if (app != server_->options.app) {
      log::info("rtmp connect refused", {{"remote", remote_}, {"app", loggable_app(app, server_->options.app)}});
      send_command(csid_command, 0, "_error",
                   {cmd.transaction_id, nullptr,
                    status_object("error", "NetConnection.Connect.Rejected",
                                  "unknown application; publish to /" + server_->options.app)});
      return close_after_writes();
    }
    connected_ = true;
    const auto& o = server_->options;
    send_message(csid_control, msg_window_ack_size, 0, control::window_ack_size(o.window_ack_size));
    send_message(csid_control, msg_set_peer_bandwidth, 0,
                 control::set_peer_bandwidth(o.window_ack_size, 2));
    // Announce our chunk size (in the old one), then use it.
    send_message(csid_control, msg_set_chunk_size, 0, control::set_chunk_size(o.out_chunk_size));
    writer_.set_chunk_size(o.out_chunk_size);
    amf0::Value props = amf0::Object{{{"fmsVer", "FMS/3,0,1,123"}, {"capabilities", 31.0}}};
    amf0::Object info{{{"level", "status"},
                       {"code", "NetConnection.Connect.Success"},
                       {"description", "Connection succeeded."},
                       {"objectEncoding", 0.0}}};
    send_command(csid_command, 0, "_result", {cmd.transaction_id, props, amf0::Value(info)});
  }

  void on_publish(const Command& cmd) {
    if (publishing_ || authorizing_) return protocol_error("publish twice");
    const std::string* name = cmd.args.empty() ? nullptr : cmd.args[0].as_string();
    if (!name) return protocol_error("publish without a stream name");
    authorizing_ = true;
    // The key is checked against storage off the network threads; the answer
    // comes back to this session's executor.
    server_->authorizer.authorize(
        stream_key_of(*name),
        [self = shared_from_this()](std::optional<std::string> stream_id) {
          net::post(self->socket_.get_executor(), [self, stream_id = std::move(stream_id)] {
            self->on_authorized(stream_id);
          });
        });
  }

  void on_authorized(const std::optional<std::string>& stream_id) {
    authorizing_ = false;
    if (closed_) return;
    if (!stream_id) {
      log::info("rtmp publish refused", {{"remote", remote_}, {"reason", "unknown or ended stream key"}});
      return refuse("NetStream.Publish.BadName", "the stream key is not the key of a live stream");
    }
    if (!server_->hub.claim(*stream_id, shared_from_this())) {
      log::info("rtmp publish refused", {{"stream_id", *stream_id},
                                         {"remote", remote_},
                                         {"reason", "another publisher is sending"}});
      return refuse("NetStream.Publish.BadName", "this stream already has a publisher");
    }
    publishing_ = true;
    published_ = true;
    stream_id_ = *stream_id;
    // The key is good: media and metadata of full size may come now.
    reader_.set_message_limit(server_->options.chunk_limits.max_message_size);
    log::info("rtmp publish started", {{"stream_id", stream_id_}, {"remote", remote_}});
    send_message(csid_control, msg_user_control, 0, control::stream_begin(publish_stream_id));
    send_command(csid_status, publish_stream_id, "onStatus",
                 {0.0, nullptr,
                  status_object("status", "NetStream.Publish.Start", "Publishing started.")});
    if (pending_metadata_) {
      server_->hub.on_metadata(stream_id_, this, *pending_metadata_);
      pending_metadata_.reset();
    }
  }

  void refuse(const char* code, const std::string& description) {
    send_command(csid_status, publish_stream_id, "onStatus",
                 {0.0, nullptr, status_object("error", code, description)});
    close_after_writes();
  }

  // --- data and media ----------------------------------------------------------
  void on_data(std::span<const std::uint8_t> payload) {
    if (!publishing_ && !authorizing_) {
      // Not asked for publish yet: nothing of it is decoded or kept. A client
      // that sends @setDataFrame right after publish, without waiting for
      // Publish.Start, still has it kept (authorizing_).
      count_refusal("rtmp_data_before_publish");
      return;
    }
    if (payload.size() > server_->options.max_metadata_bytes) {
      count_refusal("rtmp_metadata_size");
      if (!metadata_refusal_logged_) {
        metadata_refusal_logged_ = true;
        log::info("rtmp data message ignored: too large",
                  {{"stream_id", stream_id_}, {"remote", remote_},
                   {"bytes", static_cast<std::uint64_t>(payload.size())}});
      }
      return;
    }
    auto metadata = metadata_of(payload);
    if (!metadata) return;  // another data message, or malformed: not worth a disconnect
    if (publishing_) {
      server_->hub.on_metadata(stream_id_, this, *metadata);
    } else {
      pending_metadata_ = std::move(metadata);
    }
  }

  void on_media(const RtmpMessage& m) {
    if (!publishing_) return;  // media before Publish.Start is not ours to keep
    const auto kind = m.type == msg_audio ? MediaKind::audio : MediaKind::video;
    const auto tag = parse_tag(kind, *m.payload);
    if (!tag || tag->end_of_sequence) return;
    last_activity_ = std::chrono::steady_clock::now();
    const auto ts = repair_.next(kind, m.timestamp);
    if (ts.repair == TimestampRepair::Repair::clamped && clamps_++ % 100 == 0) {
      log::warn("rtmp timestamp went backwards; clamped",
                {{"stream_id", stream_id_}, {"track", kind == MediaKind::audio ? "audio" : "video"},
                 {"clamps", clamps_}});
    } else if (ts.repair == TimestampRepair::Repair::rebased) {
      // A publisher whose clock jumps on every frame would write a line per frame.
      if (const auto suppressed = jump_log_.admit()) {
        log::warn("rtmp timestamp jumped; the track continues from its last frame",
                  {{"stream_id", stream_id_}, {"track", kind == MediaKind::audio ? "audio" : "video"},
                   {"timestamp_ms", static_cast<std::int64_t>(m.timestamp)}, {"dts_ms", ts.dts},
                   {"suppressed", *suppressed}});
      }
    }
    auto frame = std::make_shared<Frame>();
    frame->stream_id = stream_id_;
    frame->kind = kind;
    frame->codec_id = tag->codec_id;
    frame->dts_ms = ts.dts;
    frame->pts_ms = ts.dts + tag->composition_time_ms;
    frame->keyframe = tag->keyframe;
    frame->sequence_header = tag->sequence_header;
    frame->buffer = m.payload;  // shared, never copied
    frame->offset = tag->offset;
    server_->hub.on_frame(this, frame);
  }

  void stop_publishing() {
    if (!publishing_) return;
    publishing_ = false;
    server_->hub.release(stream_id_, this);
  }

  // --- writing -----------------------------------------------------------------
  void send_command(std::uint32_t csid, std::uint32_t stream_id, const char* name,
                    std::initializer_list<amf0::Value> args) {
    std::vector<std::uint8_t> payload;
    amf0::encode(amf0::Value(name), payload);
    for (const auto& a : args) amf0::encode(a, payload);
    send_message(csid, msg_command_amf0, stream_id, payload);
  }

  void send_message(std::uint32_t csid, std::uint8_t type, std::uint32_t stream_id,
                    const std::vector<std::uint8_t>& payload) {
    auto out = std::make_shared<std::vector<std::uint8_t>>();
    writer_.write(csid, type, 0, stream_id, payload, *out);
    send_raw(std::move(out));
  }

  void send_raw(std::shared_ptr<std::vector<std::uint8_t>> bytes) {
    if (closed_) return;
    // A peer that does not read what we answer is not a publisher we can serve.
    queued_bytes_ += bytes->size();
    if (queued_bytes_ > max_queued_bytes) return protocol_error("peer does not read our replies");
    queue_.push_back(std::move(bytes));
    if (queue_.size() == 1) do_write();
  }

  void do_write() {
    net::async_write(socket_, net::buffer(*queue_.front()),
                     [self = shared_from_this()](error_code ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(error_code ec) {
    if (ec) return fail(ec, "write");
    queued_bytes_ -= queue_.front()->size();
    queue_.pop_front();
    if (!queue_.empty()) return do_write();
    if (close_when_written_) close();
  }

  void close_after_writes() {
    close_when_written_ = true;
    if (queue_.empty()) close();
  }

  // --- timers and endings ------------------------------------------------------
  void arm_timer(std::chrono::seconds after, const char* reason) {
    timer_.expires_after(after);
    timer_.async_wait([self = shared_from_this(), reason](error_code ec) {
      if (ec || self->closed_) return;
      log::info("rtmp connection closed", {{"remote", self->remote_}, {"reason", reason}});
      self->close();
    });
  }

  // Checks every second that the publish deadline is kept and that media (or,
  // before publishing, anything) still flows.
  void arm_idle_check() {
    timer_.expires_after(std::chrono::seconds(1));
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec || self->closed_) return;
      const auto now = std::chrono::steady_clock::now();
      // A key being checked gets its answer first: that decides.
      if (!self->published_ && !self->authorizing_ && now >= self->publish_deadline_) {
        count_refusal("rtmp_publish_deadline");
        log::info("rtmp connection closed", {{"remote", self->remote_},
                                             {"reason", "no publish within the publish deadline"}});
        return self->close();
      }
      if (now - self->last_activity_ > self->server_->options.idle_timeout) {
        log::info("rtmp connection closed", {{"stream_id", self->stream_id_},
                                             {"remote", self->remote_},
                                             {"reason", "no media within the idle timeout"}});
        return self->close();
      }
      self->arm_idle_check();
    });
  }

  void protocol_error(const char* what) {
    log::info("rtmp protocol error", {{"remote", remote_}, {"stream_id", stream_id_}, {"error", what}});
    close();
  }

  void fail(error_code ec, const char* op) {
    if (closed_) return;
    if (ec != net::error::eof && ec != net::error::connection_reset &&
        ec != net::error::operation_aborted) {
      log::debug("rtmp connection failed", {{"remote", remote_}, {"op", op}, {"error", ec.message()}});
    }
    if (publishing_) log::info("rtmp publisher gone", {{"stream_id", stream_id_}, {"remote", remote_}});
    close();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    stop_publishing();
    error_code ec;
    timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  tcp::socket socket_;
  net::steady_timer timer_;
  std::shared_ptr<const RtmpSessionContext> server_;
  boost::asio::ip::address peer_;
  std::string remote_;  // the client, IP:port (behind a trusted proxy, from its PROXY header)
  std::vector<std::uint8_t> in_;
  std::vector<std::uint8_t> pending_;  // read with the PROXY header, not yet consumed
  ChunkReader reader_;
  ChunkWriter writer_;
  std::chrono::steady_clock::time_point publish_deadline_;
  std::deque<std::shared_ptr<std::vector<std::uint8_t>>> queue_;
  // Every byte read from RTMP connections, publishing or not (one counter for all).
  metrics::Counter& received_bytes_ =
      metrics::Registry::global()
          .counter("souk_ingest_received_bytes_total", "Bytes read from RTMP connections.")
          .get();
  std::size_t queued_bytes_ = 0;
  static constexpr std::size_t max_queued_bytes = std::size_t{4} * 1024 * 1024;
  TimestampRepair repair_;
  std::optional<amf0::Value> pending_metadata_;
  std::string stream_id_;
  std::chrono::steady_clock::time_point last_activity_ = std::chrono::steady_clock::now();
  std::uint64_t last_ack_ = 0;
  std::uint32_t peer_window_ = 0;
  std::uint64_t clamps_ = 0;
  LogThrottle jump_log_;  // "timestamp jumped": one line per 10 s of this session
  bool connected_ = false;
  bool authorizing_ = false;
  bool publishing_ = false;
  bool published_ = false;  // a publish was accepted once: the deadline is met
  bool metadata_refusal_logged_ = false;
  bool closed_ = false;
  bool close_when_written_ = false;
};

}  // namespace

std::shared_ptr<Connection> make_rtmp_session(tcp::socket&& socket,
                                              std::shared_ptr<const RtmpSessionContext> context) {
  return std::make_shared<RtmpSession>(std::move(socket), std::move(context));
}

}  // namespace souk::ingest
