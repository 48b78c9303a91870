// rtmp-load's JSON summary and keyframe CSV.
#pragma once

#include "media.hpp"
#include "options.hpp"
#include "stats.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace rtmp_load {

struct RunResult {
  double wall_seconds = 0;
  double cpu_user_seconds = 0;
  double cpu_system_seconds = 0;
  long max_rss_kib = 0;
  bool interrupted = false;
  std::uint64_t open_at_stop = 0;
  std::int64_t peak_active = 0;
  std::uint64_t wakeups = 0;
  std::uint64_t writes = 0;
  LatenessHistogram schedule_lateness;
  LatenessHistogram write_lateness;
  LatenessHistogram connect_times;
  ReasonCounter failure_reasons;
  ReasonCounter drop_reasons;
};

// Writes the summary to `path` ("-" = stdout); with keyframes inline unless
// `keyframes_inline` is false. False with `error` set when it cannot be written.
bool write_report(const std::string& path, const Options& options, const Media& media,
                  const std::vector<Slot>& slots, const RunResult& result, bool keyframes_inline,
                  std::string& error);

// conn,session,ts_ms,sent_at_ms: one line per keyframe, with a header line.
bool write_keyframe_csv(const std::string& path, const std::vector<Slot>& slots,
                        std::string& error);

}  // namespace rtmp_load
