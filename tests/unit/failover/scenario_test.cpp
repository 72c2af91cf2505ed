// SPDX-License-Identifier: Apache-2.0
// Scenario tests (STYLE.md section 8): table-driven step scripts over Plan + HealthChecker,
// the GoogleTest version of Unbound's .rpl replays. A small simulated timer loop stands in
// for the control loop: `advance` moves the FakeClock from one timer to the next (the
// checker's poll() deadline and the plan's nextDeadline()), sending probes when due and
// answering them as the script says; `probe` answers one probe in flight by hand. No jitter
// (FakeRandom at 0.5), no sockets, no sleeps.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "failover/health_checker.h"
#include "failover/plan.h"
#include "failover/selection.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_random.h"
#include "tests/unit/failover/failover_test_util.h"

namespace steadfast::failover {
namespace {

using test::HealthEvent;
using test::TierEvent;

enum class Op : uint8_t {
  Advance,            // run the timer loop for `d`
  Answer,             // from now on `u` answers `outcome` (also the probe in flight, if any)
  Silent,             // from now on `u` never answers (a black hole)
  Probe,              // answer the probe in flight to `u` with `outcome`
  Late,               // deliver `outcome` for `u`'s last probe id, in flight or not
  Passive,            // a passive signal from the data path
  Drain,              // operator drain of `u`
  Undrain,            // operator undrain of `u`
  Failback,           // operator failback
  ExpectHealth,       // health of `u` is `health`
  ExpectActive,       // active tier is `tier`
  ExpectCandidates,   // buildCandidates over the published snapshot
  ExpectInFlight,     // whether a probe to `u` is in flight
  ExpectProbes,       // probes sent to `u` so far
  ExpectTierChange,   // the last onTierChange
  ExpectTierChanges,  // number of onTierChange calls so far
  ExpectHealthEvent,  // the last onHealthChange
};

struct Step {
  Op op = Op::Advance;
  size_t u = 0;
  Outcome outcome = Outcome::Ok;
  Nanos d{0};
  Health health = Health::Unknown;
  int tier = -1;
  bool flag = false;
  size_t count = 0;
  std::vector<uint16_t> candidates;
  TierEvent tier_event;
  HealthEvent health_event;
};

Step advance(Nanos d) {
  Step s;
  s.op = Op::Advance;
  s.d = d;
  return s;
}
Step withUpstream(Op op, size_t u, Outcome o = Outcome::Ok) {
  Step s;
  s.op = op;
  s.u = u;
  s.outcome = o;
  return s;
}
Step answer(size_t u, Outcome o) {
  return withUpstream(Op::Answer, u, o);
}
Step silent(size_t u) {
  return withUpstream(Op::Silent, u);
}
Step probe(size_t u, Outcome o) {
  return withUpstream(Op::Probe, u, o);
}
Step late(size_t u, Outcome o) {
  return withUpstream(Op::Late, u, o);
}
Step passive(size_t u, Outcome o) {
  return withUpstream(Op::Passive, u, o);
}
Step drain(size_t u) {
  return withUpstream(Op::Drain, u);
}
Step undrain(size_t u) {
  return withUpstream(Op::Undrain, u);
}
Step failback() {
  return withUpstream(Op::Failback, 0);
}
Step expectHealth(size_t u, Health h) {
  Step s = withUpstream(Op::ExpectHealth, u);
  s.health = h;
  return s;
}
Step expectActive(int tier) {
  Step s;
  s.op = Op::ExpectActive;
  s.tier = tier;
  return s;
}
Step expectCandidates(std::initializer_list<uint16_t> c) {
  Step s;
  s.op = Op::ExpectCandidates;
  s.candidates = c;
  return s;
}
Step expectInFlight(size_t u, bool in_flight) {
  Step s = withUpstream(Op::ExpectInFlight, u);
  s.flag = in_flight;
  return s;
}
Step expectProbes(size_t u, size_t n) {
  Step s = withUpstream(Op::ExpectProbes, u);
  s.count = n;
  return s;
}
Step expectTierChange(int from, int to, bool is_failback) {
  Step s;
  s.op = Op::ExpectTierChange;
  s.tier_event = TierEvent{from, to, is_failback};
  return s;
}
Step expectTierChanges(size_t n) {
  Step s;
  s.op = Op::ExpectTierChanges;
  s.count = n;
  return s;
}
Step expectHealthEvent(size_t u, Health from, Health to, Outcome last, Signal sig) {
  Step s;
  s.op = Op::ExpectHealthEvent;
  s.health_event = HealthEvent{u, from, to, last, sig};
  return s;
}

struct Scenario {
  std::string name;
  std::vector<size_t> tiers;  // upstreams per tier
  HealthThresholds thresholds{2, 2};
  FailbackMode failback = FailbackMode::Auto;
  Nanos hold_down = Seconds{30};
  ProbeTiming timing{Seconds{1}, Millis{400}};
  std::vector<Step> steps;
};

void PrintTo(const Scenario& s, std::ostream* os) {
  *os << s.name;
}

constexpr Nanos kRtt = Millis{20};

class World {
 public:
  explicit World(const Scenario& s)
      : random_({test::FakeRandom::forUnit(0.5)}),
        sender_(clock_),
        plan_(test::makeTiers(s.tiers), s.thresholds, s.failback, s.hold_down, clock_, &obs_),
        checker_(plan_, s.timing, clock_, random_, sender_),
        answers_(plan_.upstreamCount()) {
    settle();  // the first probes go out at once
  }

