// SPDX-License-Identifier: Apache-2.0
// Daemon: wires one Config into running parts — workers (listeners + pipelines), the shared
// cache, the HTTP listener — and runs the control loop on the main thread: SIGTERM/SIGINT
// drain and stop, SIGHUP reloads (a bad new config is reported and the old one keeps
// serving), sd_notify tells systemd when it is ready, reloading and stopping.
#pragma once

#include <functional>
#include <string>

#include "resolver/app/config.h"

namespace steadfast::app {

/// Exit codes of spec/interface.md "Programs".
inline constexpr int kExitOk = 0;
inline constexpr int kExitBadConfig = 1;
inline constexpr int kExitCannotBind = 2;

/// Loads the configuration again on SIGHUP. Throws ConfigError.
using ConfigLoader = std::function<Config()>;

/// Runs until SIGTERM/SIGINT; returns the process exit code.
int runDaemon(Config config, const ConfigLoader& reload);

}  // namespace steadfast::app
