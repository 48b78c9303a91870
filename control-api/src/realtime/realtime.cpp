// Socket.IO over Engine.IO: sessions, transports, rooms and the events of API.md.
#include "souk/api/realtime/realtime.hpp"

#include "souk/api/api_error.hpp"
#include "souk/api/realtime/engineio_codec.hpp"
#include "souk/api/query_string.hpp"
#include "souk/api/realtime/socketio_codec.hpp"
#include "souk/api/stream_access.hpp"
#include "souk/api/validate.hpp"
#include "souk/api/views.hpp"
#include "souk/log.hpp"
#include "souk/metrics.hpp"
#include "souk/random.hpp"
#include "souk/storage/auth_tokens.hpp"
#include "souk/storage/database.hpp"
#include "souk/storage/engagement.hpp"
#include "souk/storage/sqlite.hpp"
#include "souk/storage/stream_products.hpp"
#include "souk/storage/streams.hpp"
#include "souk/storage/users.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <atomic>
#include <deque>
#include <span>
#include <unordered_map>

namespace souk::api {

namespace net = boost::asio;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

using SharedText = std::shared_ptr<const std::string>;

SharedText shared(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

// An Engine.IO message carrying a Socket.IO event, encoded once for everyone.
SharedText event_packet(std::string_view event, const json& payload) {
  return shared(engineio::encode_packet(engineio::PacketType::message,
                                        socketio::encode_event(event, payload)));
}

// A refusal the client can act on.
struct EventError {
  std::string code;
  std::string message;
};

}  // namespace

class RealtimeClient : public std::enable_shared_from_this<RealtimeClient> {
 public:
  RealtimeClient(std::string engine_sid, net::io_context& ioc, net::thread_pool& blocking)
      : sid(std::move(engine_sid)),
        socket_id(random_token(15)),
        work(net::make_strand(blocking)),
        timer(net::make_strand(ioc)) {}

  const std::string sid;        // Engine.IO session id
  const std::string socket_id;  // Socket.IO socket id
  net::strand<net::thread_pool::executor_type> work;  // this client's event handling, in order
  net::steady_timer timer;  // heartbeat; used only on its own strand

  // Transport state, under `mutex`.
  std::mutex mutex;
  bool closed = false;
  bool upgrading = false;  // a WebSocket probe succeeded; polls end with noop until the upgrade
  bool upgraded = false;   // websocket is the transport
  std::shared_ptr<WsConnection> ws;
  std::deque<SharedText> queue;  // for polling
  std::function<void(HttpResponse)> pending_poll;
  bool awaiting_pong = false;
  std::string signed_in_user;  // the user id once CONNECT authenticated (for notifications)

  std::atomic<int> backlog{0};  // Socket.IO packets posted to `work`, not yet handled

  // Socket.IO state, touched only on `work`.
  bool connected = false;
  std::optional<storage::User> user;
  std::map<std::string, std::int64_t> rooms;  // stream id -> viewer session id

  std::string viewer_key() const { return user ? user->id : socket_id; }
};

// The packets broadcast to a room and not yet sent (see Impl::broadcast).
struct Fanout {
  std::mutex mutex;
  std::vector<SharedText> waiting;
  bool sending = false;  // a thread is sending the room's packets
};

// A stream's room: who is in it, and its broadcasts. The fanout is shared so a
// thread sending a pass keeps it after the room is gone.
struct Room {
  std::set<std::shared_ptr<RealtimeClient>> members;
  std::shared_ptr<Fanout> fanout = std::make_shared<Fanout>();
};

struct Realtime::Impl : std::enable_shared_from_this<Realtime::Impl> {
  static constexpr int max_backlog = 256;

  Impl(net::io_context& i, net::thread_pool& b, storage::Database& d, RealtimeOptions o)
      : ioc(i), blocking(b), db(d), options(std::move(o)), viewer_timer(net::make_strand(i)) {}

  // Metrics, looked up once: sessions by transport, chat messages and reactions stored.
  metrics::Family<metrics::Gauge>& sessions_family = metrics::Registry::global().gauge(
      "souk_realtime_sessions", "Socket.IO sessions open, by transport.", {"transport"}, 2);
  metrics::Gauge& polling_sessions = sessions_family.with({"polling"});
  metrics::Gauge& websocket_sessions = sessions_family.with({"websocket"});
  metrics::Counter& chat_messages =
      metrics::Registry::global().counter("souk_chat_messages_total", "Chat messages stored and broadcast.").get();
  metrics::Counter& reactions =
      metrics::Registry::global().counter("souk_reactions_total", "Reactions stored and broadcast.").get();

