// The hashing threads and their bounded queue.
#include "souk/api/hashing_pool.hpp"

#include <algorithm>

namespace souk::api {

HashingPool::HashingPool(std::size_t threads, std::size_t queue) : queue_limit_(queue) {
  const auto n = std::max<std::size_t>(1, threads);
  idle_ = n;  // before they start: a job posted at once is taken by one of them
  workers_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) workers_.emplace_back([this] { work(); });
}

HashingPool::~HashingPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& t : workers_) t.join();
}

bool HashingPool::try_post(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || jobs_.size() >= queue_limit_ + idle_) return false;
    jobs_.push_back(std::move(job));
  }
  ready_.notify_one();
  return true;
}

std::size_t HashingPool::queued() const {
  std::lock_guard lock(mutex_);
  return jobs_.size();
}

void HashingPool::work() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and nothing left to run
      job = std::move(jobs_.front());
      jobs_.pop_front();
      --idle_;
    }
    job();  // a packaged_task: what it throws goes to the waiting caller
    std::lock_guard lock(mutex_);
    ++idle_;
  }
}

}  // namespace souk::api
