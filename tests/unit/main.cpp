// doctest entry point for the unit tests.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "souk/log.hpp"
#include "souk/random.hpp"
#include "doctest_main.hpp"

int main(int argc, char** argv) {
  souk::init_crypto();
  souk::log::init(spdlog::level::off, souk::log::Format::text);
  return souk::test::run_doctest(argc, argv);
}
