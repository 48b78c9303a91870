// doctest entry point for the unit tests.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "souk/log.hpp"
#include "souk/random.hpp"

int main(int argc, char** argv) {
  souk::init_crypto();
  souk::log::init(spdlog::level::off, souk::log::Format::text);
  doctest::Context context(argc, argv);
  return context.run();
}
