// Engine.IO sessions: long-polling, the WebSocket transport and the upgrade,
// heartbeats, and the hand-off of Socket.IO packets to the handler's strand.
#include "souk/api/realtime/engineio_session.hpp"

#include "souk/api/http/cors.hpp"
#include "souk/api/query_string.hpp"
#include "souk/log.hpp"
#include "souk/metrics.hpp"
#include "souk/random.hpp"
#include "souk/refusals.hpp"

#include <boost/asio/post.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <utility>

namespace souk::api {

namespace net = boost::asio;
using nlohmann::json;

namespace {

SharedText shared(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

struct EngineQuery {
  std::string eio, transport, sid;
};

std::optional<EngineQuery> engine_query(const HttpRequest& r) {
  const auto q = QueryString::parse(r.query);
  if (!q) return std::nullopt;
  return EngineQuery{q->get("EIO").value_or(""), q->get("transport").value_or(""),
                     q->get("sid").value_or("")};
}

std::size_t bytes_of(std::span<const SharedText> packets) {
  std::size_t n = 0;
  for (const auto& p : packets) n += p->size();
  return n;
}

// The refusals of a new session, as souk_refused_total reasons.
constexpr const char* too_many_sessions = "realtime_sessions";
constexpr const char* too_many_from_address = "realtime_sessions_per_address";

}  // namespace

EngineIoClient::EngineIoClient(EngineIoServer& server, std::string engine_sid,
                               std::string address, net::io_context& ioc,
                               net::thread_pool& blocking)
    : RealtimeSocket(random_token(15), std::move(address)),
      sid(std::move(engine_sid)),
      work(net::make_strand(blocking)),
      timer(net::make_strand(ioc)),
      server_(server) {}

void EngineIoClient::deliver(std::span<const SharedText> packets) { server_.send(*this, packets); }

void EngineIoClient::close(const char* reason) { server_.close(shared_from_this(), reason); }

// A WebSocket's messages: first, for an upgrade, the probe; then Engine.IO packets.
class EngineWsHandler final : public WsHandler {
 public:
  EngineWsHandler(std::shared_ptr<EngineIoServer> server, std::shared_ptr<EngineIoClient> client,
                  std::shared_ptr<WsConnection> conn, bool probing)
      : server_(std::move(server)),
        client_(std::move(client)),
        conn_(std::move(conn)),
        probing_(probing) {}

  void on_message(std::string text) override {
    const auto decoded = engineio::decode_packet(text);
    if (!std::holds_alternative<engineio::Packet>(decoded))
      return fail("malformed engine.io packet");
    const auto& p = std::get<engineio::Packet>(decoded);
    if (probing_) {
      // Upgrade (Engine.IO 4): 2probe -> 3probe, then 5 moves the session here.
      if (p.type == engineio::PacketType::ping && p.data == "probe") {
        conn_->send(shared(engineio::encode_packet(engineio::PacketType::pong, "probe")));
        // The client pauses polling before it upgrades: end the poll in flight
        // (and any until the upgrade) with a noop, as the reference server does.
        std::function<void(HttpResponse)> poll;
        {
          std::lock_guard lock(client_->mutex);
          client_->upgrading = true;
          poll = std::move(client_->pending_poll);
          client_->pending_poll = nullptr;
        }
        if (poll)
          poll(server_->text_response(200, engineio::encode_packet(engineio::PacketType::noop)));
        return;
      }
      if (p.type == engineio::PacketType::upgrade) return upgrade();
      return fail("expected the upgrade probe");
    }
    if (!server_->on_engine_packet(client_, p)) fail("unexpected engine.io packet");
  }

  void on_close() override {
    if (!probing_) server_->close(client_, "websocket closed");
  }

 private:
  void upgrade() {
    std::function<void(HttpResponse)> poll;
    {
      std::lock_guard lock(client_->mutex);
      if (client_->closed) return;
      client_->upgraded = true;
      server_->polling_sessions_.dec();
      server_->websocket_sessions_.inc();
      client_->ws = conn_;
      poll = std::move(client_->pending_poll);
      client_->pending_poll = nullptr;
      // What waited for the next poll goes out first, before anything sent later.
      for (const auto& p : client_->queue) conn_->send(p);
      client_->queue.clear();
      client_->queued_bytes = 0;
    }
    probing_ = false;
    // The poll in flight ends with a noop so the client can switch.
    if (poll)
      poll(server_->text_response(200, engineio::encode_packet(engineio::PacketType::noop)));
  }

