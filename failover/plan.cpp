// SPDX-License-Identifier: Apache-2.0
#include "failover/plan.h"

#include <algorithm>
#include <stdexcept>

namespace steadfast::failover {

Plan::Plan(std::vector<PlanTier> tiers, HealthThresholds thresholds, FailbackMode failback,
           Nanos hold_down, const Clock& clock, PlanObserver* observer)
    : tiers_(std::move(tiers)),
      tier_state_(tiers_.size()),
      failovers_(tiers_.size() * tiers_.size()),
      failback_(failback),
      hold_down_(hold_down),
      clock_(clock),
      observer_(observer) {
  for (size_t t = 0; t < tiers_.size(); ++t) {
    for (size_t i = 0; i < tiers_[t].upstreams; ++i) {
      upstreams_.push_back(UpstreamState{t, HealthState(thresholds), false});
    }
  }
  const MonoTime now = clock_.now();
  for (auto& ts : tier_state_) {
    ts.usable = false;  // refreshTiers sets it, with usable_since = now
  }
  refreshTiers(now);
  // At start every upstream is Unknown (usable): the first tier with upstreams serves.
  for (size_t t = 0; t < tiers_.size(); ++t) {
    if (tier_state_[t].usable) {
      active_ = static_cast<int>(t);
      break;
    }
  }
}

bool Plan::usable(size_t u) const noexcept {
  return upstreams_[u].health.usable() && !upstreams_[u].drained;
}

bool Plan::tierUsable(size_t t) const noexcept {
  return t < tier_state_.size() && tier_state_[t].usable;
}

void Plan::refreshTiers(MonoTime now) {
  std::vector<bool> any(tiers_.size(), false);
  for (size_t u = 0; u < upstreams_.size(); ++u) {
    if (usable(u)) {
      any[upstreams_[u].tier] = true;
    }
  }
  std::vector<bool> healthy(tiers_.size(), false);
  for (size_t u = 0; u < upstreams_.size(); ++u) {
    if (upstreams_[u].health.health() == Health::Healthy) {
      healthy[upstreams_[u].tier] = true;
    }
  }
  for (size_t t = 0; t < tiers_.size(); ++t) {
    TierState& ts = tier_state_[t];
    if (any[t] && !ts.usable) {
      ts.usable_since = now;  // hold-down counts from here
      ts.waived = !ts.proven;
    }
    ts.usable = any[t];
    ts.proven = ts.proven || healthy[t];
  }
}

void Plan::setActive(int to) {
  if (to == active_) {
    return;
  }
  const int from = active_;
  active_ = to;
  if (from >= 0 && to >= 0) {
    ++failovers_[static_cast<size_t>(from) * tiers_.size() + static_cast<size_t>(to)];
  }
  ++version_;
  if (observer_ != nullptr) {
    observer_->onTierChange(from, to, from >= 0 && to >= 0 && to < from);
  }
}

void Plan::decide(MonoTime now, bool operator_failback) {
  int best = -1;
  for (size_t t = 0; t < tiers_.size(); ++t) {
    if (tier_state_[t].usable && allowed(t)) {
      best = static_cast<int>(t);
      break;
    }
  }
  if (best < 0) {
    setActive(-1);
    return;
  }
  if (active_ < 0 || !tier_state_[static_cast<size_t>(active_)].usable ||
      !allowed(static_cast<size_t>(active_)) || operator_failback) {
    // The active tier has nothing left (or there was none): take the best one now, even a
    // higher tier still in its hold-down, since waiting would mean failing queries.
    setActive(best);
    return;
  }
  if (best < active_ && failback_ == FailbackMode::Auto) {
    // The highest tier whose hold-down has ended, not only the best one: tiers that recover
    // one after the other are failed back to one after the other (and nextDeadline() never
    // names a deadline that tick() would not act on).
    for (size_t t = static_cast<size_t>(best); t < static_cast<size_t>(active_); ++t) {
      const TierState& ts = tier_state_[t];
      if (ts.usable && allowed(t) && (ts.waived || now - ts.usable_since >= hold_down_)) {
        setActive(static_cast<int>(t));
        break;
      }
    }
  }
}

void Plan::record(size_t u, Outcome o, Signal s) {
  if (u >= upstreams_.size()) {
    return;
  }
  UpstreamState& st = upstreams_[u];
  const Health before = st.health.health();
  const Transition tr = st.health.record(o);
  if (tr != Transition::Changed) {
    return;
  }
  ++version_;
  if (observer_ != nullptr) {
    observer_->onHealthChange(u, before, st.health.health(), o, s);
  }
  const MonoTime now = clock_.now();
  refreshTiers(now);
  decide(now, false);
}

bool Plan::drain(size_t u, bool drained) {
  if (u >= upstreams_.size()) {
    return false;
  }
  if (upstreams_[u].drained != drained) {
    upstreams_[u].drained = drained;
    ++version_;
    const MonoTime now = clock_.now();
    refreshTiers(now);
    decide(now, false);
  }
  return true;
}

bool Plan::failback() {
  const int before = active_;
  decide(clock_.now(), true);
  return active_ != before;
}

void Plan::restoreHealth(size_t u, const HealthState& h) {
  if (u < upstreams_.size()) {
    const HealthThresholds t = upstreams_[u].health.thresholds();
    upstreams_[u].health = h;
    upstreams_[u].health.setThresholds(t);  // this plan's rise/fall, the old plan's state
    ++version_;
  }
}

void Plan::restoreActive(int active) {
  const MonoTime now = clock_.now();
  refreshTiers(now);
  for (auto& ts : tier_state_) {
    ts.usable_since = now;
    ts.waived = false;  // a reload never fails back by itself
  }
  if (active >= 0 && static_cast<size_t>(active) < tiers_.size() &&
      tier_state_[static_cast<size_t>(active)].usable) {
    active_ = active;
  } else {
    active_ = -1;
    for (size_t t = 0; t < tiers_.size(); ++t) {
      if (tier_state_[t].usable) {
        active_ = static_cast<int>(t);
        break;
      }
    }
  }
  ++version_;
}

bool Plan::setUnionOnly(bool on) {
  if (on == union_only_) {
    return false;
  }
  union_only_ = on;
  ++version_;
  const int before = active_;
  decide(clock_.now(), false);
  return active_ != before;
}

void Plan::tick() {
  decide(clock_.now(), false);
}

MonoTime Plan::nextDeadline() const noexcept {
  if (failback_ != FailbackMode::Auto || active_ <= 0) {
    return MonoTime::max();
  }
  MonoTime next = MonoTime::max();
  for (size_t t = 0; t < static_cast<size_t>(active_); ++t) {
    if (tier_state_[t].usable && allowed(t)) {
      next = std::min(
          next, tier_state_[t].usable_since + (tier_state_[t].waived ? Nanos{0} : hold_down_));
    }
  }
  return next;
}

PlanSnapshot Plan::snapshot() const {
  PlanSnapshot s;
  s.version = version_;
  s.active_tier = active_;
  uint16_t first = 0;
  for (const PlanTier& t : tiers_) {
    s.tiers.push_back(TierLayout{first, static_cast<uint16_t>(t.upstreams), t.policy});
    first = static_cast<uint16_t>(first + t.upstreams);
  }
  for (size_t u = 0; u < upstreams_.size(); ++u) {
    s.usable.push_back(usable(u) && allowed(upstreams_[u].tier) ? 1 : 0);
    s.drained.push_back(upstreams_[u].drained ? 1 : 0);
    s.health.push_back(upstreams_[u].health.health());
  }
  s.failovers = failovers_;
  return s;
}

}  // namespace steadfast::failover
