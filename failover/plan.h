// SPDX-License-Identifier: Apache-2.0
// Plan: the failover plan's live state (DESIGN.md "The three tiers"). Holds one HealthState
// per upstream, the operator's drain marks, and the active tier, and decides failover and
// failback:
//  * the active tier is the first tier with a usable (Unknown/Healthy, undrained) upstream;
//  * when the active tier has none left, the plan fails over at once to the best usable tier;
//  * a higher tier becomes active again (failback) only once it has been usable without a
//    break for `hold_down` (its upstreams needed `rise` successes to be usable at all), and
//    with [failback] mode = "manual" only when an operator calls failback(). A tier that has
//    never been Healthy since start (its first probe was lost) owes no hold-down: there is no
//    flapping to damp yet, and the operator's primary should not wait 30 s for one lost probe.
// Pure: takes a Clock&, reports changes to a PlanObserver, and publishes PlanSnapshot values
// that the data path reads. Control thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "failover/health_state.h"
#include "failover/plan_config.h"
#include "failover/selection.h"
#include "resolver/base/clock.h"

namespace steadfast::failover {

/// Where an outcome came from (for logs: an operator wants to know whether live traffic or a
/// probe took an upstream down).
enum class Signal : uint8_t { Probe, Passive };

/// An immutable copy of the plan state for the data path and for reporting.
struct PlanSnapshot {
  uint64_t version = 0;  // bumped on every change
  int active_tier = -1;  // -1: no tier has a usable upstream
  std::vector<TierLayout> tiers;
  std::vector<uint8_t> usable;   // per upstream
  std::vector<uint8_t> drained;  // per upstream
  std::vector<Health> health;    // per upstream
  /// failovers[from * tiers + to]: tier changes since start (both directions).
  std::vector<uint64_t> failovers;
  /// Per upstream: the adaptive wait measured by health probes (0: none yet). A worker uses
  /// it for an upstream it has not measured itself (e.g. the union tier at its first failover).
  std::vector<Nanos> probe_wait;

  [[nodiscard]] SelectionView view() const noexcept {
    return SelectionView{tiers, usable, drained, active_tier};
  }
  [[nodiscard]] bool anyUsable() const noexcept { return active_tier >= 0; }
};

class PlanObserver {
 public:
  virtual ~PlanObserver() = default;
  /// Upstream `u` moved from `from` to `to`; `last` is the outcome that moved it.
  virtual void onHealthChange(size_t u, Health from, Health to, Outcome last, Signal s) = 0;
  /// The active tier moved (-1: none). `failback` is true when it moved up.
  virtual void onTierChange(int from, int to, bool failback) = 0;
};

struct PlanTier {
  std::string name;
  SelectionPolicyKind policy = SelectionPolicyKind::Ordered;
  size_t upstreams = 0;     // the next `upstreams` entries of the flattened list
  bool union_tier = false;  // isUnionTier(): the only tiers used in crisis mode union-only
};

class Plan {
 public:
  Plan(std::vector<PlanTier> tiers, HealthThresholds thresholds, FailbackMode failback,
       Nanos hold_down, const Clock& clock, PlanObserver* observer = nullptr);

  /// Counts one outcome for upstream `u` and re-decides the active tier.
  void record(size_t u, Outcome o, Signal s);
  /// Takes upstream `u` out of (or back into) service; it keeps being probed. Returns false
  /// for an unknown index.
  bool drain(size_t u, bool drained);
  /// Operator failback: the best usable tier becomes active now, hold-down or not. Returns
  /// true when the active tier changed.
  bool failback();
  /// Carries state over from an earlier plan (a reload): upstream `u` takes health `h`.
  /// Call before any record(), then restoreActive(). No observer calls.
  void restoreHealth(size_t u, const HealthState& h);
  /// After restoreHealth(): keeps tier `active` serving if it is still usable; every tier's
  /// hold-down starts again from now, so a reload never causes a failback by itself.
  void restoreActive(int active);
  /// Crisis mode union-only (failover/crisis.h): only union tiers may be active and their
  /// upstreams alone are usable in snapshots; every upstream keeps being probed and its health
  /// and hold-down keep counting, so leaving union-only fails back by the usual rules (a
  /// higher tier still in its hold-down waits for it unless the union tier has nothing
  /// usable). Returns true when the active tier changed.
  bool setUnionOnly(bool on);
  [[nodiscard]] bool unionOnly() const noexcept { return union_only_; }
  /// Re-decides the active tier as time passes (a hold-down ending). Cheap; call on a timer.
  void tick();
  /// When tick() may next change something (a hold-down ends); MonoTime::max() if never.
  [[nodiscard]] MonoTime nextDeadline() const noexcept;

  [[nodiscard]] int activeTier() const noexcept { return active_; }
  [[nodiscard]] size_t upstreamCount() const noexcept { return upstreams_.size(); }
  [[nodiscard]] size_t tierCount() const noexcept { return tiers_.size(); }
  [[nodiscard]] const HealthState& health(size_t u) const { return upstreams_.at(u).health; }
  [[nodiscard]] bool drained(size_t u) const { return upstreams_.at(u).drained; }
  [[nodiscard]] size_t tierOf(size_t u) const { return upstreams_.at(u).tier; }
  [[nodiscard]] const PlanTier& tier(size_t t) const { return tiers_.at(t); }
  [[nodiscard]] bool tierUsable(size_t t) const noexcept;
  [[nodiscard]] uint64_t version() const noexcept { return version_; }
  [[nodiscard]] PlanSnapshot snapshot() const;

 private:
  struct UpstreamState {
    size_t tier = 0;
    HealthState health;
    bool drained = false;
  };
  struct TierState {
    bool usable = true;
    MonoTime usable_since{};
    bool proven = false;  // some upstream of it has been Healthy since start
    bool waived = false;  // this usable run needs no hold-down: the tier was never proven
  };

  [[nodiscard]] bool usable(size_t u) const noexcept;
  [[nodiscard]] bool allowed(size_t t) const noexcept {
    return !union_only_ || tiers_[t].union_tier;
  }
  void refreshTiers(MonoTime now);
  void decide(MonoTime now, bool operator_failback);
  void setActive(int to);

  std::vector<PlanTier> tiers_;
  std::vector<TierState> tier_state_;
  std::vector<UpstreamState> upstreams_;
  std::vector<uint64_t> failovers_;
  FailbackMode failback_;
  Nanos hold_down_;
  const Clock& clock_;
  PlanObserver* observer_;
  int active_ = -1;
  uint64_t version_ = 1;
  bool union_only_ = false;
};

}  // namespace steadfast::failover