  void fail(const char* why) {
    log::info("realtime: websocket protocol error", {{"socket_id", client_->id()}, {"error", why}});
    if (probing_) {
      conn_->close();
    } else {
      server_->close(client_, why);
    }
  }

  std::shared_ptr<EngineIoServer> server_;
  std::shared_ptr<EngineIoClient> client_;
  std::shared_ptr<WsConnection> conn_;
  bool probing_;
};

EngineIoServer::EngineIoServer(net::io_context& ioc, net::thread_pool& blocking,
                               const RealtimeOptions& options,
                               std::shared_ptr<SocketHandler> handler)
    : ioc_(ioc),
      blocking_(blocking),
      options_(options),
      handler_(std::move(handler)),
      polling_sessions_(metrics::Registry::global()
                            .gauge("souk_realtime_sessions",
                                   "Socket.IO sessions open, by transport.", {"transport"}, 2)
                            .with({"polling"})),
      websocket_sessions_(metrics::Registry::global()
                              .gauge("souk_realtime_sessions",
                                     "Socket.IO sessions open, by transport.", {"transport"}, 2)
                              .with({"websocket"})) {}

// --- sending -------------------------------------------------------------------
void EngineIoServer::send(EngineIoClient& c, std::span<const SharedText> packets) {
  std::function<void(HttpResponse)> poll;
  std::vector<SharedText> batch;
  bool overflow = false;
  bool ws_full = false;
  {
    std::lock_guard lock(c.mutex);
    if (c.closed) return;
    if (c.upgraded) {
      // Under the lock, so packets reach the socket in the order they were
      // sent (WsConnection::send only queues; it takes no lock of ours).
      ws_full = c.ws && !c.ws->send(packets);
    } else if (c.queue.size() + packets.size() > options_.max_queue ||
               c.queued_bytes + bytes_of(packets) > options_.max_queue_bytes) {
      overflow = true;
    } else {
      c.queue.insert(c.queue.end(), packets.begin(), packets.end());
      c.queued_bytes += bytes_of(packets);
      if (c.pending_poll) {
        poll = std::move(c.pending_poll);
        c.pending_poll = nullptr;
        batch.assign(c.queue.begin(), c.queue.end());
        c.queue.clear();
        c.queued_bytes = 0;
      }
    }
  }
  if (overflow) {
    count_refusal("realtime_queue_full");
    return close(c.shared_from_this(), "queue full: the client stopped polling");
  }
  if (ws_full) return close(c.shared_from_this(), "websocket not reading");
  if (poll) poll(poll_response(batch));
}

HttpResponse EngineIoServer::text_response(int status, std::string body,
                                           const char* content_type) const {
  // CORS headers are added by the reply polling() wraps, which knows the Origin.
  HttpResponse res;
  res.status = status;
  res.body = std::move(body);
  res.set_header("Content-Type", content_type);
  res.set_header("Cache-Control", "no-store");
  return res;
}

HttpResponse EngineIoServer::poll_response(const std::vector<SharedText>& packets) const {
  std::vector<std::string> texts;
  texts.reserve(packets.size());
  for (const auto& p : packets) texts.push_back(*p);
  return text_response(200, engineio::encode_payload(texts));
}

// Engine.IO's error bodies: {"code": n, "message": "..."} with 400.
HttpResponse EngineIoServer::engine_error(int code, const char* message) const {
  return text_response(400, json{{"code", code}, {"message", message}}.dump(), "application/json");
}

// --- session lifecycle -----------------------------------------------------------
// A WebSocket client is upgraded from the start (its connection is set by the caller).
const char* EngineIoServer::refuse_new_session(const std::string& address) const {
  if (clients_.size() >= options_.max_connections) return too_many_sessions;
  const auto it = per_address_.find(address);
  if (it != per_address_.end() && it->second >= options_.max_per_address) {
    return too_many_from_address;
  }
  return nullptr;
}

// 503 when the server is full, 429 when the address has its share; the body as
// Engine.IO's handshake refusals have it.
HttpResponse EngineIoServer::session_refusal(const char* why) const {
  count_refusal(why);
  const bool address = why == too_many_from_address;
  HttpResponse res = text_response(
      address ? 429 : 503,
      json{{"code", 4},
           {"message", address ? "too many Socket.IO sessions from this address"
                               : "too many Socket.IO sessions; try again later"}}
          .dump(),
      "application/json");
  res.set_header("Retry-After", "10");
  return res;
}

std::shared_ptr<EngineIoClient> EngineIoServer::create_client(bool websocket,
                                                              const std::string& address,
                                                              const char*& refusal) {
  auto c = std::make_shared<EngineIoClient>(*this, random_token(15), address, ioc_, blocking_);
  c->upgraded = websocket;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) {
      refusal = "shutting down";
      return nullptr;
    }
    if ((refusal = refuse_new_session(address))) return nullptr;
    clients_.emplace(c->sid, c);
    ++per_address_[address];
  }
  (websocket ? websocket_sessions_ : polling_sessions_).inc();
  schedule_ping(c);
  return c;
}

