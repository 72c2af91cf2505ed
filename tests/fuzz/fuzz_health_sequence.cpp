// SPDX-License-Identifier: Apache-2.0
// Fuzz target for failover/ (STYLE.md section 8, after Envoy's health_check_fuzz.cc): the
// input is a small plan shape followed by 4-byte actions (outcome, time step, upstream, op)
// run against a Plan + HealthChecker over a fake clock, a seeded random and a recording
// probe sender. After every action the state is checked against a reference model of the
// documented rules; a violation traps, so libFuzzer (and the corpus replay) report the input.
//
// Input layout (missing bytes read as 0):
//   [0] tier count 1..3    [1..3] upstreams per tier 0..9    [4] rise, fall 1..4
//   [5] failback mode, hold-down 0..35 s    [6] probe interval, timeout    [7] policies
//   [8] random seed
//   then per action: outcome (bit 7 set: Ok), time step, upstream, op.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "failover/health_checker.h"
#include "failover/plan.h"
#include "failover/selection.h"
#include "resolver/base/random.h"
#include "tests/support/fake_clock.h"

namespace steadfast::failover {
namespace {

// Fails loudly so libFuzzer (and the corpus replay) report the input.
void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

constexpr size_t kMaxTiers = 3;
constexpr size_t kMaxPerTierConfig = 9;
constexpr size_t kMaxUpstreams = kMaxTiers * kMaxPerTierConfig;

class Input {
 public:
  explicit Input(std::span<const uint8_t> d) noexcept : d_(d) {}
  uint8_t next() noexcept { return pos_ < d_.size() ? d_[pos_++] : 0; }
  [[nodiscard]] bool atEnd() const noexcept { return pos_ >= d_.size(); }

 private:
  std::span<const uint8_t> d_;
  size_t pos_ = 0;
};

struct Config {
  std::vector<PlanTier> tiers;
  HealthThresholds thresholds;
  FailbackMode failback = FailbackMode::Auto;
  Nanos hold_down{0};
  ProbeTiming timing;
  uint64_t seed = 0;

  static Config parse(Input& in) {
    Config c;
    const size_t tiers = 1 + in.next() % kMaxTiers;
    std::array<size_t, kMaxTiers> sizes{};
    for (size_t& s : sizes) {
      s = in.next() % (kMaxPerTierConfig + 1);
    }
    const uint8_t rf = in.next();
    c.thresholds = HealthThresholds{1 + rf % 4U, 1 + (rf >> 2U) % 4U};
    const uint8_t fb = in.next();
    c.failback = (fb & 1U) != 0 ? FailbackMode::Manual : FailbackMode::Auto;
    c.hold_down = Seconds{5 * ((fb >> 1U) % 8U)};
    const uint8_t tm = in.next();
    c.timing.interval = Millis{100 * (1 + (tm & 0x1FU) % 20U)};
    c.timing.timeout = Millis{50 * (1 + (tm >> 5U))};
    const uint8_t pol = in.next();
    for (size_t t = 0; t < tiers; ++t) {
      const auto p = static_cast<SelectionPolicyKind>((pol >> (2 * t)) % 3U);
      c.tiers.push_back(PlanTier{"t", p, sizes[t]});
    }
    c.seed = in.next();
    return c;
  }
};

/// Reference model of one upstream, kept from the documented rules only.
struct Model {
  Health health = Health::Unknown;
  uint32_t ok = 0;
  uint32_t fail = 0;
  Health reported = Health::Unknown;  // what the observer was told last
  bool drained = false;
  bool outstanding = false;  // a probe in flight
  uint64_t last_id = 0;
  MonoTime sent_at{};
};

enum class Op : uint8_t {
  Passive,      // plan.record(u, outcome, Passive)
  Result,       // the answer to u's probe in flight
  StaleResult,  // an answer with an id that is not u's probe in flight
  Poll,         // checker.poll()
  Drain,
  Undrain,
  Failback,  // operator failback
  Tick,      // plan.tick()
  ProbeSoon,
  Loop,       // what the control loop's timer does: poll(), then tick()
  ResultAll,  // every probe in flight answers `outcome`
  kCount,
};

Nanos timeStep(uint8_t b) {
  static constexpr std::array<Nanos, 4> kUnit = {Millis{1}, Millis{25}, Millis{250}, Seconds{2}};
  return kUnit[b >> 6U] * (b & 0x3FU);
}

class Harness final : public PlanObserver, public ProbeSender {
 public:
  explicit Harness(const Config& c)
      : config_(c),
        give_up_(c.timing.timeout * 2 + Millis{100}),
        random_(c.seed),
        plan_(c.tiers, c.thresholds, c.failback, c.hold_down, clock_, this),
        checker_(plan_, c.timing, clock_, random_, *this) {
    n_ = plan_.upstreamCount();
    check(n_ <= kMaxUpstreams);
    models_.resize(n_);
    tier_first_.resize(c.tiers.size());
    size_t first = 0;
    for (size_t t = 0; t < c.tiers.size(); ++t) {
      tier_first_[t] = first;
      first += c.tiers[t].upstreams;
      usable_[t] = c.tiers[t].upstreams > 0;
      since_[t] = clock_.now();
      waived_[t] = true;  // nothing has been Healthy yet
      proven_[t] = false;
    }
    active_ = plan_.activeTier();
    check(active_ == firstUsableTier());
    // The first probes go out at once.
    (void)doPoll();
    check(sends_ == n_);
    checkAll();
  }

