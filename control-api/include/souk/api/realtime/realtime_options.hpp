// The realtime plane's settings and limits, all in one place: what app/ sets
// from the configuration, and the fixed bounds that protect the server.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace souk::api {

struct RealtimeOptions {
  // Engine.IO heartbeat: the server pings every interval; no pong within the
  // timeout closes the session (announced in the open packet).
  std::chrono::milliseconds ping_interval{25000};
  std::chrono::milliseconds ping_timeout{20000};
  // The largest POST body or WebSocket message a client may send (maxPayload).
  std::size_t max_payload = 1000000;
  // Packets waiting for a polling client; one more closes it (it stopped polling).
  std::size_t max_queue = 1024;
  // Bytes waiting for a client, polling or WebSocket; past them it is closed
  // as past max_queue (a few large packets weigh as much as many small ones).
  std::size_t max_queue_bytes = std::size_t{4} * 1024 * 1024;
  // Socket.IO packets a client may have waiting for its strand; one more closes
  // it: a client may not queue more work than it lets the server finish.
  int max_backlog = 256;
  // How often each live room hears stream:viewer-count.
  std::chrono::milliseconds viewer_count_interval{10000};
  // Browser origins that may read polling responses (as --cors-origins for REST).
  std::vector<std::string> cors_origins{"*"};
  double estimated_latency_seconds = 6;  // what stream:ready announces

  // Chat: messages per user in any rolling minute, across all their sockets.
  int chat_per_minute = 10;
  // A chat message's length after trimming, in characters (UTF-8 code points).
  std::size_t max_chat_message_length = 200;
  // How many of the latest chat messages stream:joined carries.
  int recent_chat_on_join = 100;
  // Past this many users tracked, the chat limiter forgets those whose minute
  // has passed, so its map stays as small as the set of recent chatters.
  std::size_t chat_limiter_prune_threshold = 4096;

  // Reactions per user, across their sockets: this many a second on average,
  // twice as many at once.
  double reactions_per_second = 10;
  // A room's reactions go out at most once per interval: the first after a
  // quiet interval at once, the rest as one reaction:new per emoji with its
  // count when the interval ends. Zero: each reaction at once, alone.
  std::chrono::milliseconds reaction_batch_interval{200};
  // Rooms a socket may enter per minute (a join of a room it is not in); a
  // client address may enter ten times as many, across its sockets. Repeat
  // joins and leaves are not counted: a leave needs a join before it.
  int joins_per_minute = 30;

  // A signed-in socket's token is checked again before a chat message, reaction
  // or prepare once this long has passed since the last check: a revoked token
  // (logout, a disabled account) stops working within it.
  std::chrono::milliseconds token_recheck{5000};

  // Engine.IO sessions (one per Socket.IO client, polling or WebSocket) open at
  // once, and per client address.
  std::size_t max_connections = 10000;
  std::size_t max_per_address = 1000;  // many viewers may share an address (NAT, CGNAT)
};

}  // namespace souk::api
