// The idle timeout: a sweep every few seconds over live streams without a publisher.
#include "souk/app/idle_reaper.hpp"

#include "souk/api/api.hpp"
#include "souk/api/api_error.hpp"
#include "souk/log.hpp"
#include "souk/storage/database.hpp"
#include "souk/storage/streams.hpp"

#include <boost/asio/post.hpp>

#include <nlohmann/json.hpp>

namespace souk::app {

IdleReaper::IdleReaper(boost::asio::io_context& ioc, boost::asio::thread_pool& blocking,
                       storage::Database& db, api::Api& api, std::chrono::seconds timeout)
    : blocking_(blocking), db_(db), api_(api), timeout_(timeout), timer_(ioc) {}

void IdleReaper::start() { schedule(); }

void IdleReaper::stop() { timer_.cancel(); }

void IdleReaper::schedule() {
  // Sweep often enough that a stream ends within a second or so of its timeout.
  timer_.expires_after(std::min<std::chrono::milliseconds>(timeout_ / 4, std::chrono::seconds(5)));
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    boost::asio::post(blocking_, [this] { sweep(); });
    schedule();
  });
}

void IdleReaper::sweep() {
  try {
    const auto cutoff = now_millis() - std::chrono::duration_cast<std::chrono::milliseconds>(timeout_).count();
    const auto idle = db_.read([&](storage::Connection& c) { return storage::streams::idle_live(c, cutoff); });
    for (const auto& id : idle) {
      try {
        api_.end_stream(id, nullptr, "no publisher within the idle timeout");
      } catch (const api::ApiError&) {
        // Ended meanwhile by its owner: nothing left to do.
      }
    }
  } catch (const std::exception& e) {
    log::error("idle sweep failed", {{"error", e.what()}});
  }
}

}  // namespace souk::app
