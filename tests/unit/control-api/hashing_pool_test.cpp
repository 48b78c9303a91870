#include "souk/api/hashing_pool.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>

using souk::api::HashingPool;
using namespace std::chrono_literals;

TEST_CASE("hashing pool: runs work on its own threads and hands back the result") {
  HashingPool pool(2, 4);
  const auto caller = std::this_thread::get_id();
  const auto ran_on = pool.run([] { return std::this_thread::get_id(); });
  REQUIRE(ran_on);
  CHECK(*ran_on != caller);
  CHECK(pool.run([] { return std::string("hash"); }) == std::optional<std::string>("hash"));
}

TEST_CASE("hashing pool: an exception reaches the caller") {
  HashingPool pool(1, 1);
  CHECK_THROWS_AS(pool.run([]() -> int { throw std::runtime_error("out of memory"); }), std::runtime_error);
  CHECK(pool.run([] { return 7; }) == std::optional<int>(7));  // the thread survived
}

// Issue 21: hashing shared the request pool and had no bound, so a burst of
// logins delayed every request. Past its threads and queue it now refuses at once.
TEST_CASE("hashing pool: past its threads and queue, run() refuses at once without running") {
  HashingPool pool(1, 1);
  std::promise<void> release;
  const auto gate = release.get_future().share();
  std::promise<void> started;
  // One job holds the thread, one waits in the queue.
  auto first = std::async(std::launch::async, [&] {
    return pool.run([&] {
      started.set_value();
      gate.wait();
      return 1;
    });
  });
  started.get_future().wait();
  auto second = std::async(std::launch::async, [&] { return pool.run([&] { return 2; }); });
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (pool.queued() < 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  REQUIRE(pool.queued() == 1);

  bool ran = false;
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(pool.run([&] { return ran = true; }));
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);  // refused, not queued behind the others
  CHECK_FALSE(ran);

  release.set_value();
  CHECK(first.get() == std::optional<int>(1));
  CHECK(second.get() == std::optional<int>(2));
  CHECK(pool.run([] { return 3; }) == std::optional<int>(3));  // room again
}

TEST_CASE("hashing pool: with no queue, each idle thread still takes a job") {
  HashingPool pool(2, 0);
  std::promise<void> release;
  const auto gate = release.get_future().share();
  auto a = std::async(std::launch::async, [&] { return pool.run([&] { gate.wait(); return 1; }); });
  auto b = std::async(std::launch::async, [&] { return pool.run([&] { gate.wait(); return 2; }); });
  // Both are accepted (each waits for the gate on its own thread); give them a moment to be.
  std::this_thread::sleep_for(50ms);
  release.set_value();
  CHECK(a.get() == std::optional<int>(1));
  CHECK(b.get() == std::optional<int>(2));
}
