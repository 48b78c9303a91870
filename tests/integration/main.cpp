// Entry point of the integration test binary (doctest's main).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <csignal>

namespace {
// A server closing a connection mid-write must fail the write, not kill the tests.
// (Children get SIGPIPE back to the default before exec.)
[[maybe_unused]] const bool sigpipe_ignored = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();
}  // namespace
