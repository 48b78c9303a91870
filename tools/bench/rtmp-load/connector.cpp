// Connection set-up threads of rtmp-load (see connector.hpp).
#include "connector.hpp"

#include <algorithm>

namespace rtmp_load {
namespace {
using std::chrono::milliseconds;
// A reconnect is not worth starting with less media than this left to send.
constexpr auto min_session = milliseconds(1000);
}  // namespace

Connector::Connector(std::vector<Slot>& slots, std::vector<std::unique_ptr<Worker>>& workers,
                     const ConnectorSettings& settings, Totals& totals)
    : slots_(slots), workers_(workers), settings_(settings), totals_(totals) {}

Connector::~Connector() {
  stop();
  join();
}

void Connector::start(unsigned threads) {
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

void Connector::schedule(Slot& slot, Clock::time_point when) {
  {
    std::lock_guard lock(mutex_);
    attempts_.push(Attempt{when, slot.index});
  }
  wake_.notify_one();
}

void Connector::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
}

void Connector::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

ReasonCounter Connector::failure_reasons() const {
  std::lock_guard lock(mutex_);
  return failure_reasons_;
}

LatenessHistogram Connector::connect_times() const {
  std::lock_guard lock(mutex_);
  return connect_times_;
}

void Connector::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (stopping_) return;
    if (attempts_.empty()) {
      wake_.wait(lock);
      continue;
    }
    const Attempt next = attempts_.top();
    if (next.when > Clock::now()) {
      wake_.wait_until(lock, next.when);
      continue;
    }
    attempts_.pop();
    lock.unlock();
    attempt(slots_[next.slot]);
    lock.lock();
  }
}

void Connector::attempt(Slot& slot) {
  const auto now = Clock::now();
  if (!slot.started) {
    slot.started = true;
    slot.first_start = now;
  }
  ++slot.attempts;
  totals_.attempts.fetch_add(1, std::memory_order_relaxed);

  std::uint64_t end_ms = settings_.duration_ms;
  if (slot.attempts > 1) {
    // A reconnect sends only what is left of the slot's duration.
    const auto left = slot.first_start + milliseconds(settings_.duration_ms) - now;
    if (left < min_session) {
      finish_slot(slot);
      return;
    }
    end_ms = static_cast<std::uint64_t>(std::chrono::duration_cast<milliseconds>(left).count());
  }

  std::string error;
  const auto began = Clock::now();
  auto session = connect_publisher(slot, settings_.connect, error);
  if (!session) {
    ++slot.failures;
    slot.last_error = error;
    totals_.failed.fetch_add(1, std::memory_order_relaxed);
    {
      std::lock_guard lock(mutex_);
      failure_reasons_.add(error);
    }
    after_failure(slot);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    connect_times_.add(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - began).count());
  }
  session->number = slot.established++;
  session->end_ms = end_ms;
  totals_.established.fetch_add(1, std::memory_order_relaxed);
  totals_.session_started();
  workers_[slot.index % workers_.size()]->adopt(std::move(session));
}

void Connector::after_failure(Slot& slot) {
  bool stopping = false;
  {
    std::lock_guard lock(mutex_);
    stopping = stopping_;
  }
  const auto retry_at = Clock::now() + milliseconds(settings_.reconnect_delay_ms);
  if (settings_.reconnect && !stopping &&
      retry_at + min_session < slot.first_start + milliseconds(settings_.duration_ms)) {
    schedule(slot, retry_at);
  } else {
    finish_slot(slot);
  }
}

void Connector::session_over(Slot& slot, bool dropped) {
  if (dropped) {
    after_failure(slot);
  } else {
    finish_slot(slot);
  }
}

void Connector::finish_slot(Slot& slot) {
  slot.finished = true;
  totals_.finished_slots.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace rtmp_load
