// SPDX-License-Identifier: Apache-2.0
// HealthChecker (failover/health_checker.h): probe scheduling with jitter, the faster edge
// interval while a change is pending, probe ids, the give-up guard for lost probes, and
// probeSoon. FakeClock, FakeRandom and a recording ProbeSender: no sockets, no sleeps.
#include "failover/health_checker.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "resolver/base/random.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_random.h"
#include "tests/unit/failover/failover_test_util.h"

namespace steadfast::failover {
namespace {

using test::FakeProbeSender;
using test::FakeRandom;
using test::HealthEvent;
using test::makeTiers;

constexpr Nanos kInterval = Seconds{1};
constexpr Nanos kTimeout = Millis{400};
constexpr Nanos kGiveUp = 2 * kTimeout + Millis{100};

/// A Plan + HealthChecker over fakes. The FakeRandom repeats its last value, so one value
/// fixes the jitter of every schedule.
struct Rig {
  explicit Rig(std::vector<size_t> sizes, std::vector<uint64_t> draws = {FakeRandom::forUnit(0.5)},
               ProbeTiming timing = ProbeTiming{kInterval, kTimeout},
               HealthThresholds t = HealthThresholds{3, 3})
      : random(std::move(draws)),
        sender(clock),
        plan(makeTiers(std::move(sizes)), t, FailbackMode::Auto, Seconds{30}, clock, &obs),
        checker(plan, timing, clock, random, sender) {}

  /// Answers the probe in flight to `u`.
  void answer(size_t u, Outcome o, Nanos rtt = Millis{20}) {
    ASSERT_TRUE(checker.inFlight(u)) << "upstream " << u;
    checker.onProbeResult(u, sender.lastId(u), o, rtt);
    EXPECT_FALSE(checker.inFlight(u));
  }
  /// Time from now until `u`'s next probe.
  Nanos untilDue(size_t u) const { return checker.nextDue(u) - clock.now(); }

