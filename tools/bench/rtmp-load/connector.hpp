// rtmp-load's connector: a few threads that start publishers when their time
// comes (the ramp, or a reconnect delay), run librtmp's blocking set-up with a
// timeout, and hand each established session to its sender thread.
#pragma once

#include "session.hpp"
#include "stats.hpp"
#include "worker.hpp"

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace rtmp_load {

struct ConnectorSettings {
  ConnectSettings connect;
  std::uint32_t duration_ms = 30000;
  bool reconnect = false;
  std::uint32_t reconnect_delay_ms = 1000;
};

class Connector {
 public:
  Connector(std::vector<Slot>& slots, std::vector<std::unique_ptr<Worker>>& workers,
            const ConnectorSettings& settings, Totals& totals);
  ~Connector();
  Connector(const Connector&) = delete;
  Connector& operator=(const Connector&) = delete;

  void start(unsigned threads);
  // Any thread: a first attempt for `slot` at `when`.
  void schedule(Slot& slot, Clock::time_point when);
  // Any thread (a worker): the slot's session ended; reconnect or finish the slot.
  void session_over(Slot& slot, bool dropped);
  void stop();
  void join();

  // Read after join().
  ReasonCounter failure_reasons() const;
  // Time from TCP connect to NetStream.Publish.Start of established sessions.
  LatenessHistogram connect_times() const;

 private:
  struct Attempt {
    Clock::time_point when;
    std::size_t slot;
    bool operator>(const Attempt& o) const { return when > o.when; }
  };
  void run();
  void attempt(Slot& slot);
  void after_failure(Slot& slot);
  void finish_slot(Slot& slot);

  std::vector<Slot>& slots_;
  std::vector<std::unique_ptr<Worker>>& workers_;
  const ConnectorSettings settings_;
  Totals& totals_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::priority_queue<Attempt, std::vector<Attempt>, std::greater<>> attempts_;
  bool stopping_ = false;
  ReasonCounter failure_reasons_;
  LatenessHistogram connect_times_;
  std::vector<std::thread> threads_;
};

}  // namespace rtmp_load