  void action(uint8_t outcome_byte, uint8_t step, uint8_t upstream, uint8_t op_byte) {
    clock_.advance(timeStep(step));
    const Outcome o =
        (outcome_byte & 0x80U) != 0 ? Outcome::Ok : static_cast<Outcome>(outcome_byte % kOutcomes);
    const auto op = static_cast<Op>(op_byte % static_cast<uint8_t>(Op::kCount));
    const size_t u = n_ > 0 ? upstream % n_ : 0;
    const Nanos rtt = Millis{step};
    op_ = op;
    bool ticked = false;
    switch (op) {
      case Op::Passive:
        if (n_ > 0) {
          expectOutcome(u, o);
          signal_ = Signal::Passive;
          plan_.record(u, o, Signal::Passive);
        }
        break;
      case Op::Result:
        if (n_ > 0) {
          result(u, models_[u].last_id, o, rtt);
        }
        break;
      case Op::StaleResult:
        if (n_ > 0) {
          const Model& m = models_[u];
          const uint64_t id = m.outstanding ? m.last_id ^ (1U + uint64_t{upstream}) : m.last_id;
          result(u, id, o, rtt);
        }
        break;
      case Op::Poll:
        (void)doPoll();
        break;
      case Op::Drain:
      case Op::Undrain:
        drain(u, upstream, op == Op::Drain);
        break;
      case Op::Failback: {
        const int before = plan_.activeTier();
        const bool moved = plan_.failback();
        check(plan_.activeTier() == firstUsableTier());
        check(moved == (plan_.activeTier() != before));
        break;
      }
      case Op::Tick:
        plan_.tick();
        ticked = true;
        break;
      case Op::ProbeSoon:
        if (n_ > 0) {
          const MonoTime due = checker_.nextDue(u);
          checker_.probeSoon(u);
          check(models_[u].outstanding ? checker_.nextDue(u) == due
                                       : checker_.nextDue(u) == std::min(due, clock_.now()));
        }
        break;
      case Op::Loop:
        (void)doPoll();
        plan_.tick();
        ticked = true;
        break;
      case Op::ResultAll:
        for (size_t v = 0; v < n_; ++v) {
          if (models_[v].outstanding) {
            result(v, models_[v].last_id, o, rtt);
          }
        }
        break;
      case Op::kCount:
        break;
    }
    signal_.reset();
    checkAll();
    if (ticked) {
      checkNoOverdueFailback();
    }
    checkSelection(uint64_t{step} * 7919U + upstream, static_cast<double>(outcome_byte) / 256.0,
                   (uint64_t{op_byte} << 8U) | upstream);
  }

