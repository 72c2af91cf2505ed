// SPDX-License-Identifier: Apache-2.0
#include "failover/health_checker.h"

#include <algorithm>

namespace steadfast::failover {

HealthChecker::HealthChecker(Plan& plan, ProbeTiming timing, const Clock& clock, Random& random,
                             ProbeSender& sender)
    : plan_(plan),
      timing_(timing),
      clock_(clock),
      random_(random),
      sender_(sender),
      state_(plan.upstreamCount()) {
  const MonoTime now = clock_.now();
  for (auto& s : state_) {
    s.next_due = now;  // the first probe decides Unknown at once
  }
}

Nanos HealthChecker::jittered(Nanos base) {
  const double f = 1.0 - kJitter + 2.0 * kJitter * random_.unit();
  return Nanos{static_cast<int64_t>(static_cast<double>(base.count()) * f)};
}

void HealthChecker::schedule(size_t u, MonoTime now) {
  Nanos next = timing_.interval;
  if (plan_.health(u).pending()) {
    next = std::max(kMinEdge, timing_.interval / kEdgeDivisor);
    next = std::min(next, timing_.interval);
  }
  state_[u].next_due = now + jittered(next);
}

MonoTime HealthChecker::poll() {
  const MonoTime now = clock_.now();
  // The sender promises a result within the timeout; past twice that (a bug, or a sender
  // that lost the probe) the probe counts as timed out so the upstream cannot go unwatched.
  const Nanos give_up = timing_.timeout * 2 + Millis{100};
  MonoTime next = MonoTime::max();
  for (size_t u = 0; u < state_.size(); ++u) {
    UpstreamProbe& s = state_[u];
    if (s.in_flight && now - s.sent_at >= give_up) {
      s.in_flight = false;
      plan_.record(u, Outcome::Timeout, Signal::Probe);
      schedule(u, now);
    }
    if (!s.in_flight && now >= s.next_due) {
      s.in_flight = true;
      s.sent_at = now;
      s.id = next_id_++;
      ++sent_;
      sender_.send(u, s.id);
    }
    next = std::min(next, s.in_flight ? s.sent_at + give_up : s.next_due);
  }
  return next;
}

void HealthChecker::onProbeResult(size_t u, uint64_t probe_id, Outcome o, Nanos rtt) {
  if (u >= state_.size()) {
    return;
  }
  UpstreamProbe& s = state_[u];
  if (!s.in_flight || s.id != probe_id) {
    return;  // given up on already
  }
  s.in_flight = false;
  const MonoTime now = clock_.now();
  if (o != Outcome::Timeout && o != Outcome::Network && o != Outcome::Tls) {
    s.rtt.sample(rtt, now);  // an answer, even an error answer, measures the path
  }
  plan_.record(u, o, Signal::Probe);
  schedule(u, now);
}

void HealthChecker::probeSoon(size_t u) {
  if (u < state_.size() && !state_[u].in_flight) {
    state_[u].next_due = std::min(state_[u].next_due, clock_.now());
  }
}

}  // namespace steadfast::failover
