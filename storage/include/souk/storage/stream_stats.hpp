// A stream's figures, computed from what storage holds: viewer sessions,
// reactions, chat messages and product events. The same function serves /end,
// /analytics and start-up recovery, so they always agree.
#pragma once

#include "souk/storage/stream_products.hpp"
#include "souk/time.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace souk::storage {

class Connection;

struct ViewerInterval {
  std::string viewer_key;  // user id, or socket id for an anonymous viewer
  UnixMillis joined_at;
  std::optional<UnixMillis> left_at;  // nullopt: still watching
};

struct WatchFigures {
  std::int64_t peak_viewers = 0;       // most sessions open at one instant
  std::int64_t unique_viewers = 0;     // distinct viewer keys
  std::int64_t total_watch_ms = 0;     // per viewer, overlapping sessions merged
};

// Pure: clamps every session to [window_start, window_end] (open sessions end at
// window_end), drops those outside, and measures the rest.
WatchFigures summarize_viewers(const std::vector<ViewerInterval>& sessions, UnixMillis window_start,
                               UnixMillis window_end);

struct StreamFigures {
  std::int64_t duration_seconds = 0;
  std::int64_t peak_viewers = 0;
  std::int64_t unique_viewers = 0;
  std::int64_t total_watch_seconds = 0;
  std::int64_t average_watch_seconds = 0;  // total / unique viewers
  std::int64_t total_likes = 0;            // every reaction counts as a like
  std::int64_t chat_messages = 0;
  std::map<std::string, std::int64_t> reactions;  // emoji -> count
};

// Figures for the live window [started_at, end_at].
StreamFigures compute_stream_figures(Connection& c, std::string_view stream_id,
                                     UnixMillis started_at, UnixMillis end_at);

}  // namespace souk::storage
