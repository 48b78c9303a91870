// Rooms: which sockets are in each stream's room, and the fan-out that delivers
// one encoded packet to all of them.
//
// RoomFanout is the seam for several nodes: the in-process Rooms below delivers
// to this node's members; a multi-node fan-out (a later issue: Redis, after
// socket.io's redis adapter, whose broadcast(packet, opts) it mirrors) would
// deliver locally through Rooms, then publish the packet once on the room's
// channel for the other nodes to deliver to theirs.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace souk::api {

// One encoded packet, shared by every recipient (never copied per member).
using SharedText = std::shared_ptr<const std::string>;

// Where a room member's packets go: the transport of one client.
class RoomMember {
 public:
  virtual ~RoomMember() = default;
  // Queues `packets`, in order, after any delivered before (thread-safe; must
  // not block, and must take no lock of the rooms').
  virtual void deliver(std::span<const SharedText> packets) = 0;
};

class RoomFanout {
 public:
  virtual ~RoomFanout() = default;
  // Delivers `packet` to every member of `room`, from any thread; packets
  // broadcast to a room reach each member in the order the calls were made
  // (calls that overlap are ordered as they took the room's lock).
  virtual void broadcast(const std::string& room, const SharedText& packet) = 0;
};

// Rooms of this process (thread-safe). A room exists while it has members.
class Rooms final : public RoomFanout {
 public:
  struct Joined {
    bool fresh = false;      // false: the member was in the room already
    std::int64_t count = 0;  // members now
  };
  Joined join(const std::string& room, const std::shared_ptr<RoomMember>& member);
  // Takes `member` out of `room` (and the room away once empty). Returns the
  // members left.
  std::int64_t leave(const std::string& room, const std::shared_ptr<RoomMember>& member);

  std::vector<std::shared_ptr<RoomMember>> members(const std::string& room) const;
  // Each room and its member count, by room name.
  std::vector<std::pair<std::string, std::int64_t>> counts() const;

  void broadcast(const std::string& room, const SharedText& packet) override;

 private:
  // The packets broadcast to a room and not yet delivered (see broadcast).
  struct Fanout {
    std::mutex mutex;
    std::vector<SharedText> waiting;
    bool sending = false;  // a thread is delivering the room's packets
  };
  // The fanout is shared so a thread delivering a pass keeps it after the room
  // is gone.
  struct Room {
    std::set<std::shared_ptr<RoomMember>> members;
    std::shared_ptr<Fanout> fanout = std::make_shared<Fanout>();
  };

  mutable std::mutex mutex_;  // rooms_
  std::map<std::string, Room> rooms_;
};

}  // namespace souk::api
