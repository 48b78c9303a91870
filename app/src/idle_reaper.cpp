// The idle timeout and operators' end requests: a sweep every second over live
// streams without a publisher or marked by `souk-live stream end`.
#include "souk/app/idle_reaper.hpp"

#include "souk/api/api.hpp"
#include "souk/api/api_error.hpp"
#include "souk/log.hpp"
#include "souk/storage/database.hpp"
#include "souk/storage/streams.hpp"

#include <boost/asio/post.hpp>

#include <nlohmann/json.hpp>

namespace souk::app {
namespace {

// An operator's `souk-live stream end` waits at most this (plus the end itself).
constexpr std::chrono::milliseconds sweep_interval{1000};

}  // namespace

IdleReaper::IdleReaper(boost::asio::io_context& ioc, boost::asio::thread_pool& blocking,
                       storage::Database& db, api::Api& api, std::chrono::seconds timeout)
    : blocking_(blocking), db_(db), api_(api), timeout_(timeout), timer_(ioc) {}

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

void IdleReaper::end_requested() {
  end_each([](storage::Connection& c) { return storage::streams::end_requested(c); },
           "an operator ended it (souk-live stream end)", "ending streams operators asked to end failed");
}

void IdleReaper::sweep() {
  end_requested();
  const auto cutoff = now_millis() - std::chrono::duration_cast<std::chrono::milliseconds>(timeout_).count();
  end_each([cutoff](storage::Connection& c) { return storage::streams::idle_live(c, cutoff); },
           "no publisher within the idle timeout", "idle sweep failed");
}

void IdleReaper::end_each(const std::function<std::vector<std::string>(storage::Connection&)>& which,
                          const char* reason, const char* failure) {
  try {
    for (const auto& id : db_.read(which)) {
      try {
        api_.end_stream(id, nullptr, reason);
      } catch (const api::ApiError&) {
        // Ended meanwhile (by its owner, the idle timeout or an operator).
      }
    }
  } catch (const std::exception& e) {
    log::error(failure, {{"error", e.what()}});
  }
}

}  // namespace souk::app