  // PlanObserver
  void onHealthChange(size_t u, Health from, Health to, Outcome last, Signal s) override {
    check(u < n_);
    check(signal_.has_value() && s == *signal_);
    Model& m = models_[u];
    check(from == m.reported);
    check(to != from && to != Health::Unknown);
    check(to == m.health);  // the model saw the same outcome first
    if (from == Health::Unknown) {
      check((to == Health::Healthy) == (last == Outcome::Ok));  // the first result decides
    } else if (to == Health::Unhealthy) {
      check(last != Outcome::Ok && m.fail >= config_.thresholds.fall);
    } else {
      check(last == Outcome::Ok && m.ok >= config_.thresholds.rise);
    }
    m.reported = to;
  }

  void onTierChange(int from, int to, bool failback) override {
    check(from == active_);
    check(from != to);
    check(failback == (from >= 0 && to >= 0 && to < from));
    const MonoTime now = clock_.now();
    if (to >= 0) {
      check(plan_.tierUsable(static_cast<size_t>(to)));
    }
    const bool from_usable = from >= 0 && plan_.tierUsable(static_cast<size_t>(from));
    if (!from_usable) {
      check(to == firstUsableTier());  // a failover takes the best usable tier
    } else if (op_ == Op::Failback) {
      check(failback && to == firstUsableTier());  // the operator's choice: the best tier
    } else {
      // An automatic failback (nothing else moves away from a usable tier): only in auto
      // mode, only after the hold-down, and to the highest tier whose hold-down has ended.
      // A tier usable now but not before this action has been usable for 0 s (within one
      // action a tier only gains or only loses usability).
      check(failback);
      check(config_.failback == FailbackMode::Auto);
      // A tier that has never been Healthy owes no hold-down (plan.h); one that becomes
      // usable in this action is waived exactly when it was not proven before it.
      const auto heldOut = [&](size_t t) {
        if (!usable_[t]) {
          // Usable from now on: held out only if it owes a hold-down that is not zero.
          return !plan_.tierUsable(t) || (proven_[t] && config_.hold_down > Nanos{0});
        }
        return !waived_[t] && now - since_[t] < config_.hold_down;
      };
      check(!heldOut(static_cast<size_t>(to)));
      for (size_t t = 0; t < static_cast<size_t>(to); ++t) {
        check(!plan_.tierUsable(t) || heldOut(t));
      }
    }
    active_ = to;
  }

  // ProbeSender
  void send(size_t u, uint64_t probe_id) override {
    check(u < n_);
    Model& m = models_[u];
    check(!m.outstanding);  // one probe per upstream at a time
    check(probe_id > last_id_);
    check(checker_.inFlight(u));
    last_id_ = probe_id;
    m.outstanding = true;
    m.last_id = probe_id;
    m.sent_at = clock_.now();
    ++sends_;
  }

 private:
  void expectOutcome(size_t u, Outcome o) {
    Model& m = models_[u];
    if (o == Outcome::Ok) {
      ++m.ok;
      m.fail = 0;
    } else {
      ++m.fail;
      m.ok = 0;
    }
    switch (m.health) {
      case Health::Unknown:
        m.health = o == Outcome::Ok ? Health::Healthy : Health::Unhealthy;
        break;
      case Health::Healthy:
        if (m.fail >= config_.thresholds.fall) {
          m.health = Health::Unhealthy;
        }
        break;
      case Health::Unhealthy:
        if (m.ok >= config_.thresholds.rise) {
          m.health = Health::Healthy;
        }
        break;
    }
  }