std::shared_ptr<EngineIoClient> EngineIoServer::find(const std::string& sid) const {
  std::lock_guard lock(mutex_);
  auto it = clients_.find(sid);
  return it == clients_.end() ? nullptr : it->second;
}

void EngineIoServer::close(const std::shared_ptr<EngineIoClient>& c, const char* reason) {
  std::function<void(HttpResponse)> poll;
  std::shared_ptr<WsConnection> ws;
  {
    std::lock_guard lock(c->mutex);
    if (c->closed) return;
    c->closed = true;
    (c->upgraded ? websocket_sessions_ : polling_sessions_).dec();
    poll = std::move(c->pending_poll);
    c->pending_poll = nullptr;
    ws = c->ws;
    net::post(c->timer.get_executor(), [c] { c->timer.cancel(); });
  }
  {
    std::lock_guard lock(mutex_);
    clients_.erase(c->sid);
    if (auto it = per_address_.find(c->address()); it != per_address_.end() && --it->second == 0) {
      per_address_.erase(it);
    }
  }
  log::debug("realtime client closed", {{"socket_id", c->id()}, {"reason", reason}});
  if (poll) poll(text_response(200, engineio::encode_packet(engineio::PacketType::close)));
  if (ws) ws->close();
  // A disconnect leaves every room (persisted, announced), after the packets
  // already handed to the strand.
  net::post(c->work, [self = shared_from_this(), c] { self->handler_->on_closed(c); });
}

void EngineIoServer::schedule_ping(const std::shared_ptr<EngineIoClient>& c) {
  c->timer.expires_after(options_.ping_interval);
  c->timer.async_wait(
      [self = shared_from_this(), weak = std::weak_ptr(c)](boost::system::error_code ec) {
        auto client = weak.lock();
        if (ec || !client) return;
        {
          std::lock_guard lock(client->mutex);
          if (client->closed) return;
          client->awaiting_pong = true;
        }
        self->send(*client, shared(engineio::encode_packet(engineio::PacketType::ping)));
        client->timer.expires_after(self->options_.ping_timeout);
        client->timer.async_wait([self, weak](boost::system::error_code e) {
          auto cl = weak.lock();
          if (e || !cl) return;
          bool late = false;
          {
            std::lock_guard lock(cl->mutex);
            late = cl->awaiting_pong && !cl->closed;
          }
          if (late) return self->close(cl, "ping timeout");
          self->schedule_ping(cl);
        });
      });
}

std::vector<std::shared_ptr<RealtimeSocket>> EngineIoServer::sockets() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<RealtimeSocket>> all;
  all.reserve(clients_.size());
  for (const auto& [sid, c] : clients_) all.push_back(c);
  return all;
}

std::size_t EngineIoServer::client_count() const {
  std::lock_guard lock(mutex_);
  return clients_.size();
}

