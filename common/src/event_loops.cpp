#include "souk/event_loops.hpp"

#include <algorithm>

namespace souk {

namespace net = boost::asio;

EventLoops::EventLoops(unsigned count) {
  for (unsigned i = 0; i < std::max(1u, count); ++i) {
    // Hint 1: one thread runs it, so the scheduler never wakes another to run a
    // handler. Its locks stay: other threads post to it (a publish decision, a kick).
    loops_.push_back(std::make_unique<net::io_context>(1));
  }
}

EventLoops::~EventLoops() {
  stop();
  join();
}

void EventLoops::start() {
  for (auto& loop : loops_) {
    guards_.push_back(net::make_work_guard(*loop));
    threads_.emplace_back([&io = *loop] { io.run(); });
  }
}

void EventLoops::stop() {
  guards_.clear();
  for (auto& loop : loops_) loop->stop();
}

void EventLoops::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

net::io_context& EventLoops::next() {
  return *loops_[next_.fetch_add(1, std::memory_order_relaxed) % loops_.size()];
}

}  // namespace souk
