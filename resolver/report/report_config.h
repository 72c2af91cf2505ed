// SPDX-License-Identifier: Apache-2.0
// [report]: the HTTP listener and (later issues) push reports.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "resolver/base/clock.h"
#include "resolver/base/socket_address.h"

namespace steadfast::report {

struct SinkConfig {
  std::string type;  // webhook | matrix | taxii | misp
  std::string url;
  std::string secret_file;
  std::string homeserver;
  std::string room;
  std::string token_file;
  std::string collection;  // taxii
};

struct ReportConfig {
  SocketAddress listen;  // /metrics /healthz ...; default 127.0.0.1:8053
  std::string api_token_file;
  std::string instance;
  std::string tlp = "amber";
  Nanos interval = std::chrono::minutes{5};
  std::string spool_dir = "/var/lib/steadfast/spool";
  uint64_t spool_max = uint64_t{64} << 20U;
  bool include_client_addresses = false;
  std::vector<SinkConfig> sinks;
};

}  // namespace steadfast::report
