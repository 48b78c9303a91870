// Entry point of the integration test binary (doctest's main).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <csignal>

#include "doctest_main.hpp"

namespace {
// A server closing a connection mid-write must fail the write, not kill the tests.
// (Children get SIGPIPE back to the default before exec.)
[[maybe_unused]] const bool sigpipe_ignored = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();
}  // namespace

int main(int argc, char** argv) {
  return souk::test::run_doctest(argc, argv);
}
