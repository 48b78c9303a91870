// Event loops of one thread each, for connections that are all network and no
// blocking work (RTMP publishers): an io_context per thread, as nginx runs a
// worker per core, instead of several threads sharing one io_context.
//
// Why: threads sharing an io_context share its scheduler. Each completion that
// one thread's epoll_wait collects takes the scheduler's mutex and, often, wakes
// another thread through its condition variable to run the handler; a strand
// adds a hand-off of its own. Publishers writing as ffmpeg does (an 8-byte chunk
// header, then the body) make about 150 small reads a second each, so those
// hand-offs, not the reads, were most of ingest's CPU (docs/BENCHMARKS.md). With
// one thread per io_context a completion runs on the thread that saw it, and a
// connection's handlers are serialized without a strand.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

namespace souk {

class EventLoops {
 public:
  // `count` io_contexts (at least one), not yet running.
  explicit EventLoops(unsigned count);
  EventLoops(const EventLoops&) = delete;
  EventLoops& operator=(const EventLoops&) = delete;
  // Stops and joins the threads if stop() and join() were not called.
  ~EventLoops();

  // One thread runs each io_context until stop().
  void start();
  // Ends each loop's run() as soon as it can (io_context::stop: handlers still
  // queued are destroyed with the loops, not run); returns at once.
  void stop();
  void join();

  // The loop for the next connection, round robin. Thread-safe.
  boost::asio::io_context& next();
  std::size_t size() const { return loops_.size(); }

 private:
  using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> loops_;
  std::vector<WorkGuard> guards_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace souk
