// Stream figures from stored rows.
#include "souk/storage/stream_stats.hpp"

#include "souk/storage/sqlite.hpp"

#include <algorithm>

namespace souk::storage {
namespace {

std::int64_t rounded_seconds(std::int64_t ms) { return (ms + 500) / 1000; }

}  // namespace

WatchFigures summarize_viewers(const std::vector<ViewerInterval>& sessions, UnixMillis window_start,
                               UnixMillis window_end) {
  struct Span {
    UnixMillis from, to;
  };
  std::map<std::string, std::vector<Span>> by_viewer;
  std::vector<std::pair<UnixMillis, int>> edges;  // (time, +1 join / -1 leave)
  for (const auto& s : sessions) {
    const UnixMillis from = std::max(s.joined_at, window_start);
    const UnixMillis to = std::min(s.left_at.value_or(window_end), window_end);
    if (to < from) continue;  // entirely outside the window
    by_viewer[s.viewer_key].push_back({from, to});
    edges.emplace_back(from, +1);
    edges.emplace_back(to, -1);
  }

  WatchFigures out;
  // A leave and a join at the same instant are not concurrent: leaves sort first.
  std::sort(edges.begin(), edges.end());
  std::int64_t current = 0;
  for (const auto& [t, delta] : edges) {
    current += delta;
    out.peak_viewers = std::max(out.peak_viewers, current);
  }
  out.unique_viewers = static_cast<std::int64_t>(by_viewer.size());
  for (auto& [viewer, spans] : by_viewer) {
    std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.from < b.from; });
    UnixMillis cur_from = spans.front().from;
    UnixMillis cur_to = spans.front().to;
    for (const auto& sp : spans) {
      if (sp.from > cur_to) {
        out.total_watch_ms += cur_to - cur_from;
        cur_from = sp.from;
        cur_to = sp.to;
      } else {
        cur_to = std::max(cur_to, sp.to);
      }
    }
    out.total_watch_ms += cur_to - cur_from;
  }
  return out;
}

StreamFigures compute_stream_figures(Connection& c, std::string_view stream_id,
                                     UnixMillis started_at, UnixMillis end_at) {
  StreamFigures f;
  f.duration_seconds = rounded_seconds(std::max<UnixMillis>(0, end_at - started_at));

  std::vector<ViewerInterval> sessions;
  {
    auto q = c.query(
        "SELECT viewer_key, joined_at, left_at FROM viewer_sessions WHERE stream_id = ?",
        stream_id);
    while (q.next()) sessions.push_back({q->text(0), q->int64(1), q->opt_int64(2)});
  }
  const auto watch = summarize_viewers(sessions, started_at, end_at);
  f.peak_viewers = watch.peak_viewers;
  f.unique_viewers = watch.unique_viewers;
  f.total_watch_seconds = rounded_seconds(watch.total_watch_ms);
  f.average_watch_seconds =
      watch.unique_viewers > 0 ? rounded_seconds(watch.total_watch_ms / watch.unique_viewers) : 0;

  {
    auto q = c.query("SELECT emoji, COUNT(*) FROM reactions WHERE stream_id = ? GROUP BY emoji",
                     stream_id);
    while (q.next()) {
      f.reactions[q->text(0)] = q->int64(1);
      f.total_likes += q->int64(1);
    }
  }
  {
    auto q = c.query("SELECT COUNT(*) FROM chat_messages WHERE stream_id = ?", stream_id);
    q.next();
    f.chat_messages = q->int64(0);
  }
  return f;
}

}  // namespace souk::storage
