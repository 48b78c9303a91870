// main() of the doctest binaries (unit and integration tests), included by each
// one's main.cpp only.
//
// Order: with SOUK_TEST_SEED=<n> in the environment the test cases run in the
// random order that seed gives (doctest's --order-by=rand --rand-seed=<n>), so
// tests that lean on each other's leftovers fail; `make test` picks a new seed
// for each run and prints it, and the same SOUK_TEST_SEED repeats the order.
// Without it, doctest's default order (by file).
//
// Nothing run is a failure: CTest runs the integration tests one file at a time
// (--source-file=*/<file>.cpp), and a filter that matches no test case would
// otherwise pass without checking anything.
#pragma once

#include <doctest/doctest.h>

#include "doctest_listener.hpp"

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <string>

namespace souk::test {

namespace detail {
inline std::atomic<int> test_cases_started{0};
inline std::atomic<bool> query_answered{false};

struct RunCounter : QuietListener {
  using QuietListener::QuietListener;
  void report_query(const doctest::QueryData&) override { query_answered = true; }
  void test_case_start(const doctest::TestCaseData&) override { ++test_cases_started; }
};
}  // namespace detail

DOCTEST_REGISTER_LISTENER("souk_run_counter", 0, detail::RunCounter);

inline int run_doctest(int argc, char** argv) {
  doctest::Context context;
  if (const char* seed = std::getenv("SOUK_TEST_SEED"); seed != nullptr && *seed != '\0') {
    const std::string text(seed);
    if (text.find_first_not_of("0123456789") != std::string::npos || text.size() > 9) {
      std::cerr << "SOUK_TEST_SEED=" << text << ": expected a number below 10^9\n";
      return 2;
    }
    context.setOption("order-by", "rand");
    context.setOption("rand-seed", std::stoi(text));
    std::cerr << "[doctest] random order; SOUK_TEST_SEED=" << text << " repeats it\n";
  }
  context.applyCommandLine(argc, argv);  // after, so a flag on the command line wins
  const int status = context.run();
  if (status == 0 && !context.shouldExit() && !detail::query_answered &&
      detail::test_cases_started == 0) {
    std::cerr << "[doctest] no test case matched the filters: nothing was checked\n";
    return 1;
  }
  return status;
}

}  // namespace souk::test
