// The report of rtmp-load (see report.hpp).
#include "report.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

namespace rtmp_load {
namespace {

using nlohmann::ordered_json;

double round3(double v) { return std::round(v * 1000.0) / 1000.0; }

ordered_json lateness(const LatenessHistogram& h) {
  return ordered_json{{"samples", h.count()},
                      {"p50", round3(h.percentile_ms(50))},
                      {"p99", round3(h.percentile_ms(99))},
                      {"p999", round3(h.percentile_ms(99.9))},
                      {"max", round3(h.max_ms())},
                      {"mean", round3(h.mean_ms())}};
}

ordered_json reasons(const ReasonCounter& c) {
  ordered_json out = ordered_json::object();
  for (const auto& [reason, count] : c.counts()) out[reason] = count;
  return out;
}

}  // namespace

bool write_report(const std::string& path, const Options& o, const Media& media,
                  const std::vector<Slot>& slots, const RunResult& r, bool keyframes_inline,
                  std::string& error) {
  std::uint64_t attempted = 0, established = 0, failed = 0, dropped = 0, completed = 0;
  std::uint64_t bytes = 0, tags = 0, keyframes = 0;
  std::uint64_t publishers_established = 0, publishers_completed = 0;
  for (const auto& s : slots) {
    attempted += s.attempts;
    established += s.established;
    failed += s.failures;
    dropped += s.drops;
    completed += s.completed;
    bytes += s.bytes_sent;
    tags += s.tags_sent;
    keyframes += s.keyframes.size();
    if (s.established > 0) ++publishers_established;
    if (s.completed > 0 && s.drops == 0) ++publishers_completed;
  }
  const double cpu = r.cpu_user_seconds + r.cpu_system_seconds;

  ordered_json j;
  j["tool"] = "rtmp-load";
  j["config"] = {{"publishers", slots.size()},
                 {"flv", o.flv},
                 {"duration_s", o.duration_ms / 1000.0},
                 {"ramp_s", o.ramp_ms / 1000.0},
                 {"threads", o.threads},
                 {"connect_threads", o.connect_threads},
                 {"pattern", pattern_name(o.pattern)},
                 {"chunk_size", o.chunk_size},
                 {"nagle", uses_nagle(o.pattern)},
                 {"sndbuf", o.sndbuf},
                 {"timeout_ms", o.timeout_ms},
                 {"reconnect", o.reconnect},
                 {"max_backlog_ms", o.max_backlog_ms},
                 {"batch_ms", o.batch_ms},
                 {"pace_ms", o.pace_ms.value_or(0)}};
  j["media"] = {{"tags", media.tags.size()},
                {"pass_ms", media.pass_ms},
                {"trimmed_tags", media.trimmed_tags},
                {"keyframes_per_pass", media.keyframes_per_pass},
                {"bitrate_kbps",
                 media.pass_ms == 0
                     ? 0.0
                     : round3(static_cast<double>(media.bytes_per_pass) * 8.0 / media.pass_ms)}};
  j["interrupted"] = r.interrupted;
  j["wall_seconds"] = round3(r.wall_seconds);
  j["connections"] = {{"attempted", attempted},
                      {"established", established},
                      {"failed", failed},
                      {"dropped", dropped},
                      {"completed", completed},
                      {"open_at_stop", r.open_at_stop},
                      {"peak_concurrent", r.peak_active},
                      {"publishers", slots.size()},
                      {"publishers_established", publishers_established},
                      {"publishers_completed_without_drop", publishers_completed}};
  j["failure_reasons"] = reasons(r.failure_reasons);
  j["drop_reasons"] = reasons(r.drop_reasons);
  j["bytes_sent"] = bytes;
  j["tags_sent"] = tags;
  j["keyframes_sent"] = keyframes;
  j["send_mbps"] =
      r.wall_seconds > 0 ? round3(static_cast<double>(bytes) * 8.0 / 1e6 / r.wall_seconds) : 0.0;
  // Lateness behind real time, in ms: `lateness_ms` from a tag's due time to its
  // last byte accepted by the socket (the sender plus the server's reading);
  // `schedule_lateness_ms` to when a sender thread picked it up (the sender alone).
  j["lateness_ms"] = lateness(r.write_lateness);
  j["schedule_lateness_ms"] = lateness(r.schedule_lateness);
  j["connect_ms"] = lateness(r.connect_times);  // TCP connect to NetStream.Publish.Start
  j["cpu_seconds"] = {{"user", round3(r.cpu_user_seconds)},
                      {"system", round3(r.cpu_system_seconds)},
                      {"total", round3(cpu)}};
  j["cpu_percent_of_one_core"] = r.wall_seconds > 0 ? round3(100.0 * cpu / r.wall_seconds) : 0.0;
  j["max_rss_kib"] = r.max_rss_kib;
  j["sender"] = {{"wakeups", r.wakeups}, {"writes", r.writes}};

  ordered_json per = ordered_json::array();
  for (const auto& s : slots) {
    ordered_json c = {{"conn", s.index},
                      {"attempts", s.attempts},
                      {"established", s.established},
                      {"failures", s.failures},
                      {"drops", s.drops},
                      {"completed", s.completed},
                      {"bytes_sent", s.bytes_sent},
                      {"tags_sent", s.tags_sent}};
    if (!s.last_error.empty()) c["last_error"] = s.last_error;
    per.push_back(std::move(c));
  }
  j["per_connection"] = std::move(per);
  if (keyframes_inline) {
    ordered_json k = ordered_json::array();
    for (const auto& s : slots) {
      for (const auto& kf : s.keyframes) {
        k.push_back({{"conn", s.index},
                     {"session", kf.session},
                     {"ts_ms", kf.timestamp},
                     {"sent_at_ms", kf.sent_at_ms}});
      }
    }
    j["keyframes"] = std::move(k);
  } else {
    j["keyframe_log"] = o.keyframe_log;
  }

  const std::string text = j.dump(1) + "\n";
  if (path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    error = "cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

bool write_keyframe_csv(const std::string& path, const std::vector<Slot>& slots,
                        std::string& error) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << "conn,session,ts_ms,sent_at_ms\n";
  for (const auto& s : slots) {
    for (const auto& kf : s.keyframes) {
      out << s.index << ',' << kf.session << ',' << kf.timestamp << ',' << kf.sent_at_ms << '\n';
    }
  }
  out.close();
  if (!out) {
    error = "cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace rtmp_load
