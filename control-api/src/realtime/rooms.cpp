// Room membership and the in-process fan-out (see rooms.hpp).
#include "souk/api/realtime/rooms.hpp"

namespace souk::api {

Rooms::Joined Rooms::join(const std::string& room, const std::shared_ptr<RoomMember>& member) {
  std::lock_guard lock(mutex_);
  auto& in_room = rooms_[room].members;
  const bool fresh = in_room.insert(member).second;
  return {fresh, static_cast<std::int64_t>(in_room.size())};
}

std::int64_t Rooms::leave(const std::string& room, const std::shared_ptr<RoomMember>& member) {
  std::lock_guard lock(mutex_);
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return 0;
  it->second.members.erase(member);
  const auto count = static_cast<std::int64_t>(it->second.members.size());
  if (count == 0) rooms_.erase(it);
  return count;
}

std::vector<std::shared_ptr<RoomMember>> Rooms::members(const std::string& room) const {
  std::lock_guard lock(mutex_);
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return {};
  return {it->second.members.begin(), it->second.members.end()};
}

std::vector<std::pair<std::string, std::int64_t>> Rooms::counts() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, std::int64_t>> sizes;
  sizes.reserve(rooms_.size());
  for (const auto& [id, r] : rooms_)
    sizes.emplace_back(id, static_cast<std::int64_t>(r.members.size()));
  return sizes;
}

// Delivers a packet to every member of a room, in the order broadcasts come.
// One thread at a time delivers a room's packets: the one that finds none being
// delivered sends its own at once, and what other threads broadcast meanwhile
// waits in the room's fanout, for its next pass. A quiet room's message leaves
// without a hand-off; a busy room costs one write per viewer per pass (several
// frames in one sendmsg), not one per viewer per message, which is what lets a
// room of thousands carry hundreds of messages a second.
void Rooms::broadcast(const std::string& room, const SharedText& packet) {
  std::shared_ptr<Fanout> fanout;
  {
    std::lock_guard lock(mutex_);
    auto it = rooms_.find(room);
    if (it == rooms_.end()) return;  // nobody in the room
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
      for (const auto& member : members(room)) member->deliver(batch);
      batch.clear();
    }
  } catch (...) {
    std::lock_guard lock(fanout->mutex);
    fanout->sending = false;
    throw;
  }
}

}  // namespace souk::api
