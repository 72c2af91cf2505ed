// SPDX-License-Identifier: Apache-2.0
// Shared fakes of the failover tests: a PlanObserver that records what it is told and a
// ProbeSender that records what it is asked to send (results are delivered by the test).
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "failover/plan.h"
#include "failover/probe_sender.h"
#include "resolver/base/clock.h"

namespace steadfast::test {

using failover::Health;
using failover::Outcome;
using failover::PlanTier;
using failover::SelectionPolicyKind;
using failover::Signal;

struct HealthEvent {
  size_t upstream = 0;
  Health from = Health::Unknown;
  Health to = Health::Unknown;
  Outcome last = Outcome::Ok;
  Signal signal = Signal::Probe;
  bool operator==(const HealthEvent&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const HealthEvent& e) {
  return os << "{u" << e.upstream << " " << failover::healthName(e.from) << "->"
            << failover::healthName(e.to) << " " << failover::outcomeName(e.last)
            << (e.signal == Signal::Passive ? " passive}" : " probe}");
}

struct TierEvent {
  int from = -1;
  int to = -1;
  bool failback = false;
  bool operator==(const TierEvent&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const TierEvent& e) {
  return os << "{" << e.from << "->" << e.to << (e.failback ? " failback}" : "}");
}

class RecordingObserver final : public failover::PlanObserver {
 public:
  void onHealthChange(size_t u, Health from, Health to, Outcome last, Signal s) override {
    health.push_back(HealthEvent{u, from, to, last, s});
  }
  void onTierChange(int from, int to, bool failback) override {
    tiers.push_back(TierEvent{from, to, failback});
  }
  void clear() {
    health.clear();
    tiers.clear();
  }

  std::vector<HealthEvent> health;
  std::vector<TierEvent> tiers;
};

class FakeProbeSender final : public failover::ProbeSender {
 public:
  struct Sent {
    size_t upstream = 0;
    uint64_t id = 0;
    MonoTime at{};
  };

  explicit FakeProbeSender(const Clock& clock) : clock_(clock) {}
  void send(size_t upstream, uint64_t probe_id) override {
    sent.push_back(Sent{upstream, probe_id, clock_.now()});
  }
  /// Sends since the last take().
  std::vector<Sent> take() {
    std::vector<Sent> out(sent.begin() + static_cast<std::ptrdiff_t>(taken_), sent.end());
    taken_ = sent.size();
    return out;
  }
  /// Id of the last probe sent to `u`, 0 if none.
  [[nodiscard]] uint64_t lastId(size_t u) const {
    for (auto it = sent.rbegin(); it != sent.rend(); ++it) {
      if (it->upstream == u) {
        return it->id;
      }
    }
    return 0;
  }
  [[nodiscard]] size_t countFor(size_t u) const {
    size_t n = 0;
    for (const Sent& s : sent) {
      n += s.upstream == u ? 1U : 0U;
    }
    return n;
  }

  std::vector<Sent> sent;

 private:
  const Clock& clock_;
  size_t taken_ = 0;
};

/// Tiers named t0, t1, ... with `sizes[i]` upstreams each.
inline std::vector<PlanTier> makeTiers(std::vector<size_t> sizes,
                                       SelectionPolicyKind p = SelectionPolicyKind::Ordered) {
  std::vector<PlanTier> out;
  for (size_t i = 0; i < sizes.size(); ++i) {
    out.push_back(PlanTier{"t" + std::to_string(i), p, sizes[i]});
  }
  return out;
}

}  // namespace steadfast::test
