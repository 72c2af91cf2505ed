// SPDX-License-Identifier: Apache-2.0
// Configuration of the upstream side: upstream URIs, tiers, health, failback and crisis
// mode (spec/steadfast.example.toml). Owned by failover/, filled by resolver/app.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/base/clock.h"
#include "resolver/base/result.h"
#include "resolver/base/socket_address.h"

namespace steadfast::failover {

enum class UpstreamTransport : uint8_t { Dns, Tcp, Tls };

/// dns://ADDR[:PORT], tcp://ADDR[:PORT], tls://ADDR[:PORT]#NAME[?pin=sha256/BASE64].
/// ADDR is an IPv4 address or a bracketed IPv6 address; ports default to 53 (853 for tls).
struct UpstreamUri {
  UpstreamTransport transport = UpstreamTransport::Dns;
  SocketAddress address;
  std::string tls_name;  // tls:// only, required
  std::string spki_pin;  // base64 SHA-256 of the SPKI, empty if none
  std::string text;      // canonical form, used as the metric label and in status
  // Not part of the URI: its tier's `send_client_subnet`, carried with each upstream so the
  // transport knows whether the client's EDNS Client Subnet option may go out (default no).
  bool send_client_subnet = false;
  // Its tier's `ca_file` (tls:// only): the CA bundle that verifies the server, empty for the
  // system store (SSL_CERT_FILE honoured).
  std::string ca_file;

  static Result<UpstreamUri> parse(std::string_view text);
};

enum class SelectionPolicyKind : uint8_t { Ordered, Fastest, RoundRobin };
std::string_view policyName(SelectionPolicyKind p) noexcept;

struct TierConfig {
  std::string name;
  SelectionPolicyKind policy = SelectionPolicyKind::Fastest;
  std::vector<UpstreamUri> upstreams;
  std::string profile;    // built-in profile it was expanded from, empty if none
  std::string transport;  // "tls" | "dns" for a profile
  // `union = true`: a Union-based resolver (a tier with a DNS4EU profile is one anyway).
  bool union_tier = false;
  // `send_client_subnet = true`: pass the client's EDNS Client Subnet option (RFC 7871) on to
  // this tier's upstreams. Default: removed from every query to every upstream.
  bool send_client_subnet = false;
};

struct HealthConfig {
  std::string probe = ". NS";
  Nanos interval = Seconds{1};
  Nanos timeout = Millis{400};
  uint32_t fall = 3;
  uint32_t rise = 3;
  Nanos hold_down = Seconds{30};
};

struct LastResortConfig {
  bool enabled = true;
  bool dnssec = true;
  std::string trust_anchor_file;
  /// Replaces the root hints with a stub for "." (networks with their own root, tests on
  /// loopback); empty: the built-in root hints.
  std::vector<SocketAddress> root_servers;
};

enum class FailbackMode : uint8_t { Auto, Manual };
enum class CrisisMode : uint8_t { Auto, UnionOnly };

struct CrisisConfig {
  CrisisMode mode = CrisisMode::Auto;
  std::string directive_url;
  std::string directive_public_key;
  Nanos directive_interval = Seconds{60};
};

struct PlanConfig {
  std::vector<TierConfig> tiers;
  HealthConfig health;
  LastResortConfig last_resort;
  FailbackMode failback = FailbackMode::Auto;
  CrisisConfig crisis;
};

/// Built-in profiles for the union tier (research/features.md, DNS4EU). Returns false for an
/// unknown profile name; otherwise fills `out` with the profile's upstreams for `transport`
/// ("tls" or "dns").
bool expandProfile(std::string_view profile, std::string_view transport,
                   std::vector<UpstreamUri>& out);
/// Names of the built-in profiles, for error messages.
std::vector<std::string_view> profileNames();

}  // namespace steadfast::failover