  net::io_context& ioc;
  net::thread_pool& blocking;
  storage::Database& db;
  RealtimeOptions options;
  net::steady_timer viewer_timer;

  mutable std::mutex mutex;  // the maps below
  std::unordered_map<std::string, std::shared_ptr<RealtimeClient>> clients;      // by sid
  std::map<std::string, Room> rooms;  // by stream id
  std::set<std::string> media_seen;  // streams whose media started at least once

  std::mutex chat_mutex;
  std::unordered_map<std::string, std::deque<Clock::time_point>> chat_times;  // by user id
  bool stopped = false;

  // --- sending ---------------------------------------------------------------
  void send(const std::shared_ptr<RealtimeClient>& c, const SharedText& packet) {
    send(c, std::span<const SharedText>(&packet, 1));
  }

  void send(const std::shared_ptr<RealtimeClient>& c, std::span<const SharedText> packets) {
    std::function<void(HttpResponse)> poll;
    std::vector<SharedText> batch;
    bool overflow = false;
    bool ws_full = false;
    {
      std::lock_guard lock(c->mutex);
      if (c->closed) return;
      if (c->upgraded) {
        // Under the lock, so packets reach the socket in the order they were
        // sent (WsConnection::send only queues; it takes no lock of ours).
        ws_full = c->ws && !c->ws->send(packets);
      } else if (c->queue.size() + packets.size() > options.max_queue) {
        overflow = true;
      } else {
        c->queue.insert(c->queue.end(), packets.begin(), packets.end());
        if (c->pending_poll) {
          poll = std::move(c->pending_poll);
          c->pending_poll = nullptr;
          batch.assign(c->queue.begin(), c->queue.end());
          c->queue.clear();
        }
      }
    }
    if (overflow) return close(c, "queue full: the client stopped polling");
    if (ws_full) return close(c, "websocket not reading");
    if (poll) poll(poll_response(batch));
  }

  // Sends a packet to every member of a room, in the order broadcasts come. One
  // thread at a time sends a room's packets: the one that finds none being sent
  // sends its own at once, and what other threads broadcast meanwhile waits in
  // the room's fanout, for its next pass. A quiet room's message leaves without a
  // hand-off; a busy room costs one write per viewer per pass (several frames
  // in one sendmsg), not one per viewer per message, which is what lets a room
  // of thousands carry hundreds of messages a second.
  void broadcast(const std::string& stream_id, const SharedText& packet) {
    std::shared_ptr<Fanout> fanout;
    {
      std::lock_guard lock(mutex);
      auto it = rooms.find(stream_id);
      if (it == rooms.end()) return;  // nobody in the room
      fanout = it->second.fanout;
    }
    {
      std::lock_guard lock(fanout->mutex);
      fanout->waiting.push_back(packet);
      if (std::exchange(fanout->sending, true)) return;
    }
    std::vector<SharedText> batch;
    try {
      for (;;) {
        {
          std::lock_guard lock(fanout->mutex);
          if (fanout->waiting.empty()) {
            fanout->sending = false;
            return;
          }
          batch.swap(fanout->waiting);
        }
        for (const auto& c : members(stream_id)) send(c, batch);
        batch.clear();
      }
    } catch (...) {
      std::lock_guard lock(fanout->mutex);
      fanout->sending = false;
      throw;
    }
  }

  std::vector<std::shared_ptr<RealtimeClient>> members(const std::string& stream_id) {
    std::lock_guard lock(mutex);
    auto it = rooms.find(stream_id);
    if (it == rooms.end()) return {};
    return {it->second.members.begin(), it->second.members.end()};
  }

  HttpResponse text_response(int status, std::string body,
                             const char* content_type = "text/plain; charset=UTF-8") const {
    HttpResponse res;
    res.status = status;
    res.body = std::move(body);
    res.set_header("Content-Type", content_type);
    res.set_header("Cache-Control", "no-store");
    const auto& o = options.cors_origins;
    if (std::find(o.begin(), o.end(), "*") != o.end()) res.set_header("Access-Control-Allow-Origin", "*");
    return res;
  }

  HttpResponse poll_response(const std::vector<SharedText>& packets) const {
    std::vector<std::string> texts;
    texts.reserve(packets.size());
    for (const auto& p : packets) texts.push_back(*p);
    return text_response(200, engineio::encode_payload(texts));
  }

  // Engine.IO's error bodies: {"code": n, "message": "..."} with 400.
  HttpResponse engine_error(int code, const char* message) const {
    return text_response(400, json{{"code", code}, {"message", message}}.dump(), "application/json");
  }

