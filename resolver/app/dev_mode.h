// SPDX-License-Identifier: Apache-2.0
// The development default of `./dev.sh run`: packaging/dev.toml (embedded at build time)
// with a primary tier made of the non-loopback nameservers of /etc/resolv.conf.
#pragma once

#include <string>
#include <vector>

#include "resolver/app/config.h"

namespace steadfast::app {

/// The nameserver addresses of a resolv.conf, loopback ones skipped (steadfast itself may be
/// the local resolver).
std::vector<std::string> resolvConfNameservers(const std::string& path);

/// The embedded dev config with the primary tier from `resolv_conf` placed first (left out
/// when the file lists no usable nameserver).
Config devConfig(const std::string& resolv_conf);

/// The ldns library version (ldns is only included from .cpp files).
const char* ldnsVersion();

}  // namespace steadfast::app