  void run(const Step& s) {
    switch (s.op) {
      case Op::Advance:
        advance(s.d);
        break;
      case Op::Answer:
        answers_.at(s.u) = s.outcome;
        if (checker_.inFlight(s.u)) {
          checker_.onProbeResult(s.u, sender_.lastId(s.u), s.outcome, kRtt);
        }
        settle();
        break;
      case Op::Silent:
        answers_.at(s.u).reset();
        break;
      case Op::Probe:
        ASSERT_TRUE(checker_.inFlight(s.u)) << "no probe in flight to " << s.u;
        checker_.onProbeResult(s.u, sender_.lastId(s.u), s.outcome, kRtt);
        settle();
        break;
      case Op::Late:
        checker_.onProbeResult(s.u, sender_.lastId(s.u), s.outcome, kRtt);
        settle();
        break;
      case Op::Passive:
        plan_.record(s.u, s.outcome, Signal::Passive);
        settle();
        break;
      case Op::Drain:
      case Op::Undrain:
        ASSERT_TRUE(plan_.drain(s.u, s.op == Op::Drain));
        settle();
        break;
      case Op::Failback:
        (void)plan_.failback();
        settle();
        break;
      case Op::ExpectHealth:
        EXPECT_EQ(plan_.health(s.u).health(), s.health)
            << "upstream " << s.u << " is " << healthName(plan_.health(s.u).health());
        break;
      case Op::ExpectActive:
        EXPECT_EQ(plan_.activeTier(), s.tier);
        EXPECT_EQ(plan_.snapshot().active_tier, s.tier);
        break;
      case Op::ExpectCandidates:
        EXPECT_EQ(candidates(), s.candidates);
        break;
      case Op::ExpectInFlight:
        EXPECT_EQ(checker_.inFlight(s.u), s.flag) << "upstream " << s.u;
        break;
      case Op::ExpectProbes:
        EXPECT_EQ(sender_.countFor(s.u), s.count) << "upstream " << s.u;
        break;
      case Op::ExpectTierChange:
        ASSERT_FALSE(obs_.tiers.empty());
        EXPECT_EQ(obs_.tiers.back(), s.tier_event);
        break;
      case Op::ExpectTierChanges:
        EXPECT_EQ(obs_.tiers.size(), s.count) << ::testing::PrintToString(obs_.tiers);
        break;
      case Op::ExpectHealthEvent:
        ASSERT_FALSE(obs_.health.empty());
        EXPECT_EQ(obs_.health.back(), s.health_event);
        break;
    }
    checkInvariants();
  }