  test::FakeClock clock;
  FakeRandom random;
  test::RecordingObserver obs;
  FakeProbeSender sender;
  Plan plan;
  HealthChecker checker;
};

TEST(HealthCheckerTest, FirstProbesGoOutAtOnce) {
  Rig r({2, 1});
  const MonoTime start = r.clock.now();
  for (size_t u = 0; u < 3; ++u) {
    EXPECT_EQ(r.checker.nextDue(u), start);
    EXPECT_FALSE(r.checker.inFlight(u));
  }
  EXPECT_TRUE(r.sender.sent.empty());  // nothing is sent from the constructor
  const MonoTime next = r.checker.poll();
  ASSERT_EQ(r.sender.sent.size(), 3U);
  std::set<uint64_t> ids;
  for (size_t u = 0; u < 3; ++u) {
    EXPECT_EQ(r.sender.sent[u].upstream, u);
    EXPECT_EQ(r.sender.sent[u].at, start);
    EXPECT_TRUE(r.checker.inFlight(u));
    ids.insert(r.sender.sent[u].id);
  }
  EXPECT_EQ(ids.size(), 3U);
  EXPECT_EQ(r.checker.probesSent(), 3U);
  // Everything in flight: the next thing to do is giving up on them.
  EXPECT_EQ(next, start + kGiveUp);
}

TEST(HealthCheckerTest, NoSecondProbeWhileOneIsInFlight) {
  Rig r({1});
  (void)r.checker.poll();
  for (int i = 0; i < 8; ++i) {
    r.clock.advance(Millis{100});
    (void)r.checker.poll();
  }
  EXPECT_EQ(r.sender.sent.size(), 1U);
}

TEST(HealthCheckerTest, FirstResultDecidesAndFeedsThePlan) {
  Rig r({1, 1});
  (void)r.checker.poll();
  r.answer(0, Outcome::Refused);
  r.answer(1, Outcome::Ok);
  EXPECT_EQ(r.plan.health(0).health(), Health::Unhealthy);
  EXPECT_EQ(r.plan.health(1).health(), Health::Healthy);
  EXPECT_EQ(r.obs.health,
            (std::vector<HealthEvent>{
                {0, Health::Unknown, Health::Unhealthy, Outcome::Refused, Signal::Probe},
                {1, Health::Unknown, Health::Healthy, Outcome::Ok, Signal::Probe}}));
  EXPECT_EQ(r.plan.activeTier(), 1);
}

TEST(HealthCheckerTest, NextProbeAfterTheIntervalWithJitter) {
  // unit() = 0 gives -10%, just under 1 gives just under +10%, 0.5 none.
  for (const auto& [u, lo, hi] :
       {std::tuple{0.0, 0.9, 0.9}, std::tuple{0.5, 1.0, 1.0}, std::tuple{0.25, 0.95, 0.95},
        std::tuple{0.999999, 1.0999, 1.1}}) {
    SCOPED_TRACE(u);
    Rig r({1}, {FakeRandom::forUnit(u)});
    (void)r.checker.poll();
    r.clock.advance(Millis{20});
    r.answer(0, Outcome::Ok);
    const auto due = static_cast<double>(r.untilDue(0).count());
    const auto interval = static_cast<double>(kInterval.count());
    EXPECT_GE(due, lo * interval - 1);
    EXPECT_LE(due, hi * interval + 1);
    // Nothing goes out before it is due, and the probe goes out when it is.
    EXPECT_EQ(r.checker.poll(), r.checker.nextDue(0));
    r.clock.advance(r.untilDue(0) - Nanos{1});
    (void)r.checker.poll();
    EXPECT_EQ(r.sender.sent.size(), 1U);
    r.clock.advance(Nanos{1});
    (void)r.checker.poll();
    EXPECT_EQ(r.sender.sent.size(), 2U);
  }
}

// Property: over many results the jitter stays within +-10% and actually spreads.
TEST(HealthCheckerTest, JitterStaysWithinTenPercent) {
  struct Seeded final : Random {
    FastRandom r{2024};
    uint64_t next64() noexcept override { return r.next64(); }
  };
  test::FakeClock clock;
  Seeded random;
  FakeProbeSender sender(clock);
  Plan plan(makeTiers({1}), HealthThresholds{3, 3}, FailbackMode::Auto, Seconds{30}, clock);
  HealthChecker checker(plan, ProbeTiming{kInterval, kTimeout}, clock, random, sender);
  Nanos lo = Nanos::max();
  Nanos hi = Nanos::min();
  for (int i = 0; i < 2000; ++i) {
    clock.advance(checker.nextDue(0) - clock.now());
    (void)checker.poll();
    ASSERT_TRUE(checker.inFlight(0));
    checker.onProbeResult(0, sender.lastId(0), Outcome::Ok, Millis{5});
    const Nanos d = checker.nextDue(0) - clock.now();
    ASSERT_GE(d, kInterval * 9 / 10);
    ASSERT_LT(d, kInterval * 11 / 10);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_LT(lo, kInterval * 91 / 100);
  EXPECT_GT(hi, kInterval * 109 / 100);
}

TEST(HealthCheckerTest, EdgeIntervalWhileAChangeIsPending) {
  Rig r({1});
  (void)r.checker.poll();
  r.answer(0, Outcome::Ok);  // Healthy
  EXPECT_EQ(r.untilDue(0), kInterval);
  r.clock.advance(r.untilDue(0));
  (void)r.checker.poll();
  r.answer(0, Outcome::Timeout);  // 1 of fall 3: pending
  ASSERT_TRUE(r.plan.health(0).pending());
  EXPECT_EQ(r.untilDue(0), kInterval / 4);
  r.clock.advance(r.untilDue(0));
  (void)r.checker.poll();
  r.answer(0, Outcome::Timeout);
  EXPECT_EQ(r.untilDue(0), kInterval / 4);
  r.clock.advance(r.untilDue(0));
  (void)r.checker.poll();
  r.answer(0, Outcome::Timeout);  // Unhealthy now, nothing pending
  EXPECT_EQ(r.plan.health(0).health(), Health::Unhealthy);
  EXPECT_EQ(r.untilDue(0), kInterval);
  r.clock.advance(r.untilDue(0));
  (void)r.checker.poll();
  r.answer(0, Outcome::Ok);  // 1 of rise 3: pending the other way
  EXPECT_EQ(r.untilDue(0), kInterval / 4);
}

TEST(HealthCheckerTest, EdgeIntervalHasAFloorAndNeverExceedsTheInterval) {
  for (const auto& [interval, edge] :
       {std::pair{Nanos{Millis{100}}, Nanos{Millis{50}}},  // 25 ms raised to 50 ms
        std::pair{Nanos{Millis{40}}, Nanos{Millis{40}}},   // the floor, capped by interval
        std::pair{Nanos{Millis{200}}, Nanos{Millis{50}}},  // exactly the floor
        std::pair{Nanos{Seconds{10}}, Nanos{Millis{2500}}}}) {
    SCOPED_TRACE(interval.count());
    Rig r({1}, {FakeRandom::forUnit(0.5)}, ProbeTiming{interval, kTimeout});
    (void)r.checker.poll();
    r.answer(0, Outcome::Ok);
    r.clock.advance(r.untilDue(0));
    (void)r.checker.poll();
    r.answer(0, Outcome::ServFail);
    EXPECT_EQ(r.untilDue(0), edge);
  }
}

TEST(HealthCheckerTest, EdgeIntervalIsJitteredToo) {
  Rig r({1}, {FakeRandom::forUnit(0.0)});
  (void)r.checker.poll();
  r.answer(0, Outcome::Ok);
  r.clock.advance(r.untilDue(0));
  (void)r.checker.poll();
  r.answer(0, Outcome::Timeout);
  EXPECT_EQ(r.untilDue(0), kInterval / 4 * 9 / 10);
}

TEST(HealthCheckerTest, StaleProbeIdsAreIgnored) {
  Rig r({2});
  (void)r.checker.poll();
  const uint64_t id0 = r.sender.lastId(0);
  const uint64_t id1 = r.sender.lastId(1);
  ASSERT_NE(id0, id1);
  r.checker.onProbeResult(0, id0 + 1000, Outcome::Ok, Millis{1});  // unknown id
  r.checker.onProbeResult(0, id1, Outcome::Ok, Millis{1});         // another upstream's id
  r.checker.onProbeResult(7, id0, Outcome::Ok, Millis{1});         // no such upstream
  EXPECT_TRUE(r.checker.inFlight(0));
  EXPECT_EQ(r.plan.health(0).health(), Health::Unknown);
  EXPECT_FALSE(r.checker.probeRtt(0).measured());
  r.checker.onProbeResult(0, id0, Outcome::Ok, Millis{1});
  EXPECT_FALSE(r.checker.inFlight(0));
  EXPECT_EQ(r.plan.health(0).health(), Health::Healthy);
  // The same result delivered twice counts once.
  r.checker.onProbeResult(0, id0, Outcome::Timeout, Millis{1});
  EXPECT_EQ(r.plan.health(0).consecutiveFailures(), 0U);
  EXPECT_EQ(r.checker.probeRtt(0).samples(), 1U);
  // An old id after a new probe went out.
  r.clock.advance(r.untilDue(0));
  (void)r.checker.poll();
  ASSERT_TRUE(r.checker.inFlight(0));
  ASSERT_NE(r.sender.lastId(0), id0);
  r.checker.onProbeResult(0, id0, Outcome::Timeout, Millis{1});
  EXPECT_TRUE(r.checker.inFlight(0));
  EXPECT_EQ(r.plan.health(0).consecutiveFailures(), 0U);
}

TEST(HealthCheckerTest, ALostProbeIsGivenUpOnAndCountsAsTimeout) {
  Rig r({1, 1});
  const MonoTime start = r.clock.now();
  (void)r.checker.poll();
  r.answer(1, Outcome::Ok);
  const uint64_t lost = r.sender.lastId(0);
  r.clock.advance(kGiveUp - Nanos{1});
  EXPECT_EQ(r.checker.poll(), start + kGiveUp);
  EXPECT_TRUE(r.checker.inFlight(0));
  EXPECT_EQ(r.plan.health(0).health(), Health::Unknown);
  r.clock.advance(Nanos{1});
  (void)r.checker.poll();
  EXPECT_FALSE(r.checker.inFlight(0));
  EXPECT_EQ(r.plan.health(0).health(), Health::Unhealthy);
  EXPECT_EQ(r.obs.health.back(),
            (HealthEvent{0, Health::Unknown, Health::Unhealthy, Outcome::Timeout, Signal::Probe}));
  EXPECT_EQ(r.plan.activeTier(), 1);
  EXPECT_EQ(r.sender.countFor(0), 1U);  // not re-sent in the same poll
  EXPECT_EQ(r.untilDue(0), kInterval);
  EXPECT_FALSE(r.checker.probeRtt(0).measured());
  // The late answer of the lost probe is stale now.
  r.checker.onProbeResult(0, lost, Outcome::Ok, Millis{900});
  EXPECT_EQ(r.plan.health(0).consecutiveSuccesses(), 0U);
  EXPECT_FALSE(r.checker.probeRtt(0).measured());
  // The next probe has a new id.
  r.clock.advance(r.untilDue(0));
  (void)r.checker.poll();
  EXPECT_EQ(r.sender.countFor(0), 2U);
  EXPECT_NE(r.sender.lastId(0), lost);
}

TEST(HealthCheckerTest, RepeatedGiveUpsTakeAHealthyUpstreamDown) {
  Rig r({1, 1});
  (void)r.checker.poll();
  r.answer(0, Outcome::Ok);
  r.answer(1, Outcome::Ok);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(r.plan.health(0).health(), Health::Healthy) << i;
    r.clock.advance(r.untilDue(0));
    (void)r.checker.poll();  // sends; the sender loses it
    r.answer(1, Outcome::Ok);
    r.clock.advance(kGiveUp);
    (void)r.checker.poll();
    EXPECT_FALSE(r.checker.inFlight(0));
  }
  EXPECT_EQ(r.plan.health(0).health(), Health::Unhealthy);
  EXPECT_EQ(r.plan.activeTier(), 1);
}

TEST(HealthCheckerTest, PollReturnsTheEarliestThingToDo) {
  Rig r({3}, {FakeRandom::forUnit(0.5)});
  const MonoTime start = r.clock.now();
  (void)r.checker.poll();
  r.clock.advance(Millis{10});
  r.answer(0, Outcome::Ok);  // due at +1010 ms
  r.clock.advance(Millis{10});
  r.answer(1, Outcome::Ok);  // due at +1020 ms; 2 stays in flight: give up at +900 ms
  EXPECT_EQ(r.checker.poll(), start + kGiveUp);
  r.clock.advance(start + kGiveUp - r.clock.now());
  (void)r.checker.poll();  // gives up on 2, due at +1900 ms
  EXPECT_EQ(r.checker.poll(), start + Millis{1010});
}

TEST(HealthCheckerTest, ProbeSoonProbesAtTheNextPoll) {
  Rig r({2});
  (void)r.checker.poll();
  r.answer(0, Outcome::Ok);
  r.clock.advance(Millis{100});
  r.checker.probeSoon(0);
  EXPECT_EQ(r.checker.nextDue(0), r.clock.now());
  EXPECT_EQ(r.checker.poll(), r.clock.now() - Millis{100} + kGiveUp);  // 1 is still in flight
  EXPECT_EQ(r.sender.countFor(0), 2U);
  // While a probe is in flight it changes nothing.
  const MonoTime due1 = r.checker.nextDue(1);
  r.checker.probeSoon(1);
  EXPECT_EQ(r.checker.nextDue(1), due1);
  (void)r.checker.poll();
  EXPECT_EQ(r.sender.countFor(1), 1U);
  // It never postpones a probe that is due earlier, and ignores unknown upstreams.
  r.answer(0, Outcome::Ok);
  r.clock.advance(r.untilDue(0) + Millis{5});  // overdue
  const MonoTime due0 = r.checker.nextDue(0);
  r.checker.probeSoon(0);
  EXPECT_EQ(r.checker.nextDue(0), due0);
  r.checker.probeSoon(99);
}

TEST(HealthCheckerTest, AnswersMeasureTheRttFailuresDoNot) {
  Rig r({1});
  const auto probe = [&r](Outcome o, Nanos rtt) {
    r.clock.advance(r.untilDue(0));
    (void)r.checker.poll();
    r.answer(0, o, rtt);
  };
  probe(Outcome::Ok, Millis{20});
  EXPECT_EQ(r.checker.probeRtt(0).samples(), 1U);
  EXPECT_EQ(r.checker.probeRtt(0).srtt(), Millis{20});
  EXPECT_EQ(r.checker.probeRtt(0).lastUpdate(), r.clock.now());
  probe(Outcome::ServFail, Millis{20});  // an error answer still measures the path
  probe(Outcome::Refused, Millis{20});
  EXPECT_EQ(r.checker.probeRtt(0).samples(), 3U);
  for (const Outcome o : {Outcome::Timeout, Outcome::Network, Outcome::Tls}) {
    probe(o, Millis{400});
  }
  EXPECT_EQ(r.checker.probeRtt(0).samples(), 3U);
  EXPECT_EQ(r.checker.probeRtt(0).srtt(), Millis{20});
}

TEST(HealthCheckerTest, ProbeIdsAreUniqueAndIncreasing) {
  Rig r({3}, {FakeRandom::forUnit(0.3)});
  for (int i = 0; i < 200; ++i) {
    (void)r.checker.poll();
    for (const auto& s : r.sender.take()) {
      if (s.upstream != 2) {  // 2 never answers: given up on each time
        r.checker.onProbeResult(s.upstream, s.id, i % 3 == 0 ? Outcome::Timeout : Outcome::Ok,
                                Millis{3});
      }
    }
    r.clock.advance(std::max(Nanos{1}, r.checker.poll() - r.clock.now()));
  }
  ASSERT_GT(r.sender.sent.size(), 100U);
  EXPECT_EQ(r.checker.probesSent(), r.sender.sent.size());
  for (size_t i = 1; i < r.sender.sent.size(); ++i) {
    EXPECT_GT(r.sender.sent[i].id, r.sender.sent[i - 1].id);
  }
  EXPECT_GT(r.sender.countFor(2), 10U);
}

}  // namespace
}  // namespace steadfast::failover
