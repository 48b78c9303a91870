// Wiring: one io_context run by a thread per core for all network I/O; a
// blocking-work pool for request handlers (SQLite, password hashing, disk).
#include "souk/app/server.hpp"

#include "souk/api/api.hpp"
#include "souk/api/http/http_server.hpp"
#include "souk/api/stream_lifecycle.hpp"
#include "souk/app/idle_reaper.hpp"
#include "souk/app/media_wiring.hpp"
#include "souk/app/realtime_store.hpp"
#include "souk/app/webhook_events.hpp"
#include "souk/event_loops.hpp"
#include "souk/file_cache.hpp"
#include "souk/ingest/rtmp_server.hpp"
#include "souk/ingest/stream_hub.hpp"
#include "souk/log.hpp"
#include "souk/random.hpp"
#include "souk/storage/auth_tokens.hpp"
#include "souk/storage/database.hpp"
#include "souk/storage/migrations.hpp"
#include "souk/version.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <csignal>
#include <functional>
#include <future>
#include <thread>

namespace souk::app {
namespace {

namespace net = boost::asio;

// Requests still in flight at SIGTERM get this long before the process exits.
constexpr auto shutdown_grace = std::chrono::milliseconds(4500);

unsigned network_threads() { return std::max(1u, std::thread::hardware_concurrency()); }
// Handlers block on SQLite and argon2id; a few more threads than cores keeps the
// CPU busy while some wait on the database or disk.
std::size_t blocking_threads() { return std::max<std::size_t>(4, std::size_t{2} * network_threads()); }

}  // namespace

int run_server(const ServerConfig& config) {
  log::init(config.log_level, config.log_format);
  packager::route_ffmpeg_logs();
  init_crypto();
  std::signal(SIGPIPE, SIG_IGN);
  // A file-size limit (ulimit -f) fails the write with EFBIG, which every writer
  // handles as a full disk (HLS pauses, the recording stops, requests get 503
  // storage_full); its default signal would kill every stream at once.
  std::signal(SIGXFSZ, SIG_IGN);

  std::error_code fs_ec;
  std::filesystem::create_directories(config.data_dir, fs_ec);
  if (fs_ec) {
    log::error("cannot create the data directory",
               {{"data_dir", config.data_dir.string()}, {"error", fs_ec.message()}});
    return 1;
  }

  std::unique_ptr<storage::Database> db;
  try {
    db = std::make_unique<storage::Database>((config.data_dir / "souk.db").string());
  } catch (const std::exception& e) {
    log::error("cannot open the database",
               {{"path", (config.data_dir / "souk.db").string()}, {"error", e.what()}});
    return 1;
  }

  // Expired tokens can never authenticate again; drop them at each start. No
  // publisher or viewer is connected yet: the lifecycle repairs what the
  // previous run left (open viewer sessions, streams that were receiving).
  const auto [expired, interrupted] = db->write([](storage::Connection& c) {
    const auto now = now_millis();
    return std::make_pair(storage::auth_tokens::delete_expired(c, now),
                          api::StreamLifecycle::recover_after_restart(c, now));
  });

  // The pools outlive the io_context: handlers it may still own at destruction
  // hold strands of the pools.
  // Requests waiting for the hashing pool hold a blocking thread each (at most
  // its threads and queue): the pool has that many more, so a burst of logins
  // never leaves other requests without a thread.
  const std::size_t request_threads = blocking_threads() + config.hash_threads + config.hash_queue;
  net::thread_pool blocking(request_threads);
  net::io_context ioc;

  // Hot HLS files in memory: the packager puts what it writes, the HTTP server
  // answers from it on network threads.
  FileCache hls_cache(config.hls_cache_mb * 1024 * 1024);

  api::ApiOptions api_options;
  api_options.data_dir = config.data_dir;
  api_options.hls_cache = &hls_cache;
  api_options.public_http_url = config.public_http_url;
  api_options.public_rtmp_url = config.public_rtmp_url;
  api_options.cors_origins = config.cors_origins;
  api_options.login_max_failures = config.login_max_failures;
  api_options.login_window = config.login_window;
  api_options.login_failures_per_minute_per_address = config.login_failures_per_minute_per_address;
  api_options.login_failures_per_minute = config.login_failures_per_minute;
  api_options.hash_threads = config.hash_threads;
  api_options.hash_queue = config.hash_queue;
  api_options.product_events_per_minute = config.product_events_per_minute;
  api_options.token_lifetime = config.token_ttl;
  api::Api api(*db, api_options);

  // Webhooks: events go to the outbox with the change they announce; the
  // dispatcher thread delivers them, starting with those a previous run left.
  std::unique_ptr<webhooks::Dispatcher> webhook_dispatcher;
  std::unique_ptr<WebhookEvents> webhook_events;
  if (!config.webhook_urls.empty()) {
    webhooks::DispatcherOptions webhook_options;
    webhook_options.secret = config.webhook_secret;
    webhook_options.max_attempts = config.webhook_max_attempts;
    webhook_options.retry_base = config.webhook_retry_base;
    webhook_dispatcher = std::make_unique<webhooks::Dispatcher>(*db, webhook_options);
    webhook_events = std::make_unique<WebhookEvents>(config.webhook_urls, *webhook_dispatcher);
    api.lifecycle().set_event_outbox(webhook_events.get());
  }

  // Realtime: Socket.IO on the HTTP port.
  api::RealtimeOptions realtime_options;
  realtime_options.viewer_count_interval = config.viewer_count_interval;
  realtime_options.cors_origins = config.cors_origins;
  realtime_options.ping_interval = config.socketio_ping_interval;
  realtime_options.ping_timeout = config.socketio_ping_timeout;
  realtime_options.max_connections = config.realtime_max_connections;
  realtime_options.max_per_address = config.realtime_max_per_address;
  realtime_options.max_queue_bytes = config.realtime_max_queue_bytes;
  realtime_options.reactions_per_second = config.reactions_per_second;
  realtime_options.reaction_batch_interval = config.reaction_batch_interval;
  realtime_options.joins_per_minute = config.joins_per_minute;
  // A player buffers about three segments behind the live edge.
  realtime_options.estimated_latency_seconds = 3 * config.hls_segment_seconds;
  DatabaseRealtimeStore realtime_store(*db);
  api::Realtime realtime(ioc, blocking, realtime_store, realtime_options);
  api.lifecycle().add_observer(&realtime);
  RealtimeMediaEvents realtime_media(realtime);

  // Media: the hub between RTMP publishers and consumers, and the adapters that
  // connect it to storage and the API.
  ingest::StreamHub hub;
  StoragePublishAuthorizer authorizer(*db, blocking);
  IngestStateRecorder ingest_state(*db, blocking);
  VodRecorder vod_recorder(*db, api.lifecycle());
  // Packaging and recording block on disk and muxing: their own pool.
  net::thread_pool media_pool(2);
  packager::PackagerOptions packager_options;
  packager_options.data_dir = config.data_dir;
  packager_options.segment_seconds = config.hls_segment_seconds;
  packager_options.playlist_window = config.hls_window;
  packager_options.cache = &hls_cache;
  packager_options.background = [&blocking](std::function<void()> work) {
    net::post(blocking, std::move(work));
  };
  packager::Packager packager(
      media_pool, packager_options,
      [&db](const std::string& id) { return stream_records(*db, id); }, vod_recorder);
  packager.recover([&db](const std::string& id) { return stream_is_live(*db, id); });
  MediaPlane media_plane(hub, packager);
  hub.add_listener(&ingest_state);
  hub.add_listener(&realtime_media);
  hub.add_sink(&packager);
  api.lifecycle().add_observer(&media_plane);
  api.lifecycle().set_ingest_status(&media_plane);

  // Streams an operator ended while the server was down are ended now, before
  // anyone can see them live (the packager's recovery has run above).
  try {
    api.lifecycle().end_requested();
  } catch (const std::exception& e) {
    log::error("ending streams operators asked to end failed", {{"error", e.what()}});
  }
  IdleReaper idle_reaper(ioc, blocking, api.lifecycle(), config.idle_timeout);

  ingest::RtmpOptions rtmp_options;
  rtmp_options.app = config.rtmp_app;
  rtmp_options.max_connections = config.rtmp_max_connections;
  rtmp_options.max_per_address = config.rtmp_max_per_address;
  rtmp_options.chunk_limits.max_chunk_streams = config.rtmp_max_chunk_streams;
  rtmp_options.chunk_limits.max_partial_bytes = config.rtmp_max_partial_bytes;
  rtmp_options.publish_deadline = config.rtmp_publish_deadline;
  rtmp_options.idle_timeout = config.rtmp_idle_timeout;
  rtmp_options.trusted_proxies = config.trusted_proxies;
  // Publishers run on event loops of their own, a thread each (souk/event_loops.hpp
  // says why). Declared after the hub and the packager: sessions still queued
  // in a loop at exit release their stream into the hub as they are destroyed.
  EventLoops rtmp_loops(config.rtmp_threads > 0 ? config.rtmp_threads : network_threads());
  ingest::RtmpServer rtmp(ioc, rtmp_options, hub, authorizer, &rtmp_loops);

  api::HttpMetrics http_metrics;
  api::HttpServerOptions http_options;
  http_options.metrics = &http_metrics;
  http_options.max_body_bytes = config.max_body_bytes;
  http_options.request_timeout = config.http_request_timeout;
  http_options.max_connections = config.http_max_connections;
  http_options.max_per_address = config.http_max_per_address;
  http_options.trusted_proxies = config.trusted_proxies;
  http_options.max_ws_queue_bytes = config.realtime_max_queue_bytes;
  api::HttpServer http(ioc, blocking, http_options,
                       [&api](const api::HttpRequest& r) { return api.handle(r); });
  http.set_realtime(&realtime);
  http.set_fast_handler([&api](const api::HttpRequest& r) { return api.try_serve_cached(r); });
  try {
    http.listen({net::ip::make_address(config.http_listen.host), config.http_listen.port});
  } catch (const std::system_error& e) {
    log::error("cannot listen", {{"option", "http-listen"},
                                 {"address", config.http_listen.to_string()},
                                 {"error", e.code().message()}});
    blocking.join();
    return 1;
  }
  try {
    rtmp.listen({net::ip::make_address(config.rtmp_listen.host), config.rtmp_listen.port});
  } catch (const std::system_error& e) {
    log::error("cannot listen", {{"option", "rtmp-listen"},
                                 {"address", config.rtmp_listen.to_string()},
                                 {"error", e.code().message()}});
    blocking.join();
    return 1;
  }

  std::promise<int> stop_signal;
  net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (!ec) stop_signal.set_value(signo);
  });

  realtime.start();
  idle_reaper.start();
  if (webhook_dispatcher) webhook_dispatcher->start();
  rtmp_loops.start();
  auto work = net::make_work_guard(ioc);
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < network_threads(); ++i) threads.emplace_back([&ioc] { ioc.run(); });

  log::info("souk-live started",
            {{"version", souk::version},
             {"http", http.local_endpoint().address().to_string() + ":" +
                          std::to_string(http.local_endpoint().port())},
             {"rtmp", rtmp.local_endpoint().address().to_string() + ":" +
                          std::to_string(rtmp.local_endpoint().port())},
             {"public_http_url", config.public_http_url},
             {"public_rtmp_url", config.public_rtmp_url},
             {"data_dir", config.data_dir.string()},
             {"schema_version", db->schema_version()},
             {"expired_tokens_dropped", expired},
             {"streams_interrupted", interrupted},
             {"webhook_receivers", static_cast<std::uint64_t>(config.webhook_urls.size())},
             {"network_threads", network_threads()},
             {"rtmp_threads", static_cast<std::uint64_t>(rtmp_loops.size())},
             {"blocking_threads", static_cast<std::uint64_t>(request_threads)},
             {"hash_threads", static_cast<std::uint64_t>(config.hash_threads)}});

  const int signo = stop_signal.get_future().get();
  log::info("shutting down", {{"signal", signo == SIGINT ? "SIGINT" : "SIGTERM"}});

  // Stop accepting, close idle connections, let requests in flight finish.
  http.shutdown();
  rtmp.shutdown();
  realtime.stop();
  idle_reaper.stop();
  // Requests to receivers in flight are abandoned: still pending, sent after the restart.
  if (webhook_dispatcher) webhook_dispatcher->stop();
  const auto deadline = std::chrono::steady_clock::now() + shutdown_grace;
  while ((http.connection_count() > 0 || rtmp.connection_count() > 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (const auto left = http.connection_count(); left > 0) {
    log::warn("closing connections still busy at the deadline",
              {{"connections", static_cast<std::uint64_t>(left)}});
  }
  work.reset();
  ioc.stop();
  rtmp_loops.stop();
  for (auto& t : threads) t.join();
  // Completions still queued on ioc run now, while everything they touch is
  // alive: among them the RTMP accept that shutdown cancelled, whose operation
  // holds a socket of one of rtmp_loops' io_contexts, destroyed before ioc.
  ioc.restart();
  ioc.poll();
  rtmp_loops.join();
  blocking.join();
  media_pool.join();  // queued packaging finishes; open recordings are finalized at next start
  log::info("stopped");
  return 0;
}

}  // namespace souk::app
