// The harness itself: what the other tests rely on when the machine is busy.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "server_process.hpp"

using namespace souk_it;
using namespace std::chrono_literals;


TEST_CASE("harness: a restart whose port is taken for a moment starts once it is free") {
  ServerProcess server;
  const auto port = server.http_port();
  REQUIRE(server.stop().exited);
  HeldPort held(port);
  std::thread release([&held] {
    std::this_thread::sleep_for(1s);
    held.release();
  });
  std::string error;
  try {
    server.restart();
  } catch (const std::exception& e) {
    error = e.what();
  }
  release.join();
  REQUIRE_MESSAGE(error.empty(), error);
  CHECK(server.running());
  CHECK(server.http_port() == port);
  // The server did exit for the taken port (the retry is what brought it up).
  CHECK(server.log_text().find("Address already in use") != std::string::npos);
}

TEST_CASE("harness: SOUK_TEST_TIME_SCALE multiplies the bounds") {
  // The test runs with whatever scale the environment sets; it is a number >= 1
  // and scaled() applies it.
  CHECK(time_scale() >= 1.0);
  CHECK(scaled(1000ms).count() == static_cast<long>(1000 * time_scale()));
}
