// SPDX-License-Identifier: Apache-2.0
// Listener part of [server]: where DNS is served and how TCP sessions are bounded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "resolver/base/clock.h"
#include "resolver/base/socket_address.h"

namespace steadfast::listen {

struct ListenConfig {
  std::vector<SocketAddress> listen;      // UDP and TCP on each
  std::vector<SocketAddress> tls_listen;  // DoT (a later issue)
  std::string tls_cert;
  std::string tls_key;
  uint32_t workers = 0;                 // 0: one per core
  uint32_t max_tcp_connections = 4096;  // per process; excess connections are closed
  Nanos tcp_idle_timeout = Seconds{10};
};

}  // namespace steadfast::listen
