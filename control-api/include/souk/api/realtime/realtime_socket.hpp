// One Socket.IO socket as the events see it (one per Engine.IO session): its
// id, its Socket.IO state, and its way out; and SocketHandler, what runs above
// the transport. The transport (engineio_session) implements the socket; the
// events (events.hpp) implement the handler; tests fake either.
#pragma once

#include "souk/api/realtime/realtime_store.hpp"
#include "souk/api/realtime/rooms.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace souk::api {

class RealtimeSocket : public RoomMember {
 public:
  // `address`: the client's IP address as the HTTP server saw it (behind a
  // trusted proxy, the one it names), for the bounds kept per address.
  explicit RealtimeSocket(std::string id, std::string address = {})
      : id_(std::move(id)), address_(std::move(address)) {}

  const std::string& id() const { return id_; }  // the Socket.IO socket id
  const std::string& address() const { return address_; }

  // One packet, after those sent before (thread-safe).
  void send(const SharedText& packet) { deliver(std::span<const SharedText>(&packet, 1)); }
  // Ends the session (thread-safe; idempotent). The handler then hears
  // on_closed, on the socket's strand.
  virtual void close(const char* reason) = 0;

  // Socket.IO state, touched only by the handler on the socket's strand.
  bool connected = false;
  std::optional<RealtimeUser> user;
  // The token CONNECT signed in with, and when it was last found valid: a
  // logout or `souk-live user disable` revokes it, and the socket's next chat,
  // reaction or prepare after RealtimeOptions::token_recheck finds out.
  std::optional<Sha256> token_hash;
  UnixMillis token_checked_at = 0;
  bool token_revoked = false;  // the socket closes once told why
  std::map<std::string, std::int64_t> rooms;  // stream id -> viewer session id
  std::string viewer_key() const { return user ? user->id : id_; }

  // The user id once CONNECT authenticated; read from any thread (notifications).
  void set_signed_in_user(std::string user_id) {
    std::lock_guard lock(signed_in_mutex_);
    signed_in_user_ = std::move(user_id);
  }
  std::string signed_in_user() const {
    std::lock_guard lock(signed_in_mutex_);
    return signed_in_user_;
  }

 private:
  const std::string id_;
  const std::string address_;
  mutable std::mutex signed_in_mutex_;
  std::string signed_in_user_;
};

class SocketHandler {
 public:
  virtual ~SocketHandler() = default;
  // A Socket.IO packet (an Engine.IO message's data), on the socket's strand, in
  // the order they came; never once the socket is closed.
  virtual void on_packet(const std::shared_ptr<RealtimeSocket>& socket,
                         const std::string& text) = 0;
  // The session closed: on the socket's strand, after every packet it handled.
  virtual void on_closed(const std::shared_ptr<RealtimeSocket>& socket) = 0;
};

}  // namespace souk::api
