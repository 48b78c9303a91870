// The idle timeout and operators' end requests: a sweep every second over live
// streams without a publisher or marked by `souk-live stream end`.
#include "souk/app/idle_reaper.hpp"

#include "souk/api/stream_lifecycle.hpp"
#include "souk/log.hpp"

#include <boost/asio/post.hpp>

namespace souk::app {
namespace {

// An operator's `souk-live stream end` waits at most this (plus the end itself).
constexpr std::chrono::milliseconds sweep_interval{1000};

}  // namespace

IdleReaper::IdleReaper(boost::asio::io_context& ioc, boost::asio::thread_pool& blocking,
                       api::StreamLifecycle& lifecycle, std::chrono::seconds timeout)
    : blocking_(blocking), lifecycle_(lifecycle), timeout_(timeout), timer_(ioc) {}

void IdleReaper::start() { schedule(); }

void IdleReaper::stop() { timer_.cancel(); }

void IdleReaper::schedule() {
  // Often enough that a stream ends within a second or so of its timeout, or of
  // an operator's request; the queries read an index or two.
  timer_.expires_after(std::min<std::chrono::milliseconds>(timeout_ / 4, sweep_interval));
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    boost::asio::post(blocking_, [this] { sweep(); });
    schedule();
  });
}

void IdleReaper::sweep() {
  // Each query's failure is logged on its own: one does not stop the other.
  try {
    lifecycle_.end_requested();
  } catch (const std::exception& e) {
    log::error("ending streams operators asked to end failed", {{"error", e.what()}});
  }
  try {
    lifecycle_.end_idle(timeout_);
  } catch (const std::exception& e) {
    log::error("idle sweep failed", {{"error", e.what()}});
  }
}

}  // namespace souk::app
