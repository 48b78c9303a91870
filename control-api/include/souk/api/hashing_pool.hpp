// A few threads for password hashing and checking (argon2id: ~64 MiB and tens
// of milliseconds of a core each), apart from the request pool, with a bounded
// queue. A burst of logins then costs at most `threads` cores and
// `threads` × 64 MiB, and the requests that do not fit are refused at once
// (the caller answers 503) instead of queueing behind each other and ahead of
// every other request.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

namespace souk::api {

class HashingPool {
 public:
  // `threads` hash at once; `queue` more may wait for them.
  HashingPool(std::size_t threads, std::size_t queue);
  // Runs what was queued, then joins.
  ~HashingPool();
  HashingPool(const HashingPool&) = delete;
  HashingPool& operator=(const HashingPool&) = delete;

  // Runs f() on a hashing thread and waits for its result (an exception f
  // throws is rethrown here). nullopt, with f never run, when the queue is full.
  template <class F>
  auto run(F&& f) -> std::optional<std::invoke_result_t<F&>> {
    using R = std::invoke_result_t<F&>;
    static_assert(!std::is_void_v<R>, "run() returns the result of f");
    auto task = std::make_shared<std::packaged_task<R()>>(std::forward<F>(f));
    auto result = task->get_future();
    if (!try_post([task] { (*task)(); })) return std::nullopt;
    return result.get();
  }

  std::size_t threads() const { return workers_.size(); }
  std::size_t queue_limit() const { return queue_limit_; }
  // Jobs waiting for a thread now.
  std::size_t queued() const;

 private:
  bool try_post(std::function<void()> job);
  void work();

  const std::size_t queue_limit_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
  std::size_t idle_ = 0;  // workers waiting for a job: a job for each of them is not queued
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace souk::api
