// The realtime facade: builds the rooms, the events and the Engine.IO server,
// runs the viewer-count timer, and turns stream lifecycle news into broadcasts.
#include "souk/api/realtime/realtime.hpp"

#include "souk/api/realtime/engineio_codec.hpp"
#include "souk/api/realtime/engineio_session.hpp"
#include "souk/api/realtime/events.hpp"
#include "souk/api/realtime/rooms.hpp"
#include "souk/api/realtime/socketio_codec.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <nlohmann/json.hpp>

#include <mutex>
#include <set>

namespace souk::api {

namespace net = boost::asio;
using nlohmann::json;

namespace {

// An Engine.IO message carrying a Socket.IO event, encoded once for everyone.
SharedText event_packet(std::string_view event, const json& payload) {
  return std::make_shared<const std::string>(engineio::encode_packet(
      engineio::PacketType::message, socketio::encode_event(event, payload)));
}

}  // namespace

struct Realtime::Impl : std::enable_shared_from_this<Realtime::Impl> {
  Impl(net::io_context& ioc, net::thread_pool& b, RealtimeStore& store, const RealtimeOptions& o)
      : blocking(b),
        options(o),
        rooms(std::make_shared<Rooms>()),
        events(std::make_shared<RealtimeEvents>(store, rooms, rooms, options)),
        engine(std::make_shared<EngineIoServer>(ioc, blocking, options, events)),
        viewer_timer(net::make_strand(ioc)),
        reaction_timer(net::make_strand(ioc)) {}

  net::thread_pool& blocking;
  const RealtimeOptions options;
  std::shared_ptr<Rooms> rooms;  // membership, and this process's fan-out
  std::shared_ptr<RealtimeEvents> events;
  std::shared_ptr<EngineIoServer> engine;
  net::steady_timer viewer_timer;
  // Sends the reactions a busy room gathered; armed while the batcher tracks a
  // room (reaction_timer_armed: on the timer's strand).
  net::steady_timer reaction_timer;
  bool reaction_timer_armed = false;
  bool stopped = false;  // on the reaction timer's strand

  std::mutex media_mutex;
  std::set<std::string> media_seen;  // streams whose media started at least once

  void schedule_viewer_counts() {
    viewer_timer.expires_after(options.viewer_count_interval);
    viewer_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return;
      net::post(self->blocking, [self] { self->events->send_viewer_counts(); });
      self->schedule_viewer_counts();
    });
  }

  // From any thread: flush the reactions after `delay` unless a flush is due.
  void schedule_reaction_flush(std::chrono::milliseconds delay) {
    net::post(reaction_timer.get_executor(), [self = shared_from_this(), delay] {
      if (self->reaction_timer_armed || self->stopped) return;
      self->arm_reaction_timer(std::chrono::steady_clock::now() + delay);
    });
  }

  // On the timer's strand. Broadcasting only queues packets, so the flush runs
  // here, not on the blocking pool.
  void arm_reaction_timer(std::chrono::steady_clock::time_point at) {
    reaction_timer_armed = true;
    reaction_timer.expires_at(at);
    reaction_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      self->reaction_timer_armed = false;
      if (ec || self->stopped) return;
      if (const auto next = self->events->flush_reactions()) self->arm_reaction_timer(*next);
    });
  }
};

Realtime::Realtime(net::io_context& ioc, net::thread_pool& blocking, RealtimeStore& store,
                   const RealtimeOptions& options)
    : impl_(std::make_shared<Impl>(ioc, blocking, store, options)) {
  // Before any client can react.
  impl_->events->set_reaction_flush_scheduler(
      [weak = std::weak_ptr(impl_)](std::chrono::milliseconds delay) {
        if (auto impl = weak.lock()) impl->schedule_reaction_flush(delay);
      });
}

Realtime::~Realtime() = default;

void Realtime::start() { impl_->schedule_viewer_counts(); }

void Realtime::stop() {
  net::post(impl_->viewer_timer.get_executor(), [impl = impl_] { impl->viewer_timer.cancel(); });
  net::post(impl_->reaction_timer.get_executor(), [impl = impl_] {
    impl->stopped = true;
    impl->reaction_timer.cancel();
  });
  impl_->engine->stop();
}

std::size_t Realtime::client_count() const { return impl_->engine->client_count(); }

void Realtime::polling(const HttpRequest& request, std::function<void(HttpResponse)> reply) {
  impl_->engine->polling(request, std::move(reply));
}

std::optional<HttpResponse> Realtime::check_upgrade(const HttpRequest& request) {
  return impl_->engine->check_upgrade(request);
}

std::shared_ptr<WsHandler> Realtime::websocket(const HttpRequest& request,
                                               std::shared_ptr<WsConnection> connection) {
  return impl_->engine->websocket(request, std::move(connection));
}

void Realtime::stream_live(const std::string& stream_id, const std::vector<std::string>& notified) {
  if (notified.empty()) return;
  impl_->events->notify_stream_live(stream_id,
                                    [engine = impl_->engine] { return engine->sockets(); });
}

void Realtime::stream_ended(const std::string& stream_id, const json& summary) {
  json payload = summary;
  payload["streamId"] = stream_id;
  impl_->rooms->broadcast(stream_id, event_packet("stream:ended", payload));
}

void Realtime::product_tagged(const std::string& stream_id, const json& tag) {
  impl_->rooms->broadcast(stream_id, event_packet("product:tagged", tag));
}

void Realtime::media_started(const std::string& stream_id) {
  bool again = false;
  {
    std::lock_guard lock(impl_->media_mutex);
    again = !impl_->media_seen.insert(stream_id).second;
  }
  impl_->rooms->broadcast(
      stream_id, event_packet(again ? "stream:resumed" : "stream:live", {{"streamId", stream_id}}));
}

void Realtime::media_stopped(const std::string& stream_id) {
  impl_->rooms->broadcast(stream_id, event_packet("stream:interrupted", {{"streamId", stream_id}}));
}

}  // namespace souk::api
