// A sender thread of rtmp-load: one epoll instance and one timer heap serving
// many sessions. Each session sits in the heap at the steady-clock time its pacer
// next looks for media (pacer.hpp); the thread sleeps in epoll_wait until the
// earliest, writes every tag the pacer then hands out (the session's chunk headers
// and the shared body, in the syscalls --pattern prescribes: write_pattern.hpp),
// and otherwise only wakes for the server's few messages and for sockets that
// become writable again. Sockets are non-blocking: a connection whose
// server reads slowly keeps its unsent messages in its own queue (and is dropped
// past --max-backlog-ms); nobody else waits for it.
#pragma once

#include "media.hpp"
#include "session.hpp"
#include "stats.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>
#include <unordered_map>
#include <vector>

namespace rtmp_load {

struct WorkerSettings {
  Pattern pattern = Pattern::ffmpeg;
  std::uint32_t chunk_size = 60000;  // what the connector announced with Set Chunk Size
  std::uint32_t max_backlog_ms = 10000;
  std::uint32_t batch_ms = 0;  // also send tags due within this much of now (fewer, larger writes)
  std::uint32_t pace_ms = 0;   // 0: each tag at its time; N: ffmpeg -re's N ms read loop
};

class Worker {
 public:
  // Called on the worker's thread when a session ends; `dropped` when the server
  // closed it or it failed (then a reconnect may follow), false when it finished.
  using SessionOver = std::function<void(Slot&, bool dropped)>;

  Worker(const Media& media, const WorkerSettings& settings, Totals& totals, SessionOver on_over);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  bool start(std::string& error);
  // Any thread: a connected session for this worker to send on (from now).
  void adopt(std::unique_ptr<Session> session);
  // Any thread: close every session (cleanly) and return from the thread.
  void stop();
  void join();

  // Read after join().
  const LatenessHistogram& schedule_lateness() const { return schedule_lateness_; }
  const LatenessHistogram& write_lateness() const { return write_lateness_; }
  const ReasonCounter& drop_reasons() const { return drop_reasons_; }
  std::uint64_t sessions_open_at_stop() const { return open_at_stop_; }
  std::uint64_t wakeups() const { return wakeups_; }
  std::uint64_t writes() const { return writes_; }

 private:
  struct Due {
    Clock::time_point when;
    std::uint64_t id;
    std::uint64_t generation;
    bool operator>(const Due& o) const { return when > o.when; }
  };

  void run();
  void take_inbox();
  void run_due_timers();
  void schedule(std::uint64_t id, Session& s, Clock::time_point when);
  void service(std::uint64_t id, Session& s, Clock::time_point look, Clock::time_point now);
  void queue_media(Session& s, const TimedTag& t, Clock::time_point look, Clock::time_point now);
  bool flush(std::uint64_t id, Session& s);
  bool read_incoming(std::uint64_t id, Session& s);
  bool handle_message(std::uint64_t id, Session& s, const RtmpMessage& m);
  void queue_control(Session& s, std::uint8_t type, const std::uint8_t* body, std::uint8_t size);
  void drop(std::uint64_t id, Session& s, const std::string& reason);
  void finish(std::uint64_t id, Session& s);
  void close_session(std::uint64_t id, Session& s, bool clean);
  void set_backlogged(Session& s, bool backlogged);

  const Media& media_;
  const WorkerSettings settings_;
  Totals& totals_;
  SessionOver on_over_;

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};

  std::mutex inbox_mutex_;
  std::vector<std::unique_ptr<Session>> inbox_;

  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, std::unique_ptr<Session>> sessions_;
  // Sessions closed during this turn of the loop: still referenced by the code
  // that closed them (a reader callback, a flush), destroyed at the next turn.
  std::vector<std::unique_ptr<Session>> closed_;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> timers_;
  std::vector<char> read_buffer_;
  std::vector<TimedTag> released_;  // what a session's pacer hands out at one look

  LatenessHistogram schedule_lateness_;
  LatenessHistogram write_lateness_;
  ReasonCounter drop_reasons_;
  std::uint64_t open_at_stop_ = 0;
  std::uint64_t wakeups_ = 0;
  std::uint64_t writes_ = 0;
};

}  // namespace rtmp_load
