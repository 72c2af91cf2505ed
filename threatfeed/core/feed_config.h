// SPDX-License-Identifier: Apache-2.0
// [policy] and [[feed]] configuration, owned by threatfeed/ (resolver/app/config.cpp reads
// the TOML into these).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "resolver/base/clock.h"

namespace steadfast::threatfeed {

struct PolicyConfig {
  std::string default_action = "nxdomain";  // nxdomain | nodata | sinkhole | drop
  std::string sinkhole_ipv4 = "0.0.0.0";
  std::string sinkhole_ipv6 = "::";
  std::vector<std::string> allow;  // names (and their subdomains) never blocked
  std::string allow_file;
};

struct FeedConfig {
  std::string name;
  std::string type;    // rpz | misp | stix | taxii | domains | hosts
  std::string source;  // file://, axfr://, https://
  std::string tsig_file;
  std::string ca_file;              // https://: PEM trust anchors ("" = the system store)
  std::string credentials_file;     // https://: `bearer TOKEN` or `basic USER:PASSWORD`
  uint64_t max_size = 64ULL << 20;  // https://: a larger body aborts the transfer
  Nanos refresh = std::chrono::minutes{5};
  std::string action;
  uint64_t max_entries = 5000000;
  double max_shrink = 0.5;
};

}  // namespace steadfast::threatfeed
