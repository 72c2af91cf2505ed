// SPDX-License-Identifier: Apache-2.0
// HealthChecker: decides when each upstream is probed and feeds the results into the Plan.
// Every upstream is probed every `interval` with +-10% jitter (so many appliances started
// together do not probe in step), every interval/4 (at least 50 ms) while a state change is
// pending (Envoy's edge interval), and once at once at start. It sends only through the
// ProbeSender interface and is driven by poll(): the I/O around it (a libuv timer on the
// control loop) calls poll() when the time it returned has come. Clock and Random injected.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "failover/plan.h"
#include "failover/probe_sender.h"
#include "failover/rtt_estimator.h"
#include "resolver/base/clock.h"
#include "resolver/base/random.h"

namespace steadfast::failover {

struct ProbeTiming {
  Nanos interval = Seconds{1};
  Nanos timeout = Millis{400};
};

class HealthChecker {
 public:
  static constexpr double kJitter = 0.1;         // +-10% of the interval
  static constexpr Nanos kMinEdge = Millis{50};  // floor of the faster pending interval
  static constexpr uint32_t kEdgeDivisor = 4;    // pending: interval / 4

  HealthChecker(Plan& plan, ProbeTiming timing, const Clock& clock, Random& random,
                ProbeSender& sender);

  /// Sends every probe that is due and returns when poll() should run next.
  MonoTime poll();
  /// The result of probe `probe_id` of upstream `u`; stale ids (a probe already given up on)
  /// are ignored. `rtt` is the probe's round trip (valid for Ok and error answers).
  void onProbeResult(size_t u, uint64_t probe_id, Outcome o, Nanos rtt);
  /// Probes `u` at the next poll() (a passive signal suggested a change).
  void probeSoon(size_t u);

  [[nodiscard]] const RttEstimator& probeRtt(size_t u) const { return state_.at(u).rtt; }
  [[nodiscard]] uint64_t probesSent() const noexcept { return sent_; }
  [[nodiscard]] MonoTime nextDue(size_t u) const { return state_.at(u).next_due; }
  [[nodiscard]] bool inFlight(size_t u) const { return state_.at(u).in_flight; }

 private:
  struct UpstreamProbe {
    MonoTime next_due{};
    MonoTime sent_at{};
    uint64_t id = 0;  // of the probe in flight, or of the last one
    bool in_flight = false;
    RttEstimator rtt;
  };

  [[nodiscard]] Nanos jittered(Nanos base);
  void schedule(size_t u, MonoTime now);

  Plan& plan_;
  ProbeTiming timing_;
  const Clock& clock_;
  Random& random_;
  ProbeSender& sender_;
  std::vector<UpstreamProbe> state_;
  uint64_t next_id_ = 1;
  uint64_t sent_ = 0;
};

}  // namespace steadfast::failover
