// SPDX-License-Identifier: Apache-2.0
// steadfast: the daemon's command line (spec/interface.md "Programs").
//   steadfast [-c FILE]                  run in the foreground
//   steadfast --check-config [-c FILE]   validate, print the effective plan
//   steadfast --version                  versions of steadfast and its libraries
//   steadfast --dev                      run the embedded development default (./dev.sh run)
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>
#include <openssl/crypto.h>
#include <toml++/toml.h>
#include <uv.h>

#include "resolver/app/config.h"
#include "resolver/app/crisis_control.h"
#include "resolver/app/daemon.h"
#include "resolver/app/dev_config.h"
#include "resolver/app/dev_mode.h"

namespace {

void printVersion() {
  std::printf("steadfast %s\n", STEADFAST_VERSION);
  std::printf("  libuv %s\n", uv_version_string());
  std::printf("  %s\n", OpenSSL_version(OPENSSL_VERSION));
  std::printf("  toml++ %d.%d.%d\n", TOML_LIB_MAJOR, TOML_LIB_MINOR, TOML_LIB_PATCH);
  std::printf("  ldns %s\n", steadfast::app::ldnsVersion());
  std::printf("  civetweb, prometheus-cpp, libsystemd (Debian 12 packages)\n");
}

}  // namespace

namespace {

int run(int argc, char** argv) {
  using steadfast::app::ConfigError;
  CLI::App cli{"steadfast: a resilient DNS failover resolver"};
  std::string config_path = "/etc/steadfast/steadfast.toml";
  bool check = false;
  bool version = false;
  bool dev = false;
  cli.add_option("-c,--config", config_path, "configuration file (TOML)");
  cli.add_flag("--check-config", check, "validate the configuration and print the plan");
  cli.add_flag("--version", version, "print versions and exit");
  cli.add_flag("--dev", dev, "run the embedded development configuration (packaging/dev.toml)");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? 0 : steadfast::app::kExitBadConfig;
  }
  if (version) {
    printVersion();
    return 0;
  }
  steadfast::app::ConfigLoader loader = [&] {
    if (dev) {
      return steadfast::app::devConfig("/etc/resolv.conf");
    }
    return steadfast::app::loadConfig(config_path);
  };
  steadfast::app::Config config;
  try {
    config = loader();
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return steadfast::app::kExitBadConfig;
  }
  if (check) {
    if (auto key = steadfast::app::loadDirectiveKey(config.plan.crisis); !key) {
      std::fprintf(stderr, "%s\n", key.error().detail.c_str());
      return steadfast::app::kExitBadConfig;
    }
    std::fputs(steadfast::app::describeConfig(config).c_str(), stdout);
    // Warnings are advice, already printed in the plan above: a valid file still exits 0.
    const size_t warnings = steadfast::app::configWarnings(config).size();
    if (warnings == 0) {
      std::printf("%s: configuration OK\n", config.file.c_str());
    } else {
      std::printf("%s: configuration OK, %zu warning%s (see above)\n", config.file.c_str(),
                  warnings, warnings == 1 ? "" : "s");
    }
    return 0;
  }
  if (dev) {
    std::fprintf(stderr,
                 "steadfast --dev: point dig at 127.0.0.1 port 5353 (dig @127.0.0.1 -p 5353 "
                 "example.com); metrics at http://127.0.0.1:8053/metrics\n");
  }
  return steadfast::app::runDaemon(std::move(config), loader);
}

}  // namespace

int main(int argc, char** argv) {
  // Nothing may escape main: an unexpected exception (e.g. std::bad_alloc at start) is
  // reported and ends the process with the "bad configuration / cannot start" code.
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "steadfast: fatal: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "steadfast: fatal: unknown exception\n");
  }
  return 1;
}
