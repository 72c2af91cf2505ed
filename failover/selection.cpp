// SPDX-License-Identifier: Apache-2.0
#include "failover/selection.h"

#include <algorithm>

namespace steadfast::failover {

bool rankTier(SelectionPolicyKind policy, std::span<RankEntry> entries, uint64_t rotation,
              double explore, uint64_t pick) noexcept {
  const size_t n = entries.size();
  if (n < 2) {
    return false;
  }
  switch (policy) {
    case SelectionPolicyKind::Ordered:
      return false;
    case SelectionPolicyKind::RoundRobin:
      std::rotate(entries.begin(), entries.begin() + static_cast<ptrdiff_t>(rotation % n),
                  entries.end());
      return false;
    case SelectionPolicyKind::Fastest: {
      // Insertion sort: stable, no allocation, and tiers are small.
      for (size_t i = 1; i < n; ++i) {
        const RankEntry e = entries[i];
        size_t j = i;
        while (j > 0 && entries[j - 1].rtt > e.rtt) {
          entries[j] = entries[j - 1];
          --j;
        }
        entries[j] = e;
      }
      if (explore < kExploreShare) {
        const size_t k = 1 + static_cast<size_t>(pick % (n - 1));
        std::rotate(entries.begin(), entries.begin() + static_cast<ptrdiff_t>(k),
                    entries.begin() + static_cast<ptrdiff_t>(k) + 1);
        return true;
      }
      // An unmeasured upstream (rtt 0) sorts first so that it gets measured: that is
      // exploring too, as long as a measured one is there to fall back on.
      return entries[0].rtt == Nanos{0} && entries[n - 1].rtt > Nanos{0};
    }
  }
  return false;
}

namespace {

class Builder {
 public:
  Builder(const SelectionView& view, std::span<const RttEstimator> rtt, MonoTime now,
          const SelectionDraw& draw, CandidateList& out) noexcept
      : view_(view), rtt_(rtt), now_(now), draw_(draw), out_(out) {
    out_.count = 0;
    out_.explored = false;
  }

  /// Appends the usable upstreams of tier `t`, ranked by its policy.
  void addUsable(size_t t) noexcept {
    const TierLayout& tier = view_.tiers[t];
    std::array<RankEntry, kMaxCandidates * 2> buf{};
    size_t n = 0;
    const size_t end = size_t{tier.first} + tier.count;
    for (size_t u = tier.first; u < end && n < buf.size(); ++u) {
      const bool drained = u < view_.drained.size() && view_.drained[u] != 0;
      if (u < view_.usable.size() && view_.usable[u] != 0 && !drained) {
        // Only `fastest` ranks by RTT: the others skip the decay arithmetic.
        const bool rank = tier.policy == SelectionPolicyKind::Fastest && u < rtt_.size();
        buf[n++] = RankEntry{static_cast<uint16_t>(u), rank ? rtt_[u].rankingRtt(now_) : Nanos{0}};
      }
    }
    const bool explored = rankTier(tier.policy, std::span<RankEntry>(buf.data(), n), draw_.rotation,
                                   draw_.explore, draw_.pick);
    if (explored && out_.count == 0) {
      out_.explored = true;
    }
    for (size_t i = 0; i < n; ++i) {
      add(t, buf[i].upstream);
    }
  }

  /// Appends the undrained, unusable upstreams of tier `t` in config order.
  void addUnusable(size_t t) noexcept {
    const TierLayout& tier = view_.tiers[t];
    const size_t end = size_t{tier.first} + tier.count;
    for (size_t u = tier.first; u < end; ++u) {
      const bool usable = u < view_.usable.size() && view_.usable[u] != 0;
      const bool drained = u < view_.drained.size() && view_.drained[u] != 0;
      if (!usable && !drained) {
        add(t, static_cast<uint16_t>(u));
      }
    }
  }

 private:
  void add(size_t t, uint16_t u) noexcept {
    if (out_.count >= kMaxCandidates || perTier(t) >= kMaxPerTier) {
      return;
    }
    out_.upstream[out_.count++] = u;
  }
  [[nodiscard]] size_t perTier(size_t t) const noexcept {
    const TierLayout& tier = view_.tiers[t];
    size_t n = 0;
    for (size_t i = 0; i < out_.count; ++i) {
      const size_t u = out_.upstream[i];
      n += u >= tier.first && u < size_t{tier.first} + tier.count ? 1U : 0U;
    }
    return n;
  }

  const SelectionView& view_;
  std::span<const RttEstimator> rtt_;
  MonoTime now_;
  const SelectionDraw& draw_;
  CandidateList& out_;
};

}  // namespace

void buildCandidates(const SelectionView& view, std::span<const RttEstimator> rtt, MonoTime now,
                     const SelectionDraw& draw, CandidateList& out) noexcept {
  Builder b(view, rtt, now, draw, out);
  const size_t tiers = view.tiers.size();
  const bool has_active = view.active_tier >= 0 && static_cast<size_t>(view.active_tier) < tiers;
  const size_t active = has_active ? static_cast<size_t>(view.active_tier) : 0;
  if (has_active) {
    for (size_t t = active; t < tiers; ++t) {
      b.addUsable(t);
    }
    for (size_t t = 0; t < active; ++t) {
      b.addUsable(t);
    }
  } else {
    for (size_t t = 0; t < tiers; ++t) {
      b.addUsable(t);  // nothing is usable by the plan's account; harmless
    }
  }
  for (size_t t = 0; t < tiers; ++t) {
    b.addUnusable(t);
  }
}

}  // namespace steadfast::failover
