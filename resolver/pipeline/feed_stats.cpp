// SPDX-License-Identifier: Apache-2.0
#include "resolver/pipeline/feed_stats.h"

#include <algorithm>
#include <map>

namespace steadfast::pipeline {

std::string_view blockActionName(wire::BlockAction a) noexcept {
  switch (a) {
    case wire::BlockAction::NxDomain:
      return "nxdomain";
    case wire::BlockAction::NoData:
      return "nodata";
    case wire::BlockAction::Drop:
      return "drop";
    case wire::BlockAction::TcpOnly:
      return "tcp-only";
    case wire::BlockAction::Passthru:
      return "passthru";
    case wire::BlockAction::Sinkhole:
      return "sinkhole";
    case wire::BlockAction::LocalData:
      return "local-data";
  }
  return "other";
}

std::string_view feedUpdateResultName(FeedUpdateResult r) noexcept {
  switch (r) {
    case FeedUpdateResult::Ok:
      return "ok";
    case FeedUpdateResult::Unchanged:
      return "unchanged";
    case FeedUpdateResult::Rejected:
      return "rejected";
    case FeedUpdateResult::Error:
    case FeedUpdateResult::kCount:
      break;
  }
  return "error";
}

uint64_t FeedStats::blocked(wire::BlockAction a) const noexcept {
  uint64_t n = 0;
  for (size_t w = 0; w < worker_count; ++w) {
    n += per_worker[w].blocked[static_cast<size_t>(a)].get();
  }
  return n;
}

std::vector<TopHits::Entry> FeedStats::topHits(size_t limit) const {
  std::map<std::string, TopHits::Entry> merged;
  for (size_t w = 0; w < worker_count; ++w) {
    for (auto& e : per_worker[w].top.snapshot()) {
      auto [it, fresh] = merged.try_emplace(e.name, e);
      if (!fresh) {
        it->second.count += e.count;
        it->second.error += e.error;
        it->second.first_seen = std::min(it->second.first_seen, e.first_seen);
        it->second.last_seen = std::max(it->second.last_seen, e.last_seen);
      }
    }
  }
  std::vector<TopHits::Entry> out;
  out.reserve(merged.size());
  for (auto& [key, e] : merged) {
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(),
            [](const TopHits::Entry& a, const TopHits::Entry& b) { return a.count > b.count; });
  if (out.size() > limit) {
    out.resize(limit);
  }
  return out;
}

FeedStats& FeedStatsRegistry::feed(std::string_view name) {
  std::lock_guard lock(mu_);
  for (auto& s : feeds_) {
    if (s->name == name) {
      return *s;
    }
  }
  feeds_.push_back(std::make_unique<FeedStats>(std::string(name), workers_));
  return *feeds_.back();
}

}  // namespace steadfast::pipeline