void EngineIoServer::stop() {
  std::vector<std::shared_ptr<EngineIoClient>> all;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    for (auto& [sid, c] : clients_) all.push_back(c);
  }
  for (auto& c : all) close(c, "server shutting down");
}

// --- Engine.IO packets -----------------------------------------------------------
bool EngineIoServer::on_engine_packet(const std::shared_ptr<EngineIoClient>& c,
                                      const engineio::Packet& p) {
  switch (p.type) {
    case engineio::PacketType::pong: {
      {
        std::lock_guard lock(c->mutex);
        if (!c->awaiting_pong || c->closed) return true;
        c->awaiting_pong = false;
      }
      // The next ping follows the pong by pingInterval, as in Engine.IO: a client
      // closes itself when no ping comes within pingInterval + pingTimeout of the
      // last, so pinging only after the timeout ran out too would race that limit.
      net::post(c->timer.get_executor(), [self = shared_from_this(), c] {
        c->timer.cancel();
        self->schedule_ping(c);
      });
      return true;
    }
    case engineio::PacketType::message:
      // A client may not queue more work than it lets the server finish.
      if (c->backlog.fetch_add(1) >= options_.max_backlog) {
        close(c, "too many packets waiting");
        return true;
      }
      net::post(c->work, [self = shared_from_this(), c, text = p.data] {
        // Packets that were queued before a close are not handled: a closed
        // client must not join a room after it left them all.
        bool closed = false;
        {
          std::lock_guard lock(c->mutex);
          closed = c->closed;
        }
        if (!closed) self->handler_->on_packet(c, text);
        --c->backlog;
      });
      return true;
    case engineio::PacketType::close:
      close(c, "client closed");
      return true;
    case engineio::PacketType::noop:
      return true;
    default:
      return false;  // open, ping, upgrade (outside a probe) are not the client's to send
  }
}

// --- the HTTP server's calls -----------------------------------------------------
void EngineIoServer::polling(const HttpRequest& request, std::function<void(HttpResponse)> reply) {
  // Every answer, now or later (a poll waits for data), carries the CORS
  // headers this request's Origin gets.
  reply = [cors_headers = cors::headers_for(options_.cors_origins, request.header("origin")),
           inner = std::move(reply)](HttpResponse res) {
    for (const auto& header : cors_headers) res.headers.push_back(header);
    inner(std::move(res));
  };
  const auto q = engine_query(request);
  if (!q || q->eio != "4") return reply(engine_error(5, "Unsupported protocol version"));
  if (q->transport != "polling") return reply(engine_error(0, "Transport unknown"));
  // maxPayload bounds a whole POST body, as engine.io's maxHttpBufferSize does: a
  // larger one (or one over the HTTP body limit, left unread) is 413 and ends the
  // session.
  if (request.body_too_large || request.body.size() > options_.max_payload) {
    if (auto c = q->sid.empty() ? nullptr : find(q->sid)) close(c, "payload too large");
    return reply(text_response(413, json{{"code", 3}, {"message", "Payload too large"}}.dump(),
                               "application/json"));
  }
  if (request.method == "OPTIONS") {
    HttpResponse res = text_response(204, "");
    cors::add_preflight_headers({"GET, POST, OPTIONS", "Content-Type", 0}, res);
    return reply(std::move(res));
  }
  if (q->sid.empty()) {
    if (request.method != "GET") return reply(engine_error(3, "Bad request"));
    const char* refusal = nullptr;
    auto c = create_client(false, request.client_address, refusal);
    if (!c && refusal != too_many_sessions && refusal != too_many_from_address) {
      return reply(engine_error(3, "Server shutting down"));
    }
    if (!c) return reply(session_refusal(refusal));
    const auto open = engineio::open_packet(
        c->sid, true, static_cast<int>(options_.ping_interval.count()),
        static_cast<int>(options_.ping_timeout.count()), options_.max_payload);
    return reply(text_response(200, engineio::encode_packet(engineio::PacketType::open, open)));
  }
  auto c = find(q->sid);
  if (!c) return reply(engine_error(1, "Session ID unknown"));

  if (request.method == "POST") {
    const auto decoded = engineio::decode_payload(request.body);
    if (!std::holds_alternative<std::vector<engineio::Packet>>(decoded)) {
      close(c, "malformed polling payload");
      return reply(engine_error(3, "Bad request"));
    }
    for (const auto& p : std::get<std::vector<engineio::Packet>>(decoded)) {
      if (!on_engine_packet(c, p)) {
        close(c, "unexpected engine.io packet");
        return reply(engine_error(3, "Bad request"));
      }
    }
    return reply(text_response(200, "ok"));
  }
  if (request.method != "GET") return reply(engine_error(3, "Bad request"));

  std::vector<SharedText> batch;
  bool overlapping = false;
  bool upgraded = false;
  {
    std::lock_guard lock(c->mutex);
    if (c->closed)
      return reply(text_response(200, engineio::encode_packet(engineio::PacketType::close)));
    upgraded = c->upgraded || c->upgrading;
    if (c->pending_poll) {
      overlapping = true;
    } else if (!c->queue.empty()) {
      batch.assign(c->queue.begin(), c->queue.end());
      c->queue.clear();
      c->queued_bytes = 0;
    } else if (!upgraded) {
      c->pending_poll = std::move(reply);  // answered by the next send
      return;
    }
  }
  if (overlapping) {
    close(c, "overlapping polls");
    return reply(engine_error(3, "Bad request"));
  }
  if (!batch.empty()) return reply(poll_response(batch));
  // Upgrading or upgraded: the client is leaving polling; let this poll end.
  reply(text_response(200, engineio::encode_packet(engineio::PacketType::noop)));
}

