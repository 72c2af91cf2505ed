// SPDX-License-Identifier: Apache-2.0
#include "resolver/pipeline/block_policy.h"

#include <algorithm>

#include "threatfeed/core/block_index.h"

namespace steadfast::pipeline {
namespace {

wire::BlockAction fromCore(threatfeed::Action a, wire::BlockAction fallback) noexcept {
  switch (a) {
    case threatfeed::Action::FeedDefault:
      return fallback;
    case threatfeed::Action::Nxdomain:
      return wire::BlockAction::NxDomain;
    case threatfeed::Action::Nodata:
      return wire::BlockAction::NoData;
    case threatfeed::Action::Passthru:
      return wire::BlockAction::Passthru;
    case threatfeed::Action::Drop:
      return wire::BlockAction::Drop;
    case threatfeed::Action::TcpOnly:
      return wire::BlockAction::TcpOnly;
    case threatfeed::Action::LocalData:
      return wire::BlockAction::LocalData;
  }
  return fallback;
}

bool fill(const BlockPolicy& policy, const threatfeed::LookupResult& r,
          std::span<const uint8_t> trigger, BlockMatch& out) noexcept {
  if (r.verdict != threatfeed::Verdict::Matched || r.match.feed >= policy.feeds.size()) {
    return false;  // no rule, or the allowlist covers the name
  }
  out.feed = r.match.feed;
  out.action = fromCore(r.match.action, policy.default_action);
  const size_t n = std::min(r.match.local.size(), BlockMatch::kMaxLocal);
  for (size_t i = 0; i < n; ++i) {
    const auto& rec = r.match.local[i];
    out.local_storage[i] = wire::LocalRecord{
        rec.type, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(rec.rdata.data()),
                                           rec.rdata.size())};
  }
  out.local = std::span<const wire::LocalRecord>(out.local_storage.data(), n);
  out.trigger = trigger;
  return true;
}

}  // namespace

bool BlockPolicy::matchName(std::span<const uint8_t> lower_name, BlockMatch& out) const noexcept {
  return index != nullptr && fill(*this, index->lookup(lower_name), lower_name, out);
}

bool BlockPolicy::matchAddress(std::span<const uint8_t> address, BlockMatch& out) const noexcept {
  return index != nullptr && has_ip_rules &&
         fill(*this, index->lookupAddress(address), address, out);
}

void BlockHolder::publish(std::shared_ptr<const BlockPolicy> policy) {
  {
    std::lock_guard lock(mu_);
    current_ = std::move(policy);
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

std::shared_ptr<const BlockPolicy> BlockHolder::get() const {
  std::lock_guard lock(mu_);
  return current_;
}

}  // namespace steadfast::pipeline
