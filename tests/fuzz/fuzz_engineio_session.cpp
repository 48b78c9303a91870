// Fuzz target: Engine.IO / Socket.IO sessions (control-api/src/realtime/
// engineio_session.cpp and events.cpp) behind the real HTTP server, as a client
// meets them over loopback TCP. Each run first opens an Engine.IO session the
// way a client does (GET /socket.io/?EIO=4&transport=polling); the input is
// then sent on a second connection, with every "{sid}" in it replaced by that
// session's id, and half-closed. A long poll is answered by the next ping, so
// the heartbeat is short here (50 ms); the store is in memory: the token "tok"
// belongs to a user, and stream "s1" is live.
//
// Oracles, besides no crash, UB or leak:
//  - each session ends once its client is done (loopback_client.hpp's bound);
//  - the open request gets 200 and the open packet: the session id and the
//    configured heartbeat and maxPayload (docs/api.md);
//  - the server writes exactly one well-formed response per request it owes
//    (http_model.hpp), up to a WebSocket upgrade; none is a 5xx;
//  - a polling GET's 200 body is an Engine.IO payload whose messages are valid
//    Socket.IO packets; a polling POST's 200 body is "ok".
#include "http_model.hpp"
#include "loopback_client.hpp"

#include "souk/api/http/http_server.hpp"
#include "souk/api/realtime/engineio_codec.hpp"
#include "souk/api/realtime/realtime.hpp"
#include "souk/api/realtime/realtime_store.hpp"
#include "souk/api/realtime/socketio_codec.hpp"
#include "souk/log.hpp"
#include "souk/random.hpp"

#include <nlohmann/json.hpp>

#include <boost/asio/thread_pool.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace {

namespace net = boost::asio;
using namespace souk::api;

constexpr std::chrono::milliseconds heartbeat{50};

class MemoryStore final : public RealtimeStore {
 public:
  std::optional<RealtimeUser> user_for_token(const souk::Sha256& token_hash, souk::UnixMillis) override {
    if (token_hash != souk::sha256("tok")) return std::nullopt;
    return RealtimeUser{"u1", "buyer", std::nullopt};
  }
  std::optional<RealtimeStream> find_stream(const std::string& stream_id) override {
    if (stream_id != "s1") return std::nullopt;
    return RealtimeStream{"s1", "seller", souk::storage::StreamStatus::live, true};
  }
  std::optional<JoinSnapshot> join(const std::string& stream_id,
                                   const std::optional<ViewerSessionStart>& start, int) override {
    if (stream_id != "s1") return std::nullopt;
    std::lock_guard lock(mutex_);
    JoinSnapshot snapshot;
    if (start) snapshot.viewer_session = ++sessions_;
    snapshot.recent_chat = chat_;
    return snapshot;
  }
  void leave(const std::string&, std::int64_t, std::int64_t, souk::UnixMillis) override {}
  bool add_chat_message(const souk::storage::ChatMessage& message, const Admit& admit) override {
    const auto stream = find_stream(message.stream_id);
    if (!stream) return false;
    admit(*stream);
    std::lock_guard lock(mutex_);
    chat_.push_back(message);
    if (chat_.size() > 5) chat_.erase(chat_.begin());
    return true;
  }
  bool add_reaction(const std::string& stream_id, const std::string&, const std::string&,
                    souk::UnixMillis, const Admit& admit) override {
    const auto stream = find_stream(stream_id);
    if (!stream) return false;
    admit(*stream);
    return true;
  }
  std::vector<souk::storage::NotificationRow> stream_notifications(const std::string&) override {
    return {};
  }
  std::vector<std::string> live_streams(const std::vector<std::string>& stream_ids) override {
    std::vector<std::string> live;
    for (const auto& id : stream_ids) {
      if (id == "s1") live.push_back(id);
    }
    return live;
  }

 private:
  std::mutex mutex_;
  std::int64_t sessions_ = 0;
  std::vector<souk::storage::ChatMessage> chat_;
};

struct Servers {
  MemoryStore store;
  net::io_context ioc;
  net::thread_pool blocking{1};
  std::unique_ptr<Realtime> realtime;
  std::unique_ptr<HttpServer> http;

  Servers() {
    souk::init_crypto();
    souk::log::init(spdlog::level::off, souk::log::Format::text);
    RealtimeOptions options;
    options.ping_interval = heartbeat;
    options.ping_timeout = heartbeat;
    realtime = std::make_unique<Realtime>(ioc, blocking, store, options);
    http = std::make_unique<HttpServer>(ioc, blocking, HttpServerOptions{}, [](const HttpRequest&) {
      HttpResponse res;  // only /socket.io/ is fuzzed here; the REST API has its own targets
      res.status = 404;
      return res;
    });
    http->set_realtime(realtime.get());
    http->listen({net::ip::make_address("127.0.0.1"), 0});
    souk_fuzz::join_at_exit(blocking);
  }
};

Servers& servers() {
  static auto* s = new Servers;  // lives to the end of the process, as the server does
  return *s;
}

std::span<const std::uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::vector<souk_fuzz::ReceivedResponse> send(const std::string& input, bool& upgraded) {
  auto& s = servers();
  const HttpServerOptions limits;
  const auto owed = souk_fuzz::owed_responses(
      bytes(input), {limits.max_body_bytes, limits.max_header_bytes}, 4096, true);
  const auto result = souk_fuzz::exchange(s.ioc, s.http->local_endpoint(), bytes(input), nullptr,
                                          [&] { return s.http->connection_count(); });
  auto responses = souk_fuzz::check_responses(result.received, owed);
  upgraded = !responses.empty() && responses.back().status == 101;
  if (upgraded) responses.pop_back();
  // Each response against its request (the upgrade's frames are not checked here).
  for (std::size_t i = 0; i < responses.size(); ++i) {
    const auto& r = responses[i];
    if (r.status >= 500) __builtin_trap();
    const auto& request = owed.responses[i];
    if (r.status != 200 || !request.target.starts_with("/socket.io/")) continue;
    if (request.method == "POST" && r.body != "ok") __builtin_trap();
    if (request.method != "GET") continue;
    const auto payload = engineio::decode_payload(r.body);
    if (!std::holds_alternative<std::vector<engineio::Packet>>(payload)) __builtin_trap();
    for (const auto& p : std::get<std::vector<engineio::Packet>>(payload)) {
      if (p.type == engineio::PacketType::message &&
          !std::holds_alternative<socketio::Packet>(socketio::decode(p.data))) {
        __builtin_trap();
      }
    }
  }
  return responses;
}

// Opens an Engine.IO session; returns its id.
std::string open_session() {
  bool upgraded = false;
  const auto r = send("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: fuzz\r\n\r\n", upgraded);
  if (r.size() != 1 || r[0].status != 200 || !r[0].body.starts_with("0{")) __builtin_trap();
  const auto open = nlohmann::json::parse(r[0].body.substr(1), nullptr, false);
  if (open.is_discarded() || !open.contains("sid") || !open["sid"].is_string() ||
      open.value("pingInterval", 0) != heartbeat.count() ||
      open.value("pingTimeout", 0) != heartbeat.count() ||
      open.value("maxPayload", std::size_t{0}) != RealtimeOptions{}.max_payload) {
    __builtin_trap();
  }
  return open["sid"].get<std::string>();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string sid = open_session();
  std::string input(reinterpret_cast<const char*>(data), size);
  for (auto at = input.find("{sid}"); at != std::string::npos; at = input.find("{sid}", at + sid.size())) {
    input.replace(at, 5, sid);
  }
  bool upgraded = false;
  (void)send(input, upgraded);
  return 0;
}