  // --- session lifecycle -------------------------------------------------------
  // A WebSocket client is upgraded from the start (its connection is set by the caller).
  std::shared_ptr<RealtimeClient> create_client(bool websocket) {
    auto c = std::make_shared<RealtimeClient>(random_token(15), ioc, blocking);
    c->upgraded = websocket;
    {
      std::lock_guard lock(mutex);
      if (stopped) return nullptr;
      clients.emplace(c->sid, c);
    }
    (websocket ? websocket_sessions : polling_sessions).inc();
    schedule_ping(c);
    return c;
  }

  std::shared_ptr<RealtimeClient> find(const std::string& sid) {
    std::lock_guard lock(mutex);
    auto it = clients.find(sid);
    return it == clients.end() ? nullptr : it->second;
  }

  void close(const std::shared_ptr<RealtimeClient>& c, const char* reason) {
    std::function<void(HttpResponse)> poll;
    std::shared_ptr<WsConnection> ws;
    {
      std::lock_guard lock(c->mutex);
      if (c->closed) return;
      c->closed = true;
      (c->upgraded ? websocket_sessions : polling_sessions).dec();
      poll = std::move(c->pending_poll);
      c->pending_poll = nullptr;
      ws = c->ws;
      net::post(c->timer.get_executor(), [c] { c->timer.cancel(); });
    }
    {
      std::lock_guard lock(mutex);
      clients.erase(c->sid);
    }
    log::debug("realtime client closed", {{"socket_id", c->socket_id}, {"reason", reason}});
    if (poll) poll(text_response(200, engineio::encode_packet(engineio::PacketType::close)));
    if (ws) ws->close();
    // A disconnect leaves every room (persisted, announced).
    net::post(c->work, [self = shared_from_this(), c] { self->leave_all(c); });
  }

