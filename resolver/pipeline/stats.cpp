// SPDX-License-Identifier: Apache-2.0
#include "resolver/pipeline/stats.h"

namespace steadfast::pipeline {

std::string_view transportName(Transport t) noexcept {
  switch (t) {
    case Transport::Udp:
      return "udp";
    case Transport::Tcp:
      return "tcp";
    case Transport::Tls:
      return "tls";
    case Transport::kCount:
      break;
  }
  return "unknown";
}

std::string_view sourceName(Source s) noexcept {
  switch (s) {
    case Source::Cache:
      return "cache";
    case Source::Upstream:
      return "upstream";
    case Source::Stale:
      return "stale";
    case Source::LastResort:
      return "last_resort";
    case Source::Blocked:
      return "blocked";
    case Source::Local:
      return "local";
    case Source::kCount:
      break;
  }
  return "unknown";
}

std::string_view upstreamErrorName(UpstreamError e) noexcept {
  return failover::outcomeName(e);
}

std::string_view rcodeName(size_t slot) noexcept {
  static constexpr std::array<std::string_view, kRcodeSlots> kNames = {
      "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",  "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
      "NXRRSET", "NOTAUTH", "NOTZONE",  "DSOTYPENI", "RCODE12", "RCODE13", "RCODE14",  "RCODE15",
      "BADVERS", "BADKEY",  "BADTIME",  "BADMODE",   "BADNAME", "BADALG",  "BADTRUNC", "OTHER"};
  return slot < kNames.size() ? kNames[slot] : "OTHER";
}

void Histogram::observe(Nanos d) noexcept {
  const double seconds = std::chrono::duration<double>(d).count();
  size_t i = 0;
  while (i < kLatencyBuckets.size() && seconds > kLatencyBuckets[i]) {
    ++i;
  }
  buckets_[i].inc();
  sum_ns_.inc(static_cast<uint64_t>(d.count() > 0 ? d.count() : 0));
}

StatsRegistry::StatsRegistry(size_t workers) : workers_(workers) {}

UpstreamStats& StatsRegistry::upstream(std::string_view tier, std::string_view uri) {
  std::lock_guard lock(mu_);
  for (auto& u : upstreams_) {
    if (u->tier == tier && u->uri == uri) {
      return *u;
    }
  }
  upstreams_.push_back(
      std::make_unique<UpstreamStats>(std::string(tier), std::string(uri), workers_.size()));
  return *upstreams_.back();
}

}  // namespace steadfast::pipeline