std::shared_ptr<WsHandler> EngineIoServer::websocket(const HttpRequest& request,
                                                     std::shared_ptr<WsConnection> connection) {
  const auto q = engine_query(request);
  if (!q || q->eio != "4" || q->transport != "websocket") return nullptr;
  if (!q->sid.empty()) {
    auto c = find(q->sid);
    if (!c) return nullptr;
    {
      // One upgrade per session: a second WebSocket would be a connection
      // outside the session caps.
      std::lock_guard lock(c->mutex);
      if (c->closed || c->upgraded || std::exchange(c->probed, true)) return nullptr;
    }
    return std::make_shared<EngineWsHandler>(shared_from_this(), c, std::move(connection),
                                             /*probing=*/true);
  }
  // WebSocket from the start: the open packet is the first message. The caps
  // were checked before the handshake (check_upgrade); a session that opened
  // since may still fill them: then the socket just closes.
  const char* refusal = nullptr;
  auto c = create_client(true, request.client_address, refusal);
  if (!c) return nullptr;
  {
    std::lock_guard lock(c->mutex);
    c->ws = connection;
  }
  connection->send(shared(engineio::encode_packet(
      engineio::PacketType::open,
      engineio::open_packet(c->sid, false, static_cast<int>(options_.ping_interval.count()),
                            static_cast<int>(options_.ping_timeout.count()),
                            options_.max_payload))));
  return std::make_shared<EngineWsHandler>(shared_from_this(), c, std::move(connection),
                                           /*probing=*/false);
}

}  // namespace souk::api

namespace souk::api {

std::optional<HttpResponse> EngineIoServer::check_upgrade(const HttpRequest& request) const {
  // A browser page may open a WebSocket to any host (the same-origin policy
  // does not cover it), so a list of --cors-origins is enforced here; "*", and
  // a client that sends no Origin (not a browser), go on.
  const auto& allowed = options_.cors_origins;
  const auto origin = request.header("origin");
  if (!origin.empty() && std::find(allowed.begin(), allowed.end(), "*") == allowed.end() &&
      std::find(allowed.begin(), allowed.end(), origin) == allowed.end()) {
    count_refusal("realtime_origin");
    return text_response(403, json{{"code", 4}, {"message", "Forbidden: origin not allowed"}}.dump(),
                         "application/json");
  }
  // A new session (no sid: an upgrade names the session it upgrades).
  const auto q = engine_query(request);
  if (q && q->sid.empty()) {
    const char* refusal = nullptr;
    {
      std::lock_guard lock(mutex_);
      refusal = refuse_new_session(request.client_address);
    }
    if (refusal) return session_refusal(refusal);
  }
  return std::nullopt;
}

}  // namespace souk::api