  void schedule_ping(const std::shared_ptr<RealtimeClient>& c) {
    c->timer.expires_after(options.ping_interval);
    c->timer.async_wait([self = shared_from_this(), weak = std::weak_ptr(c)](boost::system::error_code ec) {
      auto client = weak.lock();
      if (ec || !client) return;
      {
        std::lock_guard lock(client->mutex);
        if (client->closed) return;
        client->awaiting_pong = true;
      }
      self->send(client, shared(engineio::encode_packet(engineio::PacketType::ping)));
      client->timer.expires_after(self->options.ping_timeout);
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

  // --- Engine.IO packets ---------------------------------------------------------
  // Returns false when the packet is a protocol violation (the caller closes).
  bool on_engine_packet(const std::shared_ptr<RealtimeClient>& c, const engineio::Packet& p) {
    switch (p.type) {
      case engineio::PacketType::pong: {
        std::lock_guard lock(c->mutex);
        c->awaiting_pong = false;
        return true;
      }
      case engineio::PacketType::message:
        // A client may not queue more work than it lets the server finish.
        if (c->backlog.fetch_add(1) >= max_backlog) {
          close(c, "too many packets waiting");
          return true;
        }
        net::post(c->work, [self = shared_from_this(), c, text = p.data] {
          self->on_socketio(c, text);
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

  // --- Socket.IO packets (on the client's strand) ----------------------------------
  void on_socketio(const std::shared_ptr<RealtimeClient>& c, const std::string& text) {
    {
      // Packets that were queued before a close are not handled: a closed client
      // must not join a room after it left them all.
      std::lock_guard lock(c->mutex);
      if (c->closed) return;
    }
    auto decoded = socketio::decode(text);
    if (std::holds_alternative<socketio::DecodeError>(decoded)) {
      log::info("realtime: malformed packet", {{"socket_id", c->socket_id},
                                               {"error", socketio::to_string(std::get<socketio::DecodeError>(decoded))}});
      return close(c, "malformed packet");
    }
    const auto& p = std::get<socketio::Packet>(decoded);
    if (p.type == socketio::PacketType::connect) return on_connect(c, p);
    if (p.nsp != "/" || !c->connected) {
      return close(c, "packet for a namespace the client is not connected to");
    }
    if (p.type == socketio::PacketType::disconnect) {
      leave_all(c);
      c->connected = false;
      return;
    }
    if (p.type != socketio::PacketType::event) return;  // acks from the client: nothing asked
    const std::string name = p.data[0].get<std::string>();
    const json payload = p.data.size() > 1 ? p.data[1] : json();
    json result;
    std::optional<EventError> error;
    try {
      result = on_event(c, name, payload);
    } catch (const EventError& e) {
      error = e;
    } catch (const ApiError& e) {
      error = EventError{e.code(), e.what()};
    } catch (const storage::SqliteError& e) {
      log::error("realtime event failed", {{"event", name}, {"error", e.what()}});
      error = e.is_full() ? EventError{"storage_full", "the server's storage is full; try again later"}
                          : EventError{"internal_error", "the server failed to handle this event"};
    } catch (const std::exception& e) {
      log::error("realtime event failed", {{"event", name}, {"error", e.what()}});
      error = EventError{"internal_error", "the server failed to handle this event"};
    }
    const json error_json = error ? json{{"code", error->code}, {"message", error->message}} : json();
    if (p.id) {
      json ack = error ? json{{"ok", false}, {"error", error_json}} : result;
      if (!error) ack["ok"] = true;
      send(c, shared(engineio::encode_packet(engineio::PacketType::message, socketio::encode_ack(*p.id, ack))));
    } else if (error) {
      send(c, event_packet("error", error_json));
    }
  }

  void on_connect(const std::shared_ptr<RealtimeClient>& c, const socketio::Packet& p) {
    const auto refuse = [&](std::string_view message) {
      send(c, shared(engineio::encode_packet(engineio::PacketType::message,
                                             socketio::encode_connect_error(p.nsp, message))));
    };
    if (p.nsp != "/") return refuse("Invalid namespace");
    if (p.data.is_object() && p.data.contains("token")) {
      const auto& t = p.data["token"];
      if (!t.is_string() || t.get<std::string>().empty()) return refuse("invalid token");
      const auto hash = sha256(t.get<std::string>());
      try {
        c->user = db.read([&](storage::Connection& conn) -> std::optional<storage::User> {
          const auto id = storage::auth_tokens::find_user(conn, hash, now_millis());
          return id ? storage::users::find_by_id(conn, *id) : std::nullopt;
        });
      } catch (const std::exception& e) {
        log::error("realtime: token check failed", {{"error", e.what()}});
        return refuse("the server could not check the token; try again");
      }
      if (!c->user) return refuse("invalid token: unknown, expired or revoked");
    }
    c->connected = true;
    if (c->user) {
      std::lock_guard lock(c->mutex);
      c->signed_in_user = c->user->id;
    }
    send(c, shared(engineio::encode_packet(engineio::PacketType::message, socketio::encode_connect(c->socket_id))));
  }

  static std::string stream_id_of(const json& payload) {
    if (!payload.is_object() || !payload.contains("stream_id") || !payload["stream_id"].is_string()) {
      throw EventError{"invalid_payload", "send {stream_id: \"...\"}"};
    }
    return payload["stream_id"].get<std::string>();
  }

  const storage::User& require_user(const std::shared_ptr<RealtimeClient>& c) {
    if (!c->user) throw EventError{"unauthorized", "sign in to do this: connect with auth {token}"};
    return *c->user;
  }

  json on_event(const std::shared_ptr<RealtimeClient>& c, const std::string& name, const json& payload) {
    // Events for signed-in users refuse anyone else before judging the payload.
    if (name == "stream:chat" || name == "stream:reaction" || name == "stream:prepare") require_user(c);
    if (name == "stream:join") return join(c, stream_id_of(payload));
    if (name == "stream:leave") return leave(c, stream_id_of(payload), true);
    if (name == "stream:chat") return chat(c, stream_id_of(payload), payload);
    if (name == "stream:reaction") return react(c, stream_id_of(payload), payload);
    if (name == "stream:prepare") return prepare(c, stream_id_of(payload));
    throw EventError{"unknown_event", "no such event: " + name.substr(0, 64)};
  }

  json join(const std::shared_ptr<RealtimeClient>& c, const std::string& stream_id) {
    const auto now = now_millis();
    std::int64_t count = 0;
    bool fresh = false;
    {
      std::lock_guard lock(mutex);
      auto& room = rooms[stream_id].members;
      fresh = room.insert(c).second;
      count = static_cast<std::int64_t>(room.size());
    }
    json products = json::array();
    std::vector<storage::ChatMessage> recent;
    try {
      db.write([&](storage::Connection& conn) {
        load_stream(conn, stream_id);  // 404 -> stream_not_found
        if (fresh) {
          c->rooms[stream_id] = storage::viewer_sessions::open(
              conn, stream_id, c->socket_id, c->user ? std::optional(c->user->id) : std::nullopt,
              c->viewer_key(), now);
          storage::record_viewer_count(conn, stream_id, count);
        }
        for (const auto& sp : storage::stream_products::list(conn, stream_id)) {
          products.push_back(stream_product_json(sp));
        }
        recent = storage::chat::recent(conn, stream_id, 100);
      });
    } catch (...) {
      if (fresh) {
        std::lock_guard lock(mutex);
        remove_member(c, stream_id);
      }
      throw;
    }
    json chat_json = json::array();
    for (const auto& m : recent) chat_json.push_back(chat_message_json(m));
    send(c, event_packet("stream:joined", {{"streamId", stream_id},
                                          {"viewerCount", count},
                                          {"recentChat", std::move(chat_json)},
                                          {"products", std::move(products)}}));
    if (fresh) {
      broadcast(stream_id, event_packet("viewer:joined", {{"streamId", stream_id},
                                                         {"viewerCount", count},
                                                         {"userId", user_id_json(c)}}));
    }
    return {{"streamId", stream_id}, {"viewerCount", count}};
  }

  // Under `mutex`: takes c out of the room, and the room away once empty. The
  // members left.
  std::int64_t remove_member(const std::shared_ptr<RealtimeClient>& c, const std::string& stream_id) {
    auto room = rooms.find(stream_id);
    if (room == rooms.end()) return 0;
    room->second.members.erase(c);
    const auto count = static_cast<std::int64_t>(room->second.members.size());
    if (count == 0) rooms.erase(room);
    return count;
  }

  json leave(const std::shared_ptr<RealtimeClient>& c, const std::string& stream_id, bool asked) {
    auto it = c->rooms.find(stream_id);
    if (it == c->rooms.end()) {
      if (asked) throw EventError{"not_joined", "this socket is not in that stream's room"};
      return {};
    }
    const auto session = it->second;
    c->rooms.erase(it);
    std::int64_t count = 0;
    {
      std::lock_guard lock(mutex);
      count = remove_member(c, stream_id);
    }
    const auto now = now_millis();
    try {
      db.write([&](storage::Connection& conn) {
        storage::viewer_sessions::close(conn, session, now);
        storage::record_viewer_count(conn, stream_id, count);
      });
    } catch (const std::exception& e) {
      log::error("realtime: recording a leave failed", {{"stream_id", stream_id}, {"error", e.what()}});
    }
    broadcast(stream_id, event_packet("viewer:left", {{"streamId", stream_id},
                                                     {"viewerCount", count},
                                                     {"userId", user_id_json(c)}}));
    return {{"streamId", stream_id}, {"viewerCount", count}};
  }

  void leave_all(const std::shared_ptr<RealtimeClient>& c) {
    std::vector<std::string> ids;
    for (const auto& [id, session] : c->rooms) ids.push_back(id);
    for (const auto& id : ids) leave(c, id, false);
  }

  json chat(const std::shared_ptr<RealtimeClient>& c, const std::string& stream_id, const json& payload) {
    const auto& me = require_user(c);
    if (!payload.contains("message") || !payload["message"].is_string()) {
      throw EventError{"invalid_message", "send {stream_id, message: \"...\"}"};
    }
    const std::string text = validate::trim(payload["message"].get<std::string>());
    const auto length = validate::utf8_length(text);
    if (length < 1 || length > 200) {
      throw EventError{"invalid_message", "a message is 1 to 200 characters"};
    }
    // At most N messages in any rolling minute per user, across all their
    // sockets. The slot is taken before the write and given back if it fails.
    const auto slot = take_chat_slot(me.id);
    storage::ChatMessage m{uuid_v4(), stream_id, me.id, me.username, me.avatar_url, text, now_millis()};
    try {
      db.write([&](storage::Connection& conn) {
        const auto s = load_stream(conn, stream_id);
        if (s.status == "ended") throw EventError{"stream_ended", "the stream has ended"};
        if (!s.settings.enable_chat) throw EventError{"chat_disabled", "chat is off for this stream"};
        storage::chat::insert(conn, m);
      });
    } catch (...) {
      give_back_chat_slot(me.id, slot);
      throw;
    }
    chat_messages.inc();
    broadcast(stream_id, event_packet("chat:message", chat_message_json(m)));
    return {{"id", m.id}};
  }

  Clock::time_point take_chat_slot(const std::string& user_id) {
    std::lock_guard lock(chat_mutex);
    const auto now = Clock::now();
    auto& times = chat_times[user_id];
    while (!times.empty() && now - times.front() >= std::chrono::minutes(1)) times.pop_front();
    if (static_cast<int>(times.size()) >= options.chat_per_minute) {
      throw EventError{"rate_limited", "at most 10 messages a minute"};
    }
    times.push_back(now);
    // Forget users whose minute has passed, so the map stays as small as the
    // set of recent chatters.
    if (chat_times.size() > 4096) {
      std::erase_if(chat_times, [&](const auto& entry) {
        return entry.second.empty() || now - entry.second.back() >= std::chrono::minutes(1);
      });
    }
    return now;
  }

  void give_back_chat_slot(const std::string& user_id, Clock::time_point slot) {
    std::lock_guard lock(chat_mutex);
    auto it = chat_times.find(user_id);
    if (it == chat_times.end()) return;
    auto& times = it->second;
    if (auto pos = std::find(times.begin(), times.end(), slot); pos != times.end()) times.erase(pos);
  }

  json react(const std::shared_ptr<RealtimeClient>& c, const std::string& stream_id, const json& payload) {
    const auto& me = require_user(c);
    const auto& emojis = reaction_emojis();
    if (!payload.contains("emoji") || !payload["emoji"].is_string() ||
        std::find(emojis.begin(), emojis.end(), payload["emoji"].get<std::string>()) == emojis.end()) {
      throw EventError{"invalid_emoji", "react with one of the six emojis"};
    }
    const std::string emoji = payload["emoji"];
    db.write([&](storage::Connection& conn) {
      const auto s = load_stream(conn, stream_id);
      if (s.status == "ended") throw EventError{"stream_ended", "the stream has ended"};
      storage::reactions::insert(conn, stream_id, me.id, emoji, now_millis());
    });
    reactions.inc();
    broadcast(stream_id, event_packet("reaction:new", {{"streamId", stream_id}, {"emoji", emoji}, {"userId", me.id}}));
    return json::object();
  }

  json prepare(const std::shared_ptr<RealtimeClient>& c, const std::string& stream_id) {
    const auto& me = require_user(c);
    db.read([&](storage::Connection& conn) { load_owned_stream(conn, stream_id, me); });
    const json ready = {{"streamId", stream_id}, {"estimatedLatencySeconds", options.estimated_latency_seconds}};
    send(c, event_packet("stream:ready", ready));
    return ready;
  }

  static json user_id_json(const std::shared_ptr<RealtimeClient>& c) {
    return c->user ? json(c->user->id) : json(nullptr);
  }

  static json chat_message_json(const storage::ChatMessage& m) {
    return {{"id", m.id},
            {"streamId", m.stream_id},
            {"userId", m.user_id},
            {"username", m.username},
            {"avatarUrl", m.avatar_url ? json(*m.avatar_url) : json(nullptr)},
            {"message", m.message},
            {"timestamp", format_iso8601(m.created_at)}};
  }

  // --- periodic viewer counts ---------------------------------------------------------
  void schedule_viewer_counts() {
    viewer_timer.expires_after(options.viewer_count_interval);
    viewer_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return;
      net::post(self->blocking, [self] { self->send_viewer_counts(); });
      self->schedule_viewer_counts();
    });
  }

  void send_viewer_counts() {
    std::vector<std::pair<std::string, std::int64_t>> counts;
    {
      std::lock_guard lock(mutex);
      for (const auto& [id, room] : rooms) counts.emplace_back(id, static_cast<std::int64_t>(room.members.size()));
    }
    std::vector<std::pair<std::string, std::int64_t>> live;
    try {
      db.read([&](storage::Connection& conn) {
        for (const auto& [id, n] : counts) {
          const auto s = storage::streams::find_by_id(conn, id);
          if (s && s->status == "live") live.emplace_back(id, n);
        }
      });
    } catch (const std::exception& e) {
      log::warn("realtime: viewer counts skipped", {{"error", e.what()}});
    }
    for (const auto& [id, n] : live) {
      broadcast(id, event_packet("stream:viewer-count", {{"streamId", id}, {"count", n}}));
    }
  }
};

// A WebSocket's messages: first, for an upgrade, the probe; then Engine.IO packets.
class EngineWsHandler final : public WsHandler {
 public:
  EngineWsHandler(std::shared_ptr<Realtime::Impl> impl, std::shared_ptr<RealtimeClient> client,
                  std::shared_ptr<WsConnection> conn, bool probing)
      : impl_(std::move(impl)), client_(std::move(client)), conn_(std::move(conn)), probing_(probing) {}

  void on_message(std::string text) override {
    const auto decoded = engineio::decode_packet(text);
    if (!std::holds_alternative<engineio::Packet>(decoded)) return fail("malformed engine.io packet");
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
        if (poll) poll(impl_->text_response(200, engineio::encode_packet(engineio::PacketType::noop)));
        return;
      }
      if (p.type == engineio::PacketType::upgrade) return upgrade();
      return fail("expected the upgrade probe");
    }
    if (!impl_->on_engine_packet(client_, p)) fail("unexpected engine.io packet");
  }

  void on_close() override {
    if (!probing_) impl_->close(client_, "websocket closed");
  }

 private:
  void upgrade() {
    std::function<void(HttpResponse)> poll;
    {
      std::lock_guard lock(client_->mutex);
      if (client_->closed) return;
      client_->upgraded = true;
      impl_->polling_sessions.dec();
      impl_->websocket_sessions.inc();
      client_->ws = conn_;
      poll = std::move(client_->pending_poll);
      client_->pending_poll = nullptr;
      // What waited for the next poll goes out first, before anything sent later.
      for (const auto& p : client_->queue) conn_->send(p);
      client_->queue.clear();
    }
    probing_ = false;
    // The poll in flight ends with a noop so the client can switch.
    if (poll) poll(impl_->text_response(200, engineio::encode_packet(engineio::PacketType::noop)));
  }

  void fail(const char* why) {
    log::info("realtime: websocket protocol error", {{"socket_id", client_->socket_id}, {"error", why}});
    if (probing_) {
      conn_->close();
    } else {
      impl_->close(client_, why);
    }
  }

  std::shared_ptr<Realtime::Impl> impl_;
  std::shared_ptr<RealtimeClient> client_;
  std::shared_ptr<WsConnection> conn_;
  bool probing_;
};

Realtime::Realtime(net::io_context& ioc, net::thread_pool& blocking, storage::Database& db,
                   RealtimeOptions options)
    : impl_(std::make_shared<Impl>(ioc, blocking, db, std::move(options))) {}

Realtime::~Realtime() = default;

void Realtime::start() { impl_->schedule_viewer_counts(); }

void Realtime::stop() {
  std::vector<std::shared_ptr<RealtimeClient>> all;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopped = true;
    for (auto& [sid, c] : impl_->clients) all.push_back(c);
  }
  net::post(impl_->viewer_timer.get_executor(), [impl = impl_] { impl->viewer_timer.cancel(); });
  for (auto& c : all) impl_->close(c, "server shutting down");
}

std::size_t Realtime::client_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->clients.size();
}

namespace {

struct EngineQuery {
  std::string eio, transport, sid;
};

std::optional<EngineQuery> engine_query(const HttpRequest& r) {
  const auto q = QueryString::parse(r.query);
  if (!q) return std::nullopt;
  return EngineQuery{q->get("EIO").value_or(""), q->get("transport").value_or(""), q->get("sid").value_or("")};
}

}  // namespace

void Realtime::polling(const HttpRequest& request, std::function<void(HttpResponse)> reply) {
  auto& impl = *impl_;
  const auto q = engine_query(request);
  if (!q || q->eio != "4") return reply(impl.engine_error(5, "Unsupported protocol version"));
  if (q->transport != "polling") return reply(impl.engine_error(0, "Transport unknown"));
  // maxPayload bounds a whole POST body, as engine.io's maxHttpBufferSize does: a
  // larger one (or one over the HTTP body limit, left unread) is 413 and ends the
  // session.
  if (request.body_too_large || request.body.size() > impl.options.max_payload) {
    if (auto c = q->sid.empty() ? nullptr : impl.find(q->sid)) impl.close(c, "payload too large");
    return reply(impl.text_response(413, json{{"code", 3}, {"message", "Payload too large"}}.dump(),
                                    "application/json"));
  }
  if (request.method == "OPTIONS") {
    HttpResponse res = impl.text_response(204, "");
    res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    res.set_header("Access-Control-Allow-Headers", "Content-Type");
    return reply(std::move(res));
  }
  if (q->sid.empty()) {
    if (request.method != "GET") return reply(impl.engine_error(3, "Bad request"));
    auto c = impl.create_client(false);
    if (!c) return reply(impl.engine_error(3, "Server shutting down"));
    const auto open = engineio::open_packet(
        c->sid, true, static_cast<int>(impl.options.ping_interval.count()),
        static_cast<int>(impl.options.ping_timeout.count()), impl.options.max_payload);
    return reply(impl.text_response(200, engineio::encode_packet(engineio::PacketType::open, open)));
  }
  auto c = impl.find(q->sid);
  if (!c) return reply(impl.engine_error(1, "Session ID unknown"));

  if (request.method == "POST") {
    const auto decoded = engineio::decode_payload(request.body);
    if (!std::holds_alternative<std::vector<engineio::Packet>>(decoded)) {
      impl.close(c, "malformed polling payload");
      return reply(impl.engine_error(3, "Bad request"));
    }
    for (const auto& p : std::get<std::vector<engineio::Packet>>(decoded)) {
      if (!impl.on_engine_packet(c, p)) {
        impl.close(c, "unexpected engine.io packet");
        return reply(impl.engine_error(3, "Bad request"));
      }
    }
    return reply(impl.text_response(200, "ok"));
  }
  if (request.method != "GET") return reply(impl.engine_error(3, "Bad request"));

  std::vector<SharedText> batch;
  bool overlapping = false;
  bool upgraded = false;
  {
    std::lock_guard lock(c->mutex);
    if (c->closed) return reply(impl.text_response(200, engineio::encode_packet(engineio::PacketType::close)));
    upgraded = c->upgraded || c->upgrading;
    if (c->pending_poll) {
      overlapping = true;
    } else if (!c->queue.empty()) {
      batch.assign(c->queue.begin(), c->queue.end());
      c->queue.clear();
    } else if (!upgraded) {
      c->pending_poll = std::move(reply);  // answered by the next send
      return;
    }
  }
  if (overlapping) {
    impl.close(c, "overlapping polls");
    return reply(impl.engine_error(3, "Bad request"));
  }
  if (!batch.empty()) return reply(impl.poll_response(batch));
  // Upgrading or upgraded: the client is leaving polling; let this poll end.
  reply(impl.text_response(200, engineio::encode_packet(engineio::PacketType::noop)));
}

std::shared_ptr<WsHandler> Realtime::websocket(const HttpRequest& request,
                                               std::shared_ptr<WsConnection> connection) {
  auto& impl = *impl_;
  const auto q = engine_query(request);
  if (!q || q->eio != "4" || q->transport != "websocket") return nullptr;
  if (!q->sid.empty()) {
    auto c = impl.find(q->sid);
    if (!c) return nullptr;
    return std::make_shared<EngineWsHandler>(impl_, c, connection, /*probing=*/true);
  }
  // WebSocket from the start: the open packet is the first message.
  auto c = impl.create_client(true);
  if (!c) return nullptr;
  {
    std::lock_guard lock(c->mutex);
    c->ws = connection;
  }
  connection->send(shared(engineio::encode_packet(
      engineio::PacketType::open,
      engineio::open_packet(c->sid, false, static_cast<int>(impl.options.ping_interval.count()),
                            static_cast<int>(impl.options.ping_timeout.count()),
                            impl.options.max_payload))));
  return std::make_shared<EngineWsHandler>(impl_, c, connection, /*probing=*/false);
}

void Realtime::stream_live(const std::string& stream_id, const std::vector<std::string>& notified) {
  if (notified.empty()) return;
  auto& impl = *impl_;
  std::vector<storage::NotificationRow> rows;
  try {
    rows = impl.db.read([&](storage::Connection& c) { return storage::stream_notifications(c, stream_id); });
  } catch (const std::exception& e) {
    log::warn("realtime: notifications not delivered", {{"stream_id", stream_id}, {"error", e.what()}});
    return;
  }
  std::map<std::string, const storage::NotificationRow*> by_user;
  for (const auto& r : rows) by_user[r.user_id] = &r;
  std::vector<std::shared_ptr<RealtimeClient>> all;
  {
    std::lock_guard lock(impl.mutex);
    for (auto& [sid, c] : impl.clients) all.push_back(c);
  }
  for (const auto& c : all) {
    std::string user_id;
    {
      std::lock_guard lock(c->mutex);
      user_id = c->signed_in_user;
    }
    auto it = user_id.empty() ? by_user.end() : by_user.find(user_id);
    if (it == by_user.end()) continue;
    impl.send(c, event_packet("notification:new",
                              {{"notification", {{"id", it->second->id},
                                                 {"kind", "stream_live"},
                                                 {"streamId", stream_id},
                                                 {"createdAt", format_iso8601(it->second->created_at)}}}}));
  }
}

void Realtime::stream_ended(const std::string& stream_id, const json& summary) {
  json payload = summary;
  payload["streamId"] = stream_id;
  impl_->broadcast(stream_id, event_packet("stream:ended", payload));
}

void Realtime::product_tagged(const std::string& stream_id, const json& tag) {
  impl_->broadcast(stream_id, event_packet("product:tagged", tag));
}

void Realtime::media_started(const std::string& stream_id) {
  bool again = false;
  {
    std::lock_guard lock(impl_->mutex);
    again = !impl_->media_seen.insert(stream_id).second;
  }
  impl_->broadcast(stream_id, event_packet(again ? "stream:resumed" : "stream:live", {{"streamId", stream_id}}));
}

void Realtime::media_stopped(const std::string& stream_id) {
  impl_->broadcast(stream_id, event_packet("stream:interrupted", {{"streamId", stream_id}}));
}

}  // namespace souk::api