 private:
  /// At the current time: send what is due, deliver the scripted answers, let the plan
  /// re-decide. Neither timer may then be due again at once (it would spin).
  void settle() {
    for (int round = 0;; ++round) {
      ASSERT_LT(round, 100) << "answers keep triggering probes";
      next_poll_ = checker_.poll();
      bool delivered = false;
      for (const auto& sent : sender_.take()) {
        if (const auto& a = answers_.at(sent.upstream)) {
          checker_.onProbeResult(sent.upstream, sent.id, *a, kRtt);
          delivered = true;
        }
      }
      plan_.tick();
      if (!delivered) {
        break;
      }
    }
    ASSERT_GT(next_poll_, clock_.now()) << "the probe timer would spin";
    ASSERT_GT(plan_.nextDeadline(), clock_.now()) << "the failback timer would spin";
  }

  void advance(Nanos d) {
    const MonoTime target = clock_.now() + d;
    for (int guard = 0;; ++guard) {
      ASSERT_LT(guard, 100'000) << "the timer loop does not progress";
      const MonoTime next = std::min(next_poll_, plan_.nextDeadline());
      if (next > target) {
        break;
      }
      if (next > clock_.now()) {
        clock_.advance(next - clock_.now());
      }
      settle();
      if (::testing::Test::HasFatalFailure()) {
        return;
      }
    }
    clock_.advance(target - clock_.now());
  }

  std::vector<uint16_t> candidates() const {
    const PlanSnapshot snap = plan_.snapshot();
    std::vector<RttEstimator> rtt;
    for (size_t u = 0; u < plan_.upstreamCount(); ++u) {
      rtt.push_back(checker_.probeRtt(u));
    }
    CandidateList out;
    buildCandidates(snap.view(), rtt, clock_.now(), SelectionDraw{}, out);
    return {out.upstream.begin(), out.upstream.begin() + static_cast<std::ptrdiff_t>(out.count)};
  }

  void checkInvariants() const {
    bool any = false;
    for (size_t u = 0; u < plan_.upstreamCount(); ++u) {
      any = any || (plan_.health(u).usable() && !plan_.drained(u));
    }
    if (any) {
      ASSERT_GE(plan_.activeTier(), 0) << "a usable upstream but no active tier";
      EXPECT_TRUE(plan_.tierUsable(static_cast<size_t>(plan_.activeTier())));
    } else {
      EXPECT_EQ(plan_.activeTier(), -1);
    }
  }

  test::FakeClock clock_;
  test::FakeRandom random_;
  test::RecordingObserver obs_;
  test::FakeProbeSender sender_;
  Plan plan_;
  HealthChecker checker_;
  std::vector<std::optional<Outcome>> answers_;
  MonoTime next_poll_{};
};

// Upstream names for two tiers of two: primary p0, p1 (0, 1); union u0, u1 (2, 3).
constexpr size_t kP0 = 0;
constexpr size_t kP1 = 1;
constexpr int kPrimary = 0;
constexpr int kUnion = 1;

std::vector<Step> allAnswer(size_t n, Outcome o) {
  std::vector<Step> out;
  for (size_t u = 0; u < n; ++u) {
    out.push_back(answer(u, o));
  }
  return out;
}

std::vector<Step> concat(std::initializer_list<std::vector<Step>> parts) {
  std::vector<Step> out;
  for (const auto& p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

std::vector<Scenario> scenarios() {
  std::vector<Scenario> out;

  out.push_back(Scenario{
      "PrimaryOutageFailsOverAtOnceAndBackAfterHoldDown",
      {2, 2},
      {2, 2},
      FailbackMode::Auto,
      Seconds{30},
      {Seconds{1}, Millis{400}},
      concat({allAnswer(4, Outcome::Ok),
              {
                  expectHealth(kP0, Health::Healthy),
                  expectActive(kPrimary),
                  expectCandidates({0, 1, 2, 3}),
                  answer(kP0, Outcome::Timeout),
                  answer(kP1, Outcome::Timeout),
                  advance(Seconds{1}),  // 1 of fall 2: pending, probed every 250 ms
                  expectHealth(kP0, Health::Healthy),
                  expectHealth(kP1, Health::Healthy),
                  expectActive(kPrimary),
                  advance(Millis{250}),
                  expectHealth(kP0, Health::Unhealthy),
                  expectHealth(kP1, Health::Unhealthy),
                  expectActive(kUnion),
                  expectTierChange(kPrimary, kUnion, false),
                  expectCandidates({2, 3, 0, 1}),
                  answer(kP0, Outcome::Ok),
                  advance(Seconds{1}),
                  expectHealth(kP0, Health::Unhealthy),  // 1 of rise 2
                  advance(Millis{250}),
                  expectHealth(kP0, Health::Healthy),
                  expectActive(kUnion),  // held down
                  expectCandidates({2, 3, 0, 1}),
                  advance(Seconds{29}),
                  expectActive(kUnion),
                  advance(Seconds{1}),
                  expectActive(kPrimary),
                  expectTierChange(kUnion, kPrimary, true),
                  expectCandidates({0, 2, 3, 1}),
                  expectTierChanges(2),
              }}),
  });

  out.push_back(Scenario{
      "AlternatingProbeResultsNeverFlap",
      {2, 2},
      {2, 2},
      FailbackMode::Auto,
      Seconds{30},
      {Seconds{1}, Millis{400}},
      concat({allAnswer(4, Outcome::Ok),
              {silent(kP0)},
              [] {
                std::vector<Step> s;
                for (int i = 0; i < 10; ++i) {
                  s.push_back(advance(Seconds{1}));
                  s.push_back(probe(kP0, Outcome::Timeout));
                  s.push_back(expectHealth(kP0, Health::Healthy));
                  s.push_back(advance(Millis{250}));  // the faster pending interval
                  s.push_back(probe(kP0, Outcome::Ok));
                  s.push_back(expectHealth(kP0, Health::Healthy));
                }
                return s;
              }(),
              {
                  expectTierChanges(0),
                  expectActive(kPrimary),
                  expectProbes(kP0, 21),
              }}),
  });

  out.push_back(Scenario{
      "ManualFailbackWaitsForTheOperator",
      {1, 1},
      {2, 2},
      FailbackMode::Manual,
      Seconds{30},
      {Seconds{1}, Millis{400}},
      concat({allAnswer(2, Outcome::Ok),
              {
                  answer(0, Outcome::Refused),
                  advance(Millis{1250}),
                  expectHealth(0, Health::Unhealthy),
                  expectActive(1),
                  answer(0, Outcome::Ok),
                  advance(Millis{1250}),
                  expectHealth(0, Health::Healthy),
                  advance(Seconds{600}),
                  expectActive(1),
                  expectTierChanges(1),
                  failback(),
                  expectActive(0),
                  expectTierChange(1, 0, true),
                  failback(),  // nothing better: no change
                  expectTierChanges(2),
              }}),
  });

  out.push_back(Scenario{
      "FlappingPrimaryRestartsTheHoldDown",
      {1, 1},
      {1, 1},
      FailbackMode::Auto,
      Seconds{30},
      {Seconds{1}, Millis{400}},
      concat({allAnswer(2, Outcome::Ok),
              {
                  answer(0, Outcome::Timeout),
                  advance(Seconds{1}),
                  expectActive(1),
                  answer(0, Outcome::Ok),
                  advance(Seconds{1}),  // usable again: hold-down from here (R1)
                  expectHealth(0, Health::Healthy),
                  advance(Seconds{20}),
                  expectActive(1),
                  answer(0, Outcome::Timeout),
                  advance(Seconds{1}),  // breaks at R1 + 21 s
                  expectHealth(0, Health::Unhealthy),
                  answer(0, Outcome::Ok),
                  advance(Seconds{1}),  // usable again at R2 = R1 + 22 s
                  advance(Seconds{10}),
                  expectActive(1),  // R1 + 32 s: the first hold-down would have ended
                  advance(Seconds{19}),
                  expectActive(1),  // R2 + 29 s
                  advance(Seconds{1}),
                  expectActive(0),  // R2 + 30 s
                  expectTierChanges(2),
              }}),
  });

  out.push_back(Scenario{
      "BlackHoledPrimaryIsGivenUpOn",
      {1, 1},
      {2, 3},
      FailbackMode::Auto,
      Seconds{30},
      {Seconds{1}, Millis{400}},
      {
          answer(1, Outcome::Ok),
          // The first probe to 0 never returns: given up on after 2 * 400 + 100 ms.
          advance(Millis{899}),
          expectInFlight(0, true),
          expectHealth(0, Health::Unknown),
          expectActive(0),
          advance(Millis{1}),
          expectInFlight(0, false),
          expectHealth(0, Health::Unhealthy),  // the first result decides
          expectHealthEvent(0, Health::Unknown, Health::Unhealthy, Outcome::Timeout, Signal::Probe),
          expectActive(1),
          late(0, Outcome::Ok),  // the lost probe's answer, too late: ignored
          expectHealth(0, Health::Unhealthy),
          expectProbes(0, 1),
          advance(Seconds{1}),
          expectProbes(0, 2),
          expectInFlight(0, true),
          // It comes back: rise 2 (the second one on the 250 ms pending interval).
          answer(0, Outcome::Ok),
          advance(Millis{250}),
          expectHealth(0, Health::Healthy),
          advance(Seconds{30}),
          expectActive(0),
          // And black-holes again: fall 3 give-ups take it down.
          silent(0),
          advance(Seconds{1}),
          expectInFlight(0, true),
          advance(Millis{900}),
          expectHealth(0, Health::Healthy),  // 1 of 3
          advance(Seconds{3}),
          expectHealth(0, Health::Unhealthy),
          expectActive(1),
          expectTierChange(0, 1, false),
      },
  });

  out.push_back(Scenario{
      "DrainingThePrimaryMovesToTheUnionAtOnce",
      {2, 2},
      {2, 2},
      FailbackMode::Auto,
      Seconds{30},
      {Seconds{1}, Millis{400}},
      concat({allAnswer(4, Outcome::Ok),
              {
                  drain(kP0),
                  expectActive(kPrimary),
                  expectCandidates({1, 2, 3}),
                  drain(kP1),
                  expectActive(kUnion),
                  expectTierChange(kPrimary, kUnion, false),
                  expectCandidates({2, 3}),
                  expectProbes(kP0, 1),
                  advance(Seconds{5}),
                  expectProbes(kP0, 6),  // drained upstreams are still probed
                  expectHealth(kP0, Health::Healthy),
                  undrain(kP0),
                  expectActive(kUnion),  // the hold-down applies to an undrained tier too
                  expectCandidates({2, 3, 0}),
                  advance(Seconds{29}),
                  expectActive(kUnion),
                  advance(Seconds{1}),
                  expectActive(kPrimary),
                  expectCandidates({0, 2, 3}),
              }}),
  });

  out.push_back(Scenario{
      "EverythingDownFailsOpenThenTheFirstTierBackServes",
      {1, 1},
      {2, 2},
      FailbackMode::Auto,
      Seconds{30},
      {Seconds{1}, Millis{400}},
      {
          answer(0, Outcome::Timeout),
          expectActive(1),
          answer(1, Outcome::ServFail),
          expectActive(-1),
          expectTierChange(1, -1, false),
          expectCandidates({0, 1}),  // fail-open: the unusable ones, a last hope
          answer(1, Outcome::Ok),
          advance(Millis{1250}),
          expectHealth(1, Health::Healthy),
          expectActive(1),  // from no tier at all: no hold-down
          expectTierChange(-1, 1, false),
          expectCandidates({1, 0}),
      },
  });

  out.push_back(Scenario{
      "PassiveDemotionWhileProbesStillPass",
      {1, 1},
      {2, 3},
      FailbackMode::Auto,
      Seconds{30},
      {Seconds{1}, Millis{400}},
      concat(
          {allAnswer(2, Outcome::Ok),
           {
               advance(Millis{100}),
               passive(0, Outcome::ServFail),
               passive(0, Outcome::ServFail),
               expectHealth(0, Health::Healthy),
               passive(0, Outcome::Mismatch),
               expectHealth(0, Health::Unhealthy),
               expectHealthEvent(0, Health::Healthy, Health::Unhealthy, Outcome::Mismatch,
                                 Signal::Passive),
               expectActive(1),
               expectTierChange(0, 1, false),
               advance(Millis{900}),  // the next probe passes: 1 of rise 2
               expectHealth(0, Health::Unhealthy),
               advance(Millis{250}),
               expectHealth(0, Health::Healthy),
               expectHealthEvent(0, Health::Unhealthy, Health::Healthy, Outcome::Ok, Signal::Probe),
               advance(Seconds{30}),
               expectActive(0),
           }}),
  });

  out.push_back(Scenario{
      "StaggeredRecoveryFailsBackTierByTier",
      {1, 1, 1},
      {1, 1},
      FailbackMode::Auto,
      Seconds{30},
      {Seconds{1}, Millis{400}},
      concat({allAnswer(3, Outcome::Ok),
              {
                  answer(0, Outcome::Timeout),
                  answer(1, Outcome::Timeout),
                  advance(Seconds{1}),
                  expectActive(2),
                  answer(1, Outcome::Ok),
                  advance(Seconds{1}),  // tier 1 usable at R1
                  advance(Seconds{10}),
                  answer(0, Outcome::Ok),
                  advance(Seconds{1}),  // tier 0 usable at R1 + 11 s
                  advance(Seconds{18}),
                  expectActive(2),
                  advance(Seconds{1}),
                  expectActive(1),  // R1 + 30 s: tier 1's hold-down ended, tier 0's not
                  expectTierChange(2, 1, true),
                  advance(Seconds{10}),
                  expectActive(1),
                  advance(Seconds{1}),
                  expectActive(0),
                  expectTierChange(1, 0, true),
              }}),
  });

  out.push_back(Scenario{
      "ZeroHoldDownFailsBackOnTheFirstHealthyProbe",
      {1, 1},
      {3, 1},
      FailbackMode::Auto,
      Nanos{0},
      {Millis{500}, Millis{200}},
      concat({allAnswer(2, Outcome::Ok),
              {
                  answer(0, Outcome::Network),
                  advance(Millis{500}),
                  expectActive(1),
                  answer(0, Outcome::Ok),
                  advance(Millis{500}),  // 1 of rise 3; pending: every 125 ms, floor 50 ms
                  expectActive(1),
                  advance(Millis{125}),
                  expectActive(1),
                  advance(Millis{125}),
                  expectHealth(0, Health::Healthy),
                  expectActive(0),
                  expectTierChanges(2),
              }}),
  });

  return out;
}

class ScenarioTest : public ::testing::TestWithParam<Scenario> {};

TEST_P(ScenarioTest, Runs) {
  const Scenario& sc = GetParam();
  World world(sc);
  ASSERT_FALSE(HasFatalFailure());
  for (size_t i = 0; i < sc.steps.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "step " << i);
    world.run(sc.steps[i]);
    ASSERT_FALSE(HasFatalFailure());
  }
}

INSTANTIATE_TEST_SUITE_P(Failover, ScenarioTest, ::testing::ValuesIn(scenarios()),
                         [](const ::testing::TestParamInfo<Scenario>& p) { return p.param.name; });

}  // namespace
}  // namespace steadfast::failover