  void result(size_t u, uint64_t id, Outcome o, Nanos rtt) {
    Model& m = models_[u];
    const bool accepted = m.outstanding && id == m.last_id;
    const uint64_t version = plan_.version();
    const uint64_t samples = checker_.probeRtt(u).samples();
    if (accepted) {
      expectOutcome(u, o);
      m.outstanding = false;
    }
    signal_ = Signal::Probe;
    checker_.onProbeResult(u, id, o, rtt);
    signal_.reset();
    if (!accepted) {
      check(plan_.version() == version);  // stale: nothing moved
      check(checker_.probeRtt(u).samples() == samples);
      return;
    }
    const bool measures = o != Outcome::Timeout && o != Outcome::Network && o != Outcome::Tls;
    check(checker_.probeRtt(u).samples() == samples + (measures ? 1U : 0U));
    checkSchedule(u);
  }

  MonoTime doPoll() {
    const MonoTime now = clock_.now();
    std::array<bool, kMaxUpstreams> gave_up{};
    for (size_t u = 0; u < n_; ++u) {
      Model& m = models_[u];
      if (m.outstanding && now - m.sent_at >= give_up_) {
        expectOutcome(u, Outcome::Timeout);  // a lost probe counts as timed out
        m.outstanding = false;
        gave_up[u] = true;
      }
    }
    signal_ = Signal::Probe;
    const MonoTime next = checker_.poll();
    signal_.reset();
    check(next > now);  // the timer never spins
    for (size_t u = 0; u < n_; ++u) {
      const Model& m = models_[u];
      if (m.outstanding) {
        check(now - m.sent_at < give_up_);
        check(next <= m.sent_at + give_up_);
      } else {
        check(checker_.nextDue(u) > now);
        check(next <= checker_.nextDue(u));
      }
      if (gave_up[u]) {
        checkSchedule(u);
      }
    }
    return next;
  }

  void drain(size_t u, uint8_t upstream, bool drained) {
    if (upstream >= 250) {
      check(!plan_.drain(n_ + upstream, drained));  // unknown index
      return;
    }
    if (n_ == 0) {
      return;
    }
    models_[u].drained = drained;
    check(plan_.drain(u, drained));
  }

  /// The next probe of `u`, just scheduled: the interval (or the faster edge interval while
  /// a change is pending) with +-10% jitter.
  void checkSchedule(size_t u) {
    Nanos base = config_.timing.interval;
    if (plan_.health(u).pending()) {
      base = std::min(std::max(HealthChecker::kMinEdge, base / HealthChecker::kEdgeDivisor), base);
    }
    const double b = static_cast<double>(base.count());
    const int64_t d = (checker_.nextDue(u) - clock_.now()).count();
    check(d >= static_cast<int64_t>(b * (1.0 - HealthChecker::kJitter)) - 1);
    check(d <= static_cast<int64_t>(b * (1.0 + HealthChecker::kJitter)) + 1);
    check(d > 0);
  }

  [[nodiscard]] int firstUsableTier() const {
    for (size_t t = 0; t < config_.tiers.size(); ++t) {
      if (plan_.tierUsable(t)) {
        return static_cast<int>(t);
      }
    }
    return -1;
  }

