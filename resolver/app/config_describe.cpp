// SPDX-License-Identifier: Apache-2.0
// describeConfig: the effective configuration as `steadfast --check-config` prints it, with
// defaults filled in and profiles expanded, so an operator sees exactly what will run.
#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/app/config.h"
#include "resolver/app/feed_control.h"
#include "resolver/base/units.h"

namespace steadfast::app {
namespace {

constexpr std::string_view kNotActive = " (not active yet in this version)";

template <class T, class F>
std::string join(const std::vector<T>& items, F&& to_string) {
  std::string out;
  for (const T& item : items) {
    out += out.empty() ? "" : ", ";
    out += to_string(item);
  }
  return out.empty() ? "none" : out;
}

std::string onOff(bool on) {
  return on ? "on" : "off";
}

std::string orNone(const std::string& s) {
  return s.empty() ? "none" : s;
}

void describeServer(const Config& c, std::string& out) {
  const auto address = [](const SocketAddress& a) { return a.toString(); };
  out += "Listeners\n";
  out += "  DNS (UDP and TCP): " + join(c.listen.listen, address) + "\n";
  if (!c.listen.tls_listen.empty()) {
    out += "  DNS over TLS: " + join(c.listen.tls_listen, address) + " (cert " + c.listen.tls_cert +
           ", key " + c.listen.tls_key + ")" + std::string(kNotActive) + "\n";
  }
  out += "  workers: " +
         (c.listen.workers == 0 ? std::string("one per core") : std::to_string(c.listen.workers)) +
         "\n";
  out += "  TCP: at most " + std::to_string(c.listen.max_tcp_connections) +
         " connections, idle timeout " + formatDuration(c.listen.tcp_idle_timeout) + "\n";
  out += "Clients\n";
  const auto& acl = c.pipeline.allow.entries();
  out += "  allowed: " +
         (acl.empty() ? std::string("nobody (every query is REFUSED)")
                      : join(acl, [](const Cidr& cidr) { return cidr.toString(); })) +
         "; others get REFUSED\n";
  out += "  query budget: " + formatDuration(c.pipeline.query_budget) +
         " per client query, retries included\n";
  out += "  EDNS buffer size: " + std::to_string(c.pipeline.edns_buffer_size) + "\n";
  if (c.pipeline.rate_limit_qps != 0) {
    out += "  rate limit: " + std::to_string(c.pipeline.rate_limit_qps) + " queries/s per client" +
           std::string(kNotActive) + "\n";
  }
}

void describeCache(const Config& c, std::string& out) {
  const cache::CacheOptions& o = c.cache;
  out += "Cache\n";
  out +=
      "  max memory: " + formatSize(o.max_memory) + " in " + std::to_string(o.shards) + " shards\n";
  out += "  TTL: clamped to " + formatDuration(o.min_ttl) + ".." + formatDuration(o.max_ttl) +
         ", negative answers at most " + formatDuration(o.negative_max_ttl) + "\n";
  out += "  serve stale (RFC 8767): " + onOff(o.serve_stale);
  if (o.serve_stale) {
    out += ", up to " + formatDuration(o.stale_max_age) + " past expiry, answered with TTL " +
           formatDuration(o.stale_answer_ttl);
  }
  out += "\n";
}

void describePlan(const Config& c, std::string& out) {
  const failover::PlanConfig& plan = c.plan;
  out +=
      "Failover plan (tiers in order; a lower tier is used while every upstream above is down)\n";
  size_t index = 1;
  for (const failover::TierConfig& tier : plan.tiers) {
    out += "  " + std::to_string(index++) + ". tier '" + tier.name + "', policy " +
           std::string(failover::policyName(tier.policy));
    if (!tier.profile.empty()) {
      out += ", profile " + tier.profile + " (" + tier.transport + ")";
    }
    if (isUnionTier(tier)) {
      out += ", union-based";
    }
    if (tier.send_client_subnet) {
      out += ", sends EDNS Client Subnet";
    }
    out += "\n";
    if (tier.upstreams.empty()) {
      out += "       (no upstreams)\n";
    }
    for (const failover::UpstreamUri& u : tier.upstreams) {
      out += "       " + u.text;
      if (u.transport == failover::UpstreamTransport::Tls) {
        out += u.ca_file.empty() ? " (verified against the system CA store)"
                                 : " (verified against " + u.ca_file + ")";
      }
      out += "\n";
    }
  }
  const failover::LastResortConfig& lr = plan.last_resort;
  out += "  " + std::to_string(index) + ". last resort: ";
  if (lr.enabled) {
    if (lr.root_servers.empty()) {
      out += "recursion from the root hints";
    } else {
      out += "recursion from the root servers";
      for (const SocketAddress& a : lr.root_servers) {
        out += " " + a.toString();
      }
    }
    out += ", DNSSEC " + onOff(lr.dnssec);
    if (lr.dnssec) {
      out += ", trust anchor " + (lr.trust_anchor_file.empty() ? std::string("built-in root key")
                                                               : lr.trust_anchor_file);
    }
    out += "\n";
  } else {
    out += "disabled (SERVFAIL, or a stale answer, when every tier is down)\n";
  }
  const failover::HealthConfig& h = plan.health;
  out += "  health: probe '" + h.probe + "' every " + formatDuration(h.interval) + ", timeout " +
         formatDuration(h.timeout) + ", down after " + std::to_string(h.fall) +
         " failures, up after " + std::to_string(h.rise) +
         " successes; passive signals from live traffic also count\n";
  out +=
      "  failback: " +
      std::string(plan.failback == failover::FailbackMode::Auto
                      ? "auto, once a higher tier has been usable for " +
                            formatDuration(h.hold_down) + " without a break"
                      : "manual: traffic stays on the lower tier until an operator moves it back "
                        "(a reload or restart starts on the first tier again)") +
      "\n";
  const failover::CrisisConfig& crisis = plan.crisis;
  out += "  crisis mode at start: " +
         std::string(crisis.mode == failover::CrisisMode::Auto ? "auto" : "union-only") + "\n";
  if (!crisis.directive_url.empty()) {
    out += "  crisis directive: " + crisis.directive_url + " every " +
           formatDuration(crisis.directive_interval) + ", key " + crisis.directive_public_key +
           std::string(kNotActive) + "\n";
  }
  for (const std::string& warning : configWarnings(c)) {
    out += "warning: " + warning + "\n";
  }
}

void describeFeeds(const Config& c, std::string& out) {
  const PolicyConfig& p = c.policy;
  out += "Blocking policy and feeds\n";
  out += "  default action: " + p.default_action;
  if (p.default_action == "sinkhole") {
    out += " (" + p.sinkhole_ipv4 + ", " + p.sinkhole_ipv6 + ")";
  }
  out += "\n";
  if (!p.allow.empty() || !p.allow_file.empty()) {
    out += "  never blocked: " + join(p.allow, [](const std::string& s) { return s; });
    if (!p.allow_file.empty()) {
      out += ", and the names in " + p.allow_file;
    }
    out += "\n";
  }
  if (c.feeds.empty()) {
    out += "  feeds: none\n";
  }
  for (const FeedConfig& f : c.feeds) {
    out += "  feed '" + f.name + "': " + f.type + " from " + f.source + ", refresh " +
           formatDuration(f.refresh) + ", action " +
           (f.action.empty() ? std::string("the feed's own, else ") + p.default_action : f.action) +
           ", at most " + std::to_string(f.max_entries) +
           " entries, rejects updates shrinking by " + "more than " +
           std::to_string(std::lround(f.max_shrink * 100)) + "%\n";
  }
  out += describeFeedSources(c);
}

void describeReport(const Config& c, std::string& out) {
  const report::ReportConfig& r = c.report;
  out += "Report\n";
  out += "  HTTP: " + r.listen.toString() + " (/metrics /status /healthz /readyz /)\n";
  out += "  API (POST): " +
         (r.api_token_file.empty() ? std::string("disabled (no api_token_file)")
                                   : "token from " + r.api_token_file) +
         "\n";
  if (!r.sinks.empty()) {
    out += "  report sinks" + std::string(kNotActive) + ": every " + formatDuration(r.interval) +
           " and on state changes, TLP:" + r.tlp + ", instance " +
           (r.instance.empty() ? std::string("(host name)") : r.instance) + "\n";
    for (const report::SinkConfig& s : r.sinks) {
      out +=
          "    " + s.type + " " + (s.type == "matrix" ? s.homeserver + " " + s.room : s.url) + "\n";
    }
    out += "  spool: " + r.spool_dir + ", at most " + formatSize(r.spool_max) +
           "; client addresses " + (r.include_client_addresses ? "included" : "left out") + "\n";
  }
  out += "Log: level " + c.log.level + ", format " + c.log.format + "\n";
  out += "State directory: " + orNone(c.state.dir) + "\n";
}

}  // namespace

std::string describeConfig(const Config& config) {
  std::string out = "Configuration " + config.file + "\n";
  describeServer(config, out);
  describeCache(config, out);
  describePlan(config, out);
  describeFeeds(config, out);
  describeReport(config, out);
  return out;
}

}  // namespace steadfast::app
