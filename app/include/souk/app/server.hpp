// The running server: builds every part from the configuration, wires them
// together (the only place that knows them all), and runs until SIGINT/SIGTERM.
#pragma once

#include "souk/app/config.hpp"

namespace souk::app {

// Returns the process exit code: 0 after a clean shutdown, 1 if start-up failed.
int run_server(const ServerConfig& config);

}  // namespace souk::app
