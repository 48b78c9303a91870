// Reactions gathered per room and interval (see reaction_batcher.hpp).
#include "souk/api/realtime/reaction_batcher.hpp"

#include <algorithm>

namespace souk::api {

ReactionBatcher::Added ReactionBatcher::add(const std::string& room, const std::string& emoji,
                                            const std::string& user_id, Clock::time_point now) {
  if (interval_.count() <= 0) return {ReactionCount{emoji, user_id, 1}, false};
  std::lock_guard lock(mutex_);
  const bool was_empty = rooms_.empty();
  auto [it, fresh] = rooms_.try_emplace(room);
  Room& r = it->second;
  if (fresh || (r.waiting.empty() && now - r.last_sent >= interval_)) {
    r.last_sent = now;
    return {ReactionCount{emoji, user_id, 1}, was_empty};
  }
  auto same = std::find_if(r.waiting.begin(), r.waiting.end(),
                           [&](const ReactionCount& c) { return c.emoji == emoji; });
  if (same == r.waiting.end()) {
    r.waiting.push_back({emoji, user_id, 1});
  } else {
    same->user_id = user_id;
    ++same->count;
  }
  return {std::nullopt, was_empty};
}

std::vector<RoomReactions> ReactionBatcher::take_due(Clock::time_point now) {
  std::vector<RoomReactions> due;
  std::lock_guard lock(mutex_);
  for (auto it = rooms_.begin(); it != rooms_.end();) {
    Room& r = it->second;
    if (now - r.last_sent < interval_) {
      ++it;
    } else if (r.waiting.empty()) {
      it = rooms_.erase(it);  // quiet for an interval: its next reaction goes at once
    } else {
      due.push_back({it->first, std::move(r.waiting)});
      r.waiting.clear();
      r.last_sent = now;
      ++it;
    }
  }
  return due;
}

std::optional<ReactionBatcher::Clock::time_point> ReactionBatcher::next_due() const {
  std::lock_guard lock(mutex_);
  std::optional<Clock::time_point> next;
  for (const auto& [room, r] : rooms_) {
    const auto due = r.last_sent + interval_;
    if (!next || due < *next) next = due;
  }
  return next;
}

std::size_t ReactionBatcher::rooms_tracked() const {
  std::lock_guard lock(mutex_);
  return rooms_.size();
}

}  // namespace souk::api
