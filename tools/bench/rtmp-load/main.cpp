// rtmp-load: the benchmark's RTMP load generator. Many publishers from one
// process, each replaying one shared in-memory FLV in real time:
//
//   main ─ schedules slot i at start + ramp·i/N, prints progress, writes the report
//   connector threads (--connect-threads) ─ librtmp: TCP, handshake, publish
//        │ established session (non-blocking socket)
//        ▼
//   sender threads (--threads) ─ epoll + timer heap by each session's next look
//        (pacer.hpp); write each tag's chunk headers and shared body in the
//        syscalls of the client --pattern names (write_pattern.hpp); answer pings, acks
//
// Usage and exit codes: see options.cpp (rtmp-load --help).
#include "connector.hpp"
#include "media.hpp"
#include "options.hpp"
#include "report.hpp"
#include "session.hpp"
#include "stats.hpp"
#include "worker.hpp"

#include "flv_reader.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

namespace {

using namespace rtmp_load;
using std::chrono::milliseconds;

volatile std::sig_atomic_t stop_requested = 0;
void on_stop_signal(int) { stop_requested = 1; }

double seconds_of(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return seconds_of(u.ru_utime) + seconds_of(u.ru_stime);
}

// Room for one socket per publisher (plus files, epoll and eventfds).
void raise_file_limit(std::size_t publishers) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t want = static_cast<rlim_t>(publishers) + 256;
  if (limit.rlim_cur >= want) return;
  limit.rlim_cur = std::min(limit.rlim_max, want);
  ::setrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < want) {
    std::fprintf(stderr,
                 "rtmp-load: warning: open files limited to %llu, fewer than %zu publishers need\n",
                 static_cast<unsigned long long>(limit.rlim_cur), publishers);
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool help = false;
  const auto parsed = parse_options(argc, argv, help);
  if (!parsed) return help ? 0 : 2;
  const Options& o = *parsed;

  std::string bytes;
  std::string error;
  if (!rtmp_publish::read_file(o.flv, bytes, error)) {
    std::fprintf(stderr, "rtmp-load: %s\n", error.c_str());
    return 2;
  }
  const auto flv = rtmp_publish::parse_flv(bytes);
  if (!flv.error.empty()) {
    std::fprintf(stderr, "rtmp-load: %s: %s\n", o.flv.c_str(), flv.error.c_str());
    return 2;
  }
  Media media;
  if (!build_media(flv.tags, media, error)) {
    std::fprintf(stderr, "rtmp-load: %s: %s\n", o.flv.c_str(), error.c_str());
    return 2;
  }
  std::fprintf(stderr,
               "rtmp-load: %zu publishers, %s pattern, %u-byte chunks, %s: %zu tags, %u ms a pass "
               "(%.0f kbit/s), %zu trimmed\n",
               o.urls.size(), pattern_name(o.pattern), o.chunk_size, o.flv.c_str(),
               media.tags.size(), media.pass_ms,
               static_cast<double>(media.bytes_per_pass) * 8.0 / media.pass_ms, media.trimmed_tags);

  install_librtmp_log(o.verbose);
  std::signal(SIGPIPE, SIG_IGN);  // a closed connection fails a write instead
  struct sigaction stop {};
  stop.sa_handler = on_stop_signal;
  sigemptyset(&stop.sa_mask);
  sigaction(SIGINT, &stop, nullptr);
  sigaction(SIGTERM, &stop, nullptr);
  raise_file_limit(o.urls.size());

  std::vector<Slot> slots(o.urls.size());
  for (std::size_t i = 0; i < slots.size(); ++i) {
    slots[i].index = i;
    slots[i].url = o.urls[i];
  }
  Totals totals;

  ConnectorSettings cs;
  cs.connect.timeout_ms = o.timeout_ms;
  cs.connect.chunk_size = o.chunk_size;
  cs.connect.sndbuf = o.sndbuf;
  cs.connect.nagle = uses_nagle(o.pattern);
  cs.duration_ms = o.duration_ms;
  cs.reconnect = o.reconnect;
  cs.reconnect_delay_ms = o.reconnect_delay_ms;

  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<Connector> connector;
  WorkerSettings ws;
  ws.pattern = o.pattern;
  ws.chunk_size = o.chunk_size;
  ws.max_backlog_ms = o.max_backlog_ms;
  ws.batch_ms = o.batch_ms;
  ws.pace_ms = *o.pace_ms;
  for (unsigned i = 0; i < o.threads; ++i) {
    workers.push_back(std::make_unique<Worker>(
        media, ws, totals,
        [&connector](Slot& slot, bool dropped) { connector->session_over(slot, dropped); }));
  }
  connector = std::make_unique<Connector>(slots, workers, cs, totals);
  for (auto& w : workers) {
    if (!w->start(error)) {
      std::fprintf(stderr, "rtmp-load: %s\n", error.c_str());
      return 2;
    }
  }
  connector->start(o.connect_threads);

  const auto start = std::chrono::steady_clock::now();
  const double cpu_at_start = cpu_seconds();
  for (std::size_t i = 0; i < slots.size(); ++i) {
    const auto offset = milliseconds(
        static_cast<std::int64_t>(static_cast<double>(o.ramp_ms) * static_cast<double>(i) /
                                  static_cast<double>(slots.size())));
    connector->schedule(slots[i], start + offset);
  }

  // Everything should be over by then; past it, stop whatever is left.
  const auto hard_deadline = start + milliseconds(o.ramp_ms) + milliseconds(o.duration_ms) +
                             milliseconds(o.timeout_ms) + milliseconds(o.max_backlog_ms) +
                             std::chrono::seconds(30);
  auto last_progress = start;
  std::uint64_t last_bytes = 0, last_tags = 0;
  double last_cpu = cpu_at_start;
  while (!stop_requested && totals.finished_slots.load() < slots.size() &&
         std::chrono::steady_clock::now() < hard_deadline) {
    std::this_thread::sleep_for(milliseconds(100));
    const auto now = std::chrono::steady_clock::now();
    if (o.progress_s > 0 && now - last_progress >= std::chrono::seconds(o.progress_s)) {
      const double span = std::chrono::duration<double>(now - last_progress).count();
      const auto b = totals.bytes_sent.load(), t = totals.tags_sent.load();
      const double cpu = cpu_seconds();
      std::fprintf(stderr,
                   "rtmp-load: %5.0fs active %lld established %llu failed %llu dropped %llu "
                   "completed %llu | %.1f Mbit/s %.0f tags/s backlogged %llu | cpu %.1f%%\n",
                   std::chrono::duration<double>(now - start).count(),
                   static_cast<long long>(totals.active.load()),
                   static_cast<unsigned long long>(totals.established.load()),
                   static_cast<unsigned long long>(totals.failed.load()),
                   static_cast<unsigned long long>(totals.dropped.load()),
                   static_cast<unsigned long long>(totals.completed.load()),
                   static_cast<double>(b - last_bytes) * 8.0 / 1e6 / span,
                   static_cast<double>(t - last_tags) / span,
                   static_cast<unsigned long long>(totals.backlogged.load()),
                   100.0 * (cpu - last_cpu) / span);
      last_progress = now;
      last_bytes = b;
      last_tags = t;
      last_cpu = cpu;
    }
  }
  const bool interrupted = stop_requested != 0;
  if (interrupted) std::fprintf(stderr, "rtmp-load: interrupted; closing every connection\n");

  // No new sessions first, then close the open ones.
  connector->stop();
  connector->join();
  for (auto& w : workers) w->stop();
  for (auto& w : workers) w->join();

  RunResult r;
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  r.cpu_user_seconds = seconds_of(usage.ru_utime);
  r.cpu_system_seconds = seconds_of(usage.ru_stime);
  r.max_rss_kib = usage.ru_maxrss;
  r.interrupted = interrupted;
  r.peak_active = totals.peak_active.load();
  r.failure_reasons = connector->failure_reasons();
  r.connect_times = connector->connect_times();
  for (const auto& w : workers) {
    r.schedule_lateness.merge(w->schedule_lateness());
    r.write_lateness.merge(w->write_lateness());
    r.drop_reasons.merge(w->drop_reasons());
    r.open_at_stop += w->sessions_open_at_stop();
    r.wakeups += w->wakeups();
    r.writes += w->writes();
  }

  int status = 0;
  if (!o.keyframe_log.empty() && !write_keyframe_csv(o.keyframe_log, slots, error)) {
    std::fprintf(stderr, "rtmp-load: %s\n", error.c_str());
    status = 2;
  }
  if (!o.report.empty() &&
      !write_report(o.report, o, media, slots, r, o.keyframe_log.empty(), error)) {
    std::fprintf(stderr, "rtmp-load: %s\n", error.c_str());
    status = 2;
  }

  std::uint64_t failed_slots = 0;
  for (const auto& s : slots) {
    if (s.established == 0 || s.drops > 0 || s.completed == 0) ++failed_slots;
  }
  std::fprintf(stderr,
               "rtmp-load: done in %.1f s: %llu/%zu publishers completed, attempts %llu, "
               "established %llu, failed %llu, dropped %llu; %.1f MB sent; lateness p50 %.2f "
               "p99 %.2f max %.2f ms; cpu %.2f s (%.1f%% of one core)\n",
               r.wall_seconds, static_cast<unsigned long long>(slots.size() - failed_slots),
               slots.size(), static_cast<unsigned long long>(totals.attempts.load()),
               static_cast<unsigned long long>(totals.established.load()),
               static_cast<unsigned long long>(totals.failed.load()),
               static_cast<unsigned long long>(totals.dropped.load()),
               static_cast<double>(totals.bytes_sent.load()) / 1e6,
               r.write_lateness.percentile_ms(50), r.write_lateness.percentile_ms(99),
               r.write_lateness.max_ms(), r.cpu_user_seconds + r.cpu_system_seconds,
               100.0 * (r.cpu_user_seconds + r.cpu_system_seconds) / r.wall_seconds);
  for (const auto& [reason, count] : r.failure_reasons.counts()) {
    std::fprintf(stderr, "rtmp-load:   failed %llu× %s\n", static_cast<unsigned long long>(count),
                 reason.c_str());
  }
  for (const auto& [reason, count] : r.drop_reasons.counts()) {
    std::fprintf(stderr, "rtmp-load:   dropped %llu× %s\n", static_cast<unsigned long long>(count),
                 reason.c_str());
  }
  if (status != 0) return status;
  if (interrupted) return 130;
  return failed_slots == 0 ? 0 : 1;
}
