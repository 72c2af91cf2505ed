// SPDX-License-Identifier: Apache-2.0
#include "resolver/app/dev_mode.h"

#include <arpa/inet.h>
#include <fstream>
#include <sstream>
#include <stdbool.h>  // before ldns: ldns/common.h redefines bool otherwise (DESIGN.md)

#include <ldns/ldns.h>

#include "resolver/app/dev_config.h"

namespace steadfast::app {

std::vector<std::string> resolvConfNameservers(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key;
    std::string addr;
    if (!(words >> key >> addr) || key != "nameserver") {
      continue;
    }
    in_addr v4{};
    in6_addr v6{};
    if (inet_pton(AF_INET, addr.c_str(), &v4) == 1) {
      if ((ntohl(v4.s_addr) >> 24U) == 127U) {
        continue;
      }
      out.push_back("dns://" + addr);
    } else if (inet_pton(AF_INET6, addr.c_str(), &v6) == 1) {
      if (IN6_IS_ADDR_LOOPBACK(&v6)) {
        continue;
      }
      out.push_back("dns://[" + addr + "]");
    }
  }
  return out;
}

Config devConfig(const std::string& resolv_conf) {
  Config config = parseConfig(kDevConfigToml, "<dev: packaging/dev.toml>");
  failover::TierConfig primary;
  primary.name = "primary";
  primary.policy = failover::SelectionPolicyKind::Ordered;
  for (const auto& uri : resolvConfNameservers(resolv_conf)) {
    auto parsed = failover::UpstreamUri::parse(uri);
    if (parsed) {
      primary.upstreams.push_back(*parsed);
    }
  }
  if (!primary.upstreams.empty()) {
    config.plan.tiers.insert(config.plan.tiers.begin(), std::move(primary));
  }
  return config;
}

const char* ldnsVersion() {
  return ldns_version();
}

}  // namespace steadfast::app
