// The Socket.IO events of docs/api.md: decoding, dispatch, acks and errors, and each
// event's rules (see events.hpp).
#include "souk/api/realtime/events.hpp"

#include "souk/api/api_error.hpp"
#include "souk/api/realtime/engineio_codec.hpp"
#include "souk/api/realtime/socketio_codec.hpp"
#include "souk/api/validate.hpp"
#include "souk/api/views.hpp"
#include "souk/log.hpp"
#include "souk/metrics.hpp"
#include "souk/random.hpp"
#include "souk/storage/sqlite.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

namespace souk::api {

using nlohmann::json;

namespace {

SharedText shared(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

// An Engine.IO message carrying a Socket.IO event, encoded once for everyone.
SharedText event_packet(std::string_view event, const json& payload) {
  return shared(engineio::encode_packet(engineio::PacketType::message,
                                        socketio::encode_event(event, payload)));
}

SharedText message_packet(const std::string& socketio_text) {
  return shared(engineio::encode_packet(engineio::PacketType::message, socketio_text));
}

// A refusal the client can act on.
struct EventError {
  std::string code;
  std::string message;
};

std::string stream_id_of(const json& payload) {
  if (!payload.is_object() || !payload.contains("stream_id") || !payload["stream_id"].is_string()) {
    throw EventError{"invalid_payload", "send {stream_id: \"...\"}"};
  }
  return payload["stream_id"].get<std::string>();
}

const RealtimeUser& require_user(const RealtimeSocket& s) {
  if (!s.user) throw EventError{"unauthorized", "sign in to do this: connect with auth {token}"};
  return *s.user;
}

// 404 stream_not_found, as the REST API answers an unknown or malformed id.
[[noreturn]] void no_such_stream() {
  throw ApiError::not_found("stream_not_found", "no such stream");
}

json user_id_json(const RealtimeSocket& s) { return s.user ? json(s.user->id) : json(nullptr); }

json chat_message_json(const storage::ChatMessage& m) {
  return {{"id", m.id},
          {"streamId", m.stream_id},
          {"userId", m.user_id},
          {"username", m.username},
          {"avatarUrl", m.avatar_url ? json(*m.avatar_url) : json(nullptr)},
          {"message", m.message},
          {"timestamp", format_iso8601(m.created_at)}};
}

// reaction:new as docs/api.md has it ({streamId, emoji, userId}), with the
// number of reactions it stands for: one, or those of an interval in a busy room.
SharedText reaction_packet(const std::string& stream_id, const ReactionCount& c) {
  return event_packet("reaction:new", {{"streamId", stream_id},
                                       {"emoji", c.emoji},
                                       {"userId", c.user_id},
                                       {"count", c.count}});
}

// 10 as "10", 2.5 as "2.5".
std::string format_rate(double rate) {
  auto text = json(rate).dump();
  if (text.ends_with(".0")) text.resize(text.size() - 2);
  return text;
}

// A stream that ended takes no more chat messages or reactions.
void refuse_if_ended(const RealtimeStream& s) {
  if (s.status == storage::StreamStatus::ended) throw EventError{"stream_ended", "the stream has ended"};
}

}  // namespace

RealtimeEvents::RealtimeEvents(RealtimeStore& store, std::shared_ptr<Rooms> rooms,
                               std::shared_ptr<RoomFanout> fanout, const RealtimeOptions& options)
    : store_(store),
      rooms_(std::move(rooms)),
      fanout_(std::move(fanout)),
      options_(options),
      chat_limiter_(options.chat_per_minute, options.chat_limiter_prune_threshold),
      reaction_limiter_(options.reactions_per_second, 2 * options.reactions_per_second),
      join_limiter_(options.joins_per_minute / 60.0, options.joins_per_minute),
      address_join_limiter_(10 * options.joins_per_minute / 60.0, 10 * options.joins_per_minute),
      reaction_batcher_(options.reaction_batch_interval),
      chat_messages_(metrics::Registry::global()
                         .counter("souk_chat_messages_total", "Chat messages stored and broadcast.")
                         .get()),
      reactions_(metrics::Registry::global()
                     .counter("souk_reactions_total", "Reactions stored and broadcast.")
                     .get()) {}

// --- Socket.IO packets (on the socket's strand) ------------------------------------
void RealtimeEvents::on_packet(const std::shared_ptr<RealtimeSocket>& s, const std::string& text) {
  auto decoded = socketio::decode(text);
  if (std::holds_alternative<socketio::DecodeError>(decoded)) {
    log::info("realtime: malformed packet",
              {{"socket_id", s->id()},
               {"error", socketio::to_string(std::get<socketio::DecodeError>(decoded))}});
    return s->close("malformed packet");
  }
  const auto& p = std::get<socketio::Packet>(decoded);
  if (p.type == socketio::PacketType::connect) return on_connect(s, p.nsp, p.data);
  if (p.nsp != "/" || !s->connected) {
    return s->close("packet for a namespace the client is not connected to");
  }
  if (p.type == socketio::PacketType::disconnect) {
    leave_all(s);
    s->connected = false;
    return;
  }
  if (p.type != socketio::PacketType::event) return;  // acks from the client: nothing asked
  const std::string name = p.data[0].get<std::string>();
  const json payload = p.data.size() > 1 ? p.data[1] : json();
  json result;
  std::optional<EventError> error;
  try {
    result = on_event(s, name, payload);
  } catch (const EventError& e) {
    error = e;
  } catch (const ApiError& e) {
    error = EventError{e.code(), e.what()};
  } catch (const storage::SqliteError& e) {
    log_failure(name, e.what());
    error = e.is_full()
                ? EventError{"storage_full", "the server's storage is full; try again later"}
                : EventError{"internal_error", "the server failed to handle this event"};
  } catch (const std::exception& e) {
    log_failure(name, e.what());
    error = EventError{"internal_error", "the server failed to handle this event"};
  }
  const json error_json = error ? json{{"code", error->code}, {"message", error->message}} : json();
  if (p.id) {
    json ack = error ? json{{"ok", false}, {"error", error_json}} : result;
    if (!error) ack["ok"] = true;
    s->send(message_packet(socketio::encode_ack(*p.id, ack)));
  } else if (error) {
    s->send(event_packet("error", error_json));
  }
  if (s->token_revoked) s->close("token revoked");
}

// A failing database fails every event, as fast as clients send them: one line
// per interval says so, with how many were not logged.
void RealtimeEvents::log_failure(const std::string& event, const char* what) {
  if (const auto suppressed = failure_log_.admit()) {
    log::error("realtime event failed",
               {{"event", event.substr(0, 64)}, {"error", what}, {"suppressed", *suppressed}});
  }
}

void RealtimeEvents::on_closed(const std::shared_ptr<RealtimeSocket>& s) { leave_all(s); }

void RealtimeEvents::on_connect(const std::shared_ptr<RealtimeSocket>& s, const std::string& nsp,
                                const json& auth) {
  const auto refuse = [&](std::string_view message) {
    s->send(message_packet(socketio::encode_connect_error(nsp, message)));
  };
  if (nsp != "/") return refuse("Invalid namespace");
  if (auth.is_object() && auth.contains("token")) {
    const auto& t = auth["token"];
    if (!t.is_string() || t.get<std::string>().empty()) return refuse("invalid token");
    try {
      const auto hash = sha256(t.get<std::string>());
      const auto now = now_millis();
      s->user = store_.user_for_token(hash, now);
      s->token_hash = hash;
      s->token_checked_at = now;
    } catch (const std::exception& e) {
      log::error("realtime: token check failed", {{"error", e.what()}});
      return refuse("the server could not check the token; try again");
    }
    if (!s->user) return refuse("invalid token: unknown, expired or revoked");
  }
  s->connected = true;
  if (s->user) s->set_signed_in_user(s->user->id);
  s->send(message_packet(socketio::encode_connect(s->id())));
}

void RealtimeEvents::recheck_token(RealtimeSocket& s) {
  const auto now = now_millis();
  if (!s.token_hash || now - s.token_checked_at < options_.token_recheck.count()) return;
  if (store_.user_for_token(*s.token_hash, now)) {
    s.token_checked_at = now;
    return;
  }
  // Signed out from elsewhere: nothing more as this user on this connection.
  s.user.reset();
  s.set_signed_in_user({});
  s.token_revoked = true;
  throw EventError{"unauthorized", "the token was revoked or has expired: connect again with a new one"};
}

json RealtimeEvents::on_event(const std::shared_ptr<RealtimeSocket>& s, const std::string& name,
                              const json& payload) {
  // Events for signed-in users refuse anyone else before judging the payload.
  if (name == "stream:chat" || name == "stream:reaction" || name == "stream:prepare") {
    require_user(*s);
    recheck_token(*s);
  }
  if (name == "stream:join") return join(s, stream_id_of(payload));
  if (name == "stream:leave") return leave(s, stream_id_of(payload), true);
  if (name == "stream:chat") return chat(s, stream_id_of(payload), payload);
  if (name == "stream:reaction") return react(s, stream_id_of(payload), payload);
  if (name == "stream:prepare") return prepare(s, stream_id_of(payload));
  throw EventError{"unknown_event", "no such event: " + name.substr(0, 64)};
}

json RealtimeEvents::join(const std::shared_ptr<RealtimeSocket>& s, const std::string& stream_id) {
  // Already in the room: the client has its state; the ack says so, nothing is
  // read or written (a repeat join was a fresh snapshot, tens of KB, each time).
  if (s->rooms.contains(stream_id)) {
    return {{"streamId", stream_id}, {"viewerCount", rooms_->join(stream_id, s).count}};
  }
  // Each room entered is a viewer session written and announced: a socket, and
  // an address across its sockets, may enter only so many a minute. A join
  // that fails gives its tokens back.
  const auto at = RateLimiter::Clock::now();
  if (!join_limiter_.take(s->id(), at)) {
    count_refusal("realtime_join_rate");
    throw EventError{"rate_limited", "at most " + std::to_string(options_.joins_per_minute) +
                                         " rooms entered a minute"};
  }
  if (!address_join_limiter_.take(s->address(), at)) {
    join_limiter_.give_back(s->id(), at);
    count_refusal("realtime_join_rate_address");
    throw EventError{"rate_limited", "too many rooms entered from this address; try again later"};
  }
  const auto give_back = [&] {
    join_limiter_.give_back(s->id(), at);
    address_join_limiter_.give_back(s->address(), at);
  };
  const auto now = now_millis();
  const auto [fresh, count] = rooms_->join(stream_id, s);
  std::optional<JoinSnapshot> snapshot;
  try {
    std::optional<ViewerSessionStart> start;
    if (fresh) {
      start = ViewerSessionStart{s->id(), s->user ? std::optional(s->user->id) : std::nullopt,
                                 s->viewer_key(), now, count};
    }
    if (is_uuid(stream_id)) snapshot = store_.join(stream_id, start, options_.recent_chat_on_join);
    if (!snapshot) no_such_stream();
    if (fresh) s->rooms[stream_id] = snapshot->viewer_session.value_or(0);
  } catch (...) {
    if (fresh) rooms_->leave(stream_id, s);
    give_back();
    throw;
  }
  json products = json::array();
  for (const auto& sp : snapshot->products) products.push_back(stream_product_json(sp));
  json chat_json = json::array();
  for (const auto& m : snapshot->recent_chat) chat_json.push_back(chat_message_json(m));
  s->send(event_packet("stream:joined", {{"streamId", stream_id},
                                         {"viewerCount", count},
                                         {"recentChat", std::move(chat_json)},
                                         {"products", std::move(products)}}));
  if (fresh) {
    fanout_->broadcast(stream_id, event_packet("viewer:joined", {{"streamId", stream_id},
                                                                 {"viewerCount", count},
                                                                 {"userId", user_id_json(*s)}}));
  }
  return {{"streamId", stream_id}, {"viewerCount", count}};
}

json RealtimeEvents::leave(const std::shared_ptr<RealtimeSocket>& s, const std::string& stream_id,
                           bool asked) {
  auto it = s->rooms.find(stream_id);
  if (it == s->rooms.end()) {
    if (asked) throw EventError{"not_joined", "this socket is not in that stream's room"};
    return {};
  }
  const auto session = it->second;
  s->rooms.erase(it);
  const auto count = rooms_->leave(stream_id, s);
  try {
    store_.leave(stream_id, session, count, now_millis());
  } catch (const std::exception& e) {
    log::error("realtime: recording a leave failed",
               {{"stream_id", stream_id}, {"error", e.what()}});
  }
  fanout_->broadcast(stream_id, event_packet("viewer:left", {{"streamId", stream_id},
                                                             {"viewerCount", count},
                                                             {"userId", user_id_json(*s)}}));
  return {{"streamId", stream_id}, {"viewerCount", count}};
}

void RealtimeEvents::leave_all(const std::shared_ptr<RealtimeSocket>& s) {
  std::vector<std::string> ids;
  for (const auto& [id, session] : s->rooms) ids.push_back(id);
  for (const auto& id : ids) leave(s, id, false);
}

json RealtimeEvents::chat(const std::shared_ptr<RealtimeSocket>& s, const std::string& stream_id,
                          const json& payload) {
  const auto& me = require_user(*s);
  if (!payload.contains("message") || !payload["message"].is_string()) {
    throw EventError{"invalid_message", "send {stream_id, message: \"...\"}"};
  }
  const std::string text = validate::trim(payload["message"].get<std::string>());
  const auto length = validate::utf8_length(text);
  if (length < 1 || length > options_.max_chat_message_length) {
    throw EventError{
        "invalid_message",
        "a message is 1 to " + std::to_string(options_.max_chat_message_length) + " characters"};
  }
  // The slot is taken before the write and given back if it fails.
  const auto slot = chat_limiter_.take(me.id, ChatLimiter::Clock::now());
  if (!slot) {
    const int n = chat_limiter_.per_minute();
    throw EventError{"rate_limited", "at most " + std::to_string(n) +
                                         (n == 1 ? " message" : " messages") + " a minute"};
  }
  storage::ChatMessage m{uuid_v4(),     stream_id, me.id,       me.username,
                         me.avatar_url, text,      now_millis()};
  try {
    const bool found =
        is_uuid(stream_id) && store_.add_chat_message(m, [](const RealtimeStream& st) {
          refuse_if_ended(st);
          if (!st.chat_enabled) throw EventError{"chat_disabled", "chat is off for this stream"};
        });
    if (!found) no_such_stream();
  } catch (...) {
    chat_limiter_.give_back(me.id, *slot);
    throw;
  }
  chat_messages_.inc();
  fanout_->broadcast(stream_id, event_packet("chat:message", chat_message_json(m)));
  return {{"id", m.id}};
}

json RealtimeEvents::react(const std::shared_ptr<RealtimeSocket>& s, const std::string& stream_id,
                           const json& payload) {
  const auto& me = require_user(*s);
  const auto& emojis = reaction_emojis();
  if (!payload.contains("emoji") || !payload["emoji"].is_string() ||
      std::find(emojis.begin(), emojis.end(), payload["emoji"].get<std::string>()) ==
          emojis.end()) {
    throw EventError{"invalid_emoji", "react with one of the six emojis"};
  }
  const std::string emoji = payload["emoji"];
  // Each reaction is a row and a broadcast: a user (across their sockets) gets
  // reactions_per_second of them, twice as many at once.
  if (!reaction_limiter_.take(me.id, RateLimiter::Clock::now())) {
    count_refusal("realtime_reaction_rate");
    throw EventError{"rate_limited", "at most " + format_rate(options_.reactions_per_second) +
                                         " reactions a second"};
  }
  const bool found = is_uuid(stream_id) &&
                     store_.add_reaction(stream_id, me.id, emoji, now_millis(), refuse_if_ended);
  if (!found) no_such_stream();
  reactions_.inc();
  const auto added = reaction_batcher_.add(stream_id, emoji, me.id, ReactionBatcher::Clock::now());
  if (added.send_now) fanout_->broadcast(stream_id, reaction_packet(stream_id, *added.send_now));
  if (added.flush_needed && schedule_flush_) schedule_flush_(reaction_batcher_.interval());
  return json::object();
}

std::optional<ReactionBatcher::Clock::time_point> RealtimeEvents::flush_reactions(
    ReactionBatcher::Clock::time_point now) {
  for (const auto& room : reaction_batcher_.take_due(now)) {
    for (const auto& c : room.counts) fanout_->broadcast(room.room, reaction_packet(room.room, c));
  }
  return reaction_batcher_.next_due();
}

json RealtimeEvents::prepare(const std::shared_ptr<RealtimeSocket>& s,
                             const std::string& stream_id) {
  const auto& me = require_user(*s);
  const auto stream = is_uuid(stream_id) ? store_.find_stream(stream_id) : std::nullopt;
  if (!stream) no_such_stream();
  if (stream->seller_id != me.id) throw ApiError::forbidden("this stream is not yours");
  json ready = {{"streamId", stream_id},
                      {"estimatedLatencySeconds", options_.estimated_latency_seconds}};
  s->send(event_packet("stream:ready", ready));
  return ready;
}

// --- what the server announces -------------------------------------------------------
void RealtimeEvents::notify_stream_live(const std::string& stream_id,
                                        const OpenSockets& open_sockets) {
  std::vector<storage::NotificationRow> rows;
  try {
    rows = store_.stream_notifications(stream_id);
  } catch (const std::exception& e) {
    log::warn("realtime: notifications not delivered",
              {{"stream_id", stream_id}, {"error", e.what()}});
    return;
  }
  std::map<std::string, const storage::NotificationRow*> by_user;
  for (const auto& r : rows) by_user[r.user_id] = &r;
  for (const auto& s : open_sockets()) {
    const auto user_id = s->signed_in_user();
    auto it = user_id.empty() ? by_user.end() : by_user.find(user_id);
    if (it == by_user.end()) continue;
    s->send(event_packet("notification:new",
                         {{"notification",
                           {{"id", it->second->id},
                            {"kind", "stream_live"},
                            {"streamId", stream_id},
                            {"createdAt", format_iso8601(it->second->created_at)}}}}));
  }
}

void RealtimeEvents::send_viewer_counts() {
  const auto counts = rooms_->counts();
  std::vector<std::string> ids;
  ids.reserve(counts.size());
  for (const auto& [id, n] : counts) ids.push_back(id);
  std::vector<std::string> live;
  try {
    live = store_.live_streams(ids);
  } catch (const std::exception& e) {
    log::warn("realtime: viewer counts skipped", {{"error", e.what()}});
  }
  for (const auto& [id, n] : counts) {
    if (std::find(live.begin(), live.end(), id) == live.end()) continue;
    fanout_->broadcast(id, event_packet("stream:viewer-count", {{"streamId", id}, {"count", n}}));
  }
}

}  // namespace souk::api