  void checkAll() {
    const MonoTime now = clock_.now();
    const PlanSnapshot s = plan_.snapshot();
    check(s.version >= version_);
    version_ = s.version;
    check(s.active_tier == plan_.activeTier());
    check(s.active_tier == active_);  // every move was reported
    check(s.tiers.size() == config_.tiers.size());
    check(s.usable.size() == n_ && s.drained.size() == n_ && s.health.size() == n_);
    std::array<bool, kMaxTiers> usable{};
    std::array<bool, kMaxTiers> healthy{};
    bool any = false;
    for (size_t u = 0; u < n_; ++u) {
      const Model& m = models_[u];
      const HealthState& h = plan_.health(u);
      check(h.health() == m.health);
      check(m.reported == m.health);  // every change was reported
      check(h.consecutiveSuccesses() == m.ok);
      check(h.consecutiveFailures() == m.fail);
      check(plan_.drained(u) == m.drained);
      check(checker_.inFlight(u) == m.outstanding);
      const bool u_usable = m.health != Health::Unhealthy && !m.drained;
      check((s.usable[u] != 0) == u_usable);
      check((s.drained[u] != 0) == m.drained);
      check(s.health[u] == m.health);
      const size_t t = plan_.tierOf(u);
      check(t < config_.tiers.size() && u >= tier_first_[t] &&
            u < tier_first_[t] + config_.tiers[t].upstreams);
      usable[t] = usable[t] || u_usable;
      healthy[t] = healthy[t] || m.health == Health::Healthy;
      any = any || u_usable;
    }
    for (size_t t = 0; t < config_.tiers.size(); ++t) {
      check(size_t{s.tiers[t].first} == tier_first_[t] &&
            size_t{s.tiers[t].count} == config_.tiers[t].upstreams);
      check(plan_.tierUsable(t) == usable[t]);
      if (usable[t] && !usable_[t]) {
        since_[t] = now;  // a hold-down counts from here
        waived_[t] = !proven_[t];
      }
      usable_[t] = usable[t];
      proven_[t] = proven_[t] || healthy[t];
    }
    // The active tier always has a usable upstream when one exists.
    check(any == (s.active_tier >= 0));
    if (s.active_tier >= 0) {
      check(usable[static_cast<size_t>(s.active_tier)]);
    }
    // nextDeadline(): the end of the earliest hold-down of a usable tier above the active
    // one (auto mode only).
    MonoTime deadline = MonoTime::max();
    if (config_.failback == FailbackMode::Auto) {
      for (int t = 0; t < s.active_tier; ++t) {
        if (usable[static_cast<size_t>(t)]) {
          const auto tt = static_cast<size_t>(t);
          deadline = std::min(deadline, since_[tt] + (waived_[tt] ? Nanos{0} : config_.hold_down));
        }
      }
    }
    check(plan_.nextDeadline() == deadline);
  }

  /// After tick(): no usable higher tier is past its hold-down (it would have been failed
  /// back to), and the failback timer is not due again at once.
  void checkNoOverdueFailback() const {
    if (config_.failback != FailbackMode::Auto) {
      check(plan_.nextDeadline() == MonoTime::max());
      return;
    }
    const MonoTime now = clock_.now();
    for (int t = 0; t < plan_.activeTier(); ++t) {
      const auto tt = static_cast<size_t>(t);
      check(!usable_[tt] || (!waived_[tt] && now - since_[tt] < config_.hold_down));
    }
    check(plan_.nextDeadline() > now);
  }

  void checkSelection(uint64_t rotation, double explore, uint64_t pick) {
    const MonoTime now = clock_.now();
    const PlanSnapshot s = plan_.snapshot();
    std::vector<RttEstimator> rtt;
    rtt.reserve(n_);
    for (size_t u = 0; u < n_; ++u) {
      rtt.push_back(checker_.probeRtt(u));
    }
    for (const double e : {explore, explore * kExploreShare, 1.0}) {
      checkCandidates(s, rtt, SelectionDraw{rotation, e, pick});
    }
    // rankTier over every upstream, whatever the policy: always a permutation.
    std::array<RankEntry, kMaxUpstreams> in{};
    for (size_t u = 0; u < n_; ++u) {
      in[u] = RankEntry{static_cast<uint16_t>(u), rtt[u].rankingRtt(now)};
    }
    for (const auto p : {SelectionPolicyKind::Ordered, SelectionPolicyKind::RoundRobin,
                         SelectionPolicyKind::Fastest}) {
      for (const double e : {explore * kExploreShare, explore}) {
        std::array<RankEntry, kMaxUpstreams> out = in;
        const std::span<RankEntry> span(out.data(), n_);
        const bool explored = rankTier(p, span, rotation, e, pick);
        std::array<bool, kMaxUpstreams> seen{};
        for (const RankEntry& r : span) {
          check(size_t{r.upstream} < n_ && !seen[r.upstream]);
          seen[r.upstream] = true;
          check(r.rtt == in[r.upstream].rtt);
        }
        check(!explored || p == SelectionPolicyKind::Fastest);
        if (p == SelectionPolicyKind::Ordered || n_ < 2) {
          check(std::equal(span.begin(), span.end(), in.begin(),
                           [](const auto& a, const auto& b) { return a.upstream == b.upstream; }));
        } else if (p == SelectionPolicyKind::RoundRobin) {
          check(size_t{span[0].upstream} == rotation % n_);
        } else if (e >= kExploreShare) {
          check(std::is_sorted(span.begin(), span.end(),
                               [](const auto& a, const auto& b) { return a.rtt < b.rtt; }));
        }
      }
    }
  }

  void checkCandidates(const PlanSnapshot& s, const std::vector<RttEstimator>& rtt,
                       const SelectionDraw& draw) {
    CandidateList out;
    buildCandidates(s.view(), rtt, clock_.now(), draw, out);
    check(out.count <= kMaxCandidates);
    std::array<bool, kMaxUpstreams> seen{};
    std::array<size_t, kMaxTiers> per_tier{};
    bool unusable_seen = false;
    for (size_t i = 0; i < out.count; ++i) {
      const size_t u = out.upstream[i];
      check(u < n_ && !seen[u]);  // distinct
      seen[u] = true;
      check(s.drained[u] == 0);  // never a drained one
      const size_t t = plan_.tierOf(u);
      check(++per_tier[t] <= kMaxPerTier);
      if (s.usable[u] == 0) {
        unusable_seen = true;
      } else {
        check(!unusable_seen);  // usable ones first, the unusable ones are a last hope
      }
    }
    size_t expected = 0;
    for (size_t t = 0; t < config_.tiers.size(); ++t) {
      size_t undrained = 0;
      for (size_t u = tier_first_[t]; u < tier_first_[t] + config_.tiers[t].upstreams; ++u) {
        undrained += s.drained[u] == 0 ? 1U : 0U;
      }
      expected += std::min(undrained, kMaxPerTier);
    }
    check(out.count == std::min(expected, kMaxCandidates));
    if (s.active_tier >= 0) {
      check(out.count > 0);
      const size_t first = out.upstream[0];
      check(plan_.tierOf(first) == static_cast<size_t>(s.active_tier) && s.usable[first] != 0);
      check(!out.explored || config_.tiers[static_cast<size_t>(s.active_tier)].policy ==
                                 SelectionPolicyKind::Fastest);
    }
  }

  Config config_;
  Nanos give_up_;
  test::FakeClock clock_;
  FastRandom random_;
  size_t n_ = 0;
  std::vector<Model> models_;
  std::vector<size_t> tier_first_;
  std::array<bool, kMaxTiers> usable_{};     // per tier, as of the end of the last action
  std::array<MonoTime, kMaxTiers> since_{};  // usable without a break since
  std::array<bool, kMaxTiers> proven_{};     // some upstream of it has been Healthy
  std::array<bool, kMaxTiers> waived_{};     // this usable run owes no hold-down
  int active_ = -1;                          // as last reported
  uint64_t version_ = 0;
  uint64_t last_id_ = 0;
  size_t sends_ = 0;
  Op op_ = Op::Poll;
  std::optional<Signal> signal_;  // the signal of health changes the current call may cause
  Plan plan_;
  HealthChecker checker_;
};

void testOneInput(std::span<const uint8_t> data) {
  Input in(data);
  const Config config = Config::parse(in);
  Harness h(config);
  for (int i = 0; i < 4096 && !in.atEnd(); ++i) {
    const uint8_t outcome = in.next();
    const uint8_t step = in.next();
    const uint8_t upstream = in.next();
    const uint8_t op = in.next();
    h.action(outcome, step, upstream, op);
  }
}

}  // namespace
}  // namespace steadfast::failover

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  steadfast::failover::testOneInput({data, size});
  return 0;
}
