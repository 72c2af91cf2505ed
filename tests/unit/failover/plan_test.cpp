// SPDX-License-Identifier: Apache-2.0
// Plan (failover/plan.h): the active tier, failover at once, failback after the hold-down
// (auto) or by the operator (manual), drain/undrain, passive demotion, and the snapshot the
// data path reads. FakeClock only: the hold-down is walked by hand.
#include "failover/plan.h"

#include <cstddef>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "failover/selection.h"
#include "tests/support/fake_clock.h"
#include "tests/unit/failover/failover_test_util.h"

namespace steadfast::failover {
namespace {

using test::HealthEvent;
using test::makeTiers;
using test::TierEvent;

constexpr Nanos kHoldDown = Seconds{30};

class PlanTest : public ::testing::Test {
 protected:
  Plan make(std::vector<size_t> sizes, FailbackMode mode = FailbackMode::Auto,
            HealthThresholds t = HealthThresholds{2, 2}) {
    return Plan(makeTiers(std::move(sizes)), t, mode, kHoldDown, clock_, &obs_);
  }
  /// Records outcomes until `u` is Healthy (fails the test if that takes over 100).
  static void up(Plan& p, size_t u, Signal s = Signal::Probe) {
    for (int i = 0; i < 100 && p.health(u).health() != Health::Healthy; ++i) {
      p.record(u, Outcome::Ok, s);
    }
    ASSERT_EQ(p.health(u).health(), Health::Healthy);
  }
  /// Takes `u` down as an upstream that was serving: an Unknown one is first made Healthy, so
  /// its tier is "proven" and owes the hold-down when it comes back (see NeverProven... below).
  static void down(Plan& p, size_t u, Outcome o = Outcome::Timeout, Signal s = Signal::Probe) {
    if (p.health(u).health() == Health::Unknown) {
      p.record(u, Outcome::Ok, s);
    }
    for (int i = 0; i < 100 && p.health(u).health() != Health::Unhealthy; ++i) {
      p.record(u, o, s);
    }
    ASSERT_EQ(p.health(u).health(), Health::Unhealthy);
  }
  static std::vector<uint16_t> candidates(const Plan& p) {
    const PlanSnapshot s = p.snapshot();
    CandidateList out;
    buildCandidates(s.view(), {}, MonoTime{}, SelectionDraw{}, out);
    return {out.upstream.begin(), out.upstream.begin() + static_cast<std::ptrdiff_t>(out.count)};
  }

  test::FakeClock clock_;
  test::RecordingObserver obs_;
};

TEST_F(PlanTest, StartsOnTheFirstTierWithEverythingUnknown) {
  Plan p = make({2, 3});
  EXPECT_EQ(p.activeTier(), 0);
  EXPECT_EQ(p.tierCount(), 2U);
  EXPECT_EQ(p.upstreamCount(), 5U);
  EXPECT_EQ(p.tierOf(1), 0U);
  EXPECT_EQ(p.tierOf(2), 1U);
  EXPECT_EQ(p.tier(1).name, "t1");
  EXPECT_TRUE(p.tierUsable(0));
  EXPECT_TRUE(p.tierUsable(1));
  EXPECT_FALSE(p.tierUsable(2));
  EXPECT_EQ(p.version(), 1U);
  EXPECT_EQ(p.nextDeadline(), MonoTime::max());
  const PlanSnapshot s = p.snapshot();
  EXPECT_EQ(s.version, 1U);
  EXPECT_EQ(s.active_tier, 0);
  EXPECT_TRUE(s.anyUsable());
  ASSERT_EQ(s.tiers.size(), 2U);
  EXPECT_EQ(s.tiers[0].first, 0);
  EXPECT_EQ(s.tiers[0].count, 2);
  EXPECT_EQ(s.tiers[1].first, 2);
  EXPECT_EQ(s.tiers[1].count, 3);
  EXPECT_EQ(s.usable, (std::vector<uint8_t>(5, 1)));
  EXPECT_EQ(s.drained, (std::vector<uint8_t>(5, 0)));
  EXPECT_EQ(s.health, (std::vector<Health>(5, Health::Unknown)));
  EXPECT_EQ(s.failovers, (std::vector<uint64_t>(4, 0)));
  EXPECT_TRUE(obs_.health.empty());
  EXPECT_TRUE(obs_.tiers.empty());
}

TEST_F(PlanTest, EmptyTiersAreNeverActive) {
  Plan p = make({0, 1});
  EXPECT_EQ(p.activeTier(), 1);
  EXPECT_FALSE(p.tierUsable(0));
  Plan none = make({});
  EXPECT_EQ(none.activeTier(), -1);
  EXPECT_FALSE(none.snapshot().anyUsable());
  none.tick();
  EXPECT_FALSE(none.failback());
}

TEST_F(PlanTest, FirstResultDecidesFromUnknown) {
  Plan p = make({2, 2});
  p.record(0, Outcome::Timeout, Signal::Probe);
  EXPECT_EQ(p.health(0).health(), Health::Unhealthy);
  EXPECT_EQ(obs_.health, (std::vector<HealthEvent>{{0, Health::Unknown, Health::Unhealthy,
                                                    Outcome::Timeout, Signal::Probe}}));
  EXPECT_EQ(p.activeTier(), 0);  // upstream 1 is still Unknown, so usable
  p.record(1, Outcome::Ok, Signal::Probe);
  EXPECT_EQ(p.health(1).health(), Health::Healthy);
  EXPECT_TRUE(obs_.tiers.empty());
}

TEST_F(PlanTest, FailsOverAtOnceWhenTheLastUsableUpstreamFalls) {
  Plan p = make({2, 2});
  up(p, 0);
  up(p, 1);
  const uint64_t v = p.version();
  p.record(0, Outcome::Timeout, Signal::Probe);  // pending only
  EXPECT_EQ(p.version(), v);
  EXPECT_EQ(p.health(0).health(), Health::Healthy);
  p.record(0, Outcome::Timeout, Signal::Probe);
  EXPECT_EQ(p.health(0).health(), Health::Unhealthy);
  EXPECT_GT(p.version(), v);
  EXPECT_EQ(p.activeTier(), 0);
  obs_.clear();
  down(p, 1);
  EXPECT_EQ(p.activeTier(), 1);
  EXPECT_EQ(obs_.tiers, (std::vector<TierEvent>{{0, 1, false}}));
  EXPECT_FALSE(p.tierUsable(0));
  const PlanSnapshot s = p.snapshot();
  EXPECT_EQ(s.active_tier, 1);
  EXPECT_EQ(s.usable, (std::vector<uint8_t>{0, 0, 1, 1}));
  EXPECT_EQ(s.health[0], Health::Unhealthy);
  EXPECT_EQ(s.failovers, (std::vector<uint64_t>{0, 1, 0, 0}));  // [0 * 2 + 1]
  // The data path asks the union tier first, then the unusable primary as a last hope.
  EXPECT_EQ(candidates(p), (std::vector<uint16_t>{2, 3, 0, 1}));
}

TEST_F(PlanTest, NoFailbackBeforeHoldDownAndRightAfter) {
  Plan p = make({1, 1});
  down(p, 0);
  ASSERT_EQ(p.activeTier(), 1);
  clock_.advance(Seconds{5});
  p.record(0, Outcome::Ok, Signal::Probe);  // 1 of rise 2: not usable yet
  EXPECT_FALSE(p.tierUsable(0));
  EXPECT_EQ(p.nextDeadline(), MonoTime::max());
  clock_.advance(Seconds{1});
  p.record(0, Outcome::Ok, Signal::Probe);
  const MonoTime usable_since = clock_.now();
  EXPECT_TRUE(p.tierUsable(0));
  EXPECT_EQ(p.activeTier(), 1);
  EXPECT_EQ(p.nextDeadline(), usable_since + kHoldDown);
  // Held down: both tiers are candidates, the active one first.
  EXPECT_EQ(candidates(p), (std::vector<uint16_t>{1, 0}));
  obs_.clear();
  clock_.advance(kHoldDown - Nanos{1});
  p.tick();
  EXPECT_EQ(p.activeTier(), 1);
  EXPECT_TRUE(obs_.tiers.empty());
  clock_.advance(Nanos{1});
  p.tick();
  EXPECT_EQ(p.activeTier(), 0);
  EXPECT_EQ(obs_.tiers, (std::vector<TierEvent>{{1, 0, true}}));
  EXPECT_EQ(p.nextDeadline(), MonoTime::max());
  EXPECT_EQ(p.snapshot().failovers, (std::vector<uint64_t>{0, 1, 1, 0}));
  EXPECT_EQ(candidates(p), (std::vector<uint16_t>{0, 1}));
}

TEST_F(PlanTest, NeverProvenTierOwesNoHoldDown) {
  // The primary's very first probe is lost (first result decides: Unhealthy). When it comes
  // up it has never served, so there is no flapping to damp: it serves at once.
  Plan p = make({1, 1});
  p.record(0, Outcome::Timeout, Signal::Probe);
  ASSERT_EQ(p.activeTier(), 1);
  clock_.advance(Seconds{2});
  up(p, 0);
  EXPECT_EQ(p.activeTier(), 0);
  // Once proven, the next time it goes down and back the hold-down applies.
  down(p, 0);
  ASSERT_EQ(p.activeTier(), 1);
  up(p, 0);
  EXPECT_EQ(p.activeTier(), 1);
  EXPECT_EQ(p.nextDeadline(), clock_.now() + kHoldDown);
}

TEST_F(PlanTest, HoldDownIsCheckedOnEveryChangeToo) {
  // The hold-down ends between ticks; the next record() that re-decides fails back.
  Plan p = make({1, 2});
  down(p, 0);
  up(p, 0);
  clock_.advance(kHoldDown + Seconds{1});
  EXPECT_EQ(p.activeTier(), 1);
  down(p, 1);  // a change elsewhere re-decides
  EXPECT_EQ(p.activeTier(), 0);
}

TEST_F(PlanTest, FlappingHigherTierRestartsTheHoldDown) {
  Plan p = make({1, 1});
  down(p, 0);
  up(p, 0);
  const MonoTime first = clock_.now();
  clock_.advance(Seconds{20});
  down(p, 0);  // breaks before its hold-down ended
  EXPECT_FALSE(p.tierUsable(0));
  EXPECT_EQ(p.nextDeadline(), MonoTime::max());
  clock_.advance(Seconds{5});
  up(p, 0);
  const MonoTime second = clock_.now();
  EXPECT_EQ(p.nextDeadline(), second + kHoldDown);
  clock_.advance(first + kHoldDown - clock_.now());
  p.tick();
  EXPECT_EQ(p.activeTier(), 1);  // the first hold-down would have ended here
  clock_.advance(second + kHoldDown - clock_.now() - Nanos{1});
  p.tick();
  EXPECT_EQ(p.activeTier(), 1);
  clock_.advance(Nanos{1});
  p.tick();
  EXPECT_EQ(p.activeTier(), 0);
}

// The hold-down is per tier: a tier that stays usable throughout (one upstream flapped, the
// other did not) keeps its original hold-down.
TEST_F(PlanTest, HoldDownCountsTierUsabilityNotSingleUpstreams) {
  Plan p = make({2, 1});
  down(p, 0);
  down(p, 1);
  ASSERT_EQ(p.activeTier(), 1);
  up(p, 0);
  up(p, 1);
  const MonoTime since = clock_.now();
  clock_.advance(Seconds{10});
  down(p, 0);
  EXPECT_TRUE(p.tierUsable(0));
  clock_.advance(since + kHoldDown - clock_.now());
  p.tick();
  EXPECT_EQ(p.activeTier(), 0);
  EXPECT_EQ(candidates(p), (std::vector<uint16_t>{1, 2, 0}));
}

TEST_F(PlanTest, WhenTheActiveTierDiesAHeldDownHigherTierTakesOverAtOnce) {
  Plan p = make({1, 1, 1});
  down(p, 0);
  down(p, 1);
  ASSERT_EQ(p.activeTier(), 2);
  up(p, 0);  // usable, held down
  EXPECT_EQ(p.activeTier(), 2);
  obs_.clear();
  clock_.advance(Seconds{1});
  down(p, 2);
  EXPECT_EQ(p.activeTier(), 0);  // waiting would fail queries
  EXPECT_EQ(obs_.tiers, (std::vector<TierEvent>{{2, 0, true}}));
}

// Tiers recover one after the other: each higher tier is failed back to as soon as its own
// hold-down ends, and the plan never reports a deadline that is already past.
TEST_F(PlanTest, StaggeredRecoveryFailsBackTierByTier) {
  Plan p = make({1, 1, 1});
  down(p, 0);
  down(p, 1);
  ASSERT_EQ(p.activeTier(), 2);
  clock_.advance(Seconds{1});
  up(p, 1);
  const MonoTime t1 = clock_.now();
  clock_.advance(Seconds{10});
  up(p, 0);
  const MonoTime t0 = clock_.now();
  EXPECT_EQ(p.nextDeadline(), t1 + kHoldDown);
  clock_.advance(t1 + kHoldDown - clock_.now());
  p.tick();
  EXPECT_EQ(p.activeTier(), 1);
  EXPECT_GT(p.nextDeadline(), clock_.now());
  EXPECT_EQ(p.nextDeadline(), t0 + kHoldDown);
  clock_.advance(t0 + kHoldDown - clock_.now());
  p.tick();
  EXPECT_EQ(p.activeTier(), 0);
  EXPECT_EQ(obs_.tiers,
            (std::vector<TierEvent>{{0, 1, false}, {1, 2, false}, {2, 1, true}, {1, 0, true}}));
}

TEST_F(PlanTest, ManualModeNeverFailsBackByItself) {
  Plan p = make({1, 1}, FailbackMode::Manual);
  down(p, 0);
  up(p, 0);
  EXPECT_EQ(p.nextDeadline(), MonoTime::max());
  for (int i = 0; i < 100; ++i) {
    clock_.advance(Seconds{60});
    p.tick();
    EXPECT_EQ(p.activeTier(), 1);
  }
  down(p, 1);  // a failover is still automatic
  EXPECT_EQ(p.activeTier(), 0);
  up(p, 1);
  down(p, 0);
  EXPECT_EQ(p.activeTier(), 1);
}

TEST_F(PlanTest, ManualFailbackMovesAtOnce) {
  Plan p = make({1, 1}, FailbackMode::Manual);
  EXPECT_FALSE(p.failback());  // already on the best tier
  down(p, 0);
  EXPECT_FALSE(p.failback());  // nothing better usable
  up(p, 0);
  obs_.clear();
  const uint64_t v = p.version();
  EXPECT_TRUE(p.failback());
  EXPECT_EQ(p.activeTier(), 0);
  EXPECT_GT(p.version(), v);
  EXPECT_EQ(obs_.tiers, (std::vector<TierEvent>{{1, 0, true}}));
  EXPECT_FALSE(p.failback());
}

TEST_F(PlanTest, OperatorFailbackSkipsTheHoldDownInAutoMode) {
  Plan p = make({1, 1});
  down(p, 0);
  up(p, 0);
  EXPECT_EQ(p.activeTier(), 1);
  EXPECT_TRUE(p.failback());
  EXPECT_EQ(p.activeTier(), 0);
}

TEST_F(PlanTest, OperatorFailbackGoesToTheBestUsableTier) {
  Plan p = make({1, 1, 1}, FailbackMode::Manual);
  down(p, 0);
  down(p, 1);
  ASSERT_EQ(p.activeTier(), 2);
  up(p, 1);
  EXPECT_TRUE(p.failback());
  EXPECT_EQ(p.activeTier(), 1);
}

TEST_F(PlanTest, NothingUsableMeansNoActiveTier) {
  Plan p = make({1, 1});
  down(p, 0);
  obs_.clear();
  down(p, 1);
  EXPECT_EQ(p.activeTier(), -1);
  EXPECT_EQ(obs_.tiers, (std::vector<TierEvent>{{1, -1, false}}));
  const PlanSnapshot s = p.snapshot();
  EXPECT_FALSE(s.anyUsable());
  EXPECT_EQ(s.failovers, (std::vector<uint64_t>{0, 1, 0, 0}));  // -1 is not counted
  // Fail-open: the data path still has something to try.
  EXPECT_EQ(candidates(p), (std::vector<uint16_t>{0, 1}));
  EXPECT_EQ(p.nextDeadline(), MonoTime::max());
  // The first tier to come back serves at once, hold-down or not, even the lower one.
  obs_.clear();
  up(p, 1);
  EXPECT_EQ(p.activeTier(), 1);
  EXPECT_EQ(obs_.tiers, (std::vector<TierEvent>{{-1, 1, false}}));
}

TEST_F(PlanTest, DrainExcludesAndMovesTheActiveTier) {
  Plan p = make({2, 1});
  up(p, 0);
  up(p, 1);
  obs_.clear();
  const uint64_t v = p.version();
  EXPECT_TRUE(p.drain(0, true));
  EXPECT_GT(p.version(), v);
  EXPECT_TRUE(p.drained(0));
  EXPECT_EQ(p.activeTier(), 0);
  EXPECT_EQ(candidates(p), (std::vector<uint16_t>{1, 2}));
  const uint64_t v2 = p.version();
  EXPECT_TRUE(p.drain(0, true));  // no change
  EXPECT_EQ(p.version(), v2);
  EXPECT_TRUE(p.drain(1, true));  // the last usable one of the active tier
  EXPECT_EQ(p.activeTier(), 1);
  EXPECT_EQ(obs_.tiers, (std::vector<TierEvent>{{0, 1, false}}));
  EXPECT_TRUE(obs_.health.empty());  // draining is not a health change
  const PlanSnapshot s = p.snapshot();
  EXPECT_EQ(s.drained, (std::vector<uint8_t>{1, 1, 0}));
  EXPECT_EQ(s.usable, (std::vector<uint8_t>{0, 0, 1}));
  EXPECT_EQ(s.health, (std::vector<Health>{Health::Healthy, Health::Healthy, Health::Unknown}));
  EXPECT_EQ(candidates(p), (std::vector<uint16_t>{2}));  // never the drained ones
  EXPECT_FALSE(p.drain(3, true));
  EXPECT_FALSE(p.drain(99, false));
  // Draining everything: no active tier and nothing to ask.
  EXPECT_TRUE(p.drain(2, true));
  EXPECT_EQ(p.activeTier(), -1);
  EXPECT_TRUE(candidates(p).empty());
}

TEST_F(PlanTest, DrainedUpstreamsKeepTheirHealth) {
  Plan p = make({1, 1});
  up(p, 0);
  ASSERT_TRUE(p.drain(0, true));
  down(p, 0);  // still probed while drained
  EXPECT_EQ(p.health(0).health(), Health::Unhealthy);
  up(p, 0);
  EXPECT_FALSE(p.tierUsable(0));
  EXPECT_EQ(p.activeTier(), 1);
}

TEST_F(PlanTest, UndrainFailsBackAfterTheHoldDown) {
  Plan p = make({1, 1});
  up(p, 0);
  ASSERT_TRUE(p.drain(0, true));
  ASSERT_EQ(p.activeTier(), 1);
  clock_.advance(Seconds{3});
  ASSERT_TRUE(p.drain(0, false));
  EXPECT_TRUE(p.tierUsable(0));
  EXPECT_EQ(p.activeTier(), 1);
  EXPECT_EQ(p.nextDeadline(), clock_.now() + kHoldDown);
  clock_.advance(kHoldDown);
  p.tick();
  EXPECT_EQ(p.activeTier(), 0);
}

TEST_F(PlanTest, UndrainInManualModeWaitsForTheOperator) {
  Plan p = make({1, 1}, FailbackMode::Manual);
  ASSERT_TRUE(p.drain(0, true));
  ASSERT_TRUE(p.drain(0, false));
  clock_.advance(kHoldDown * 10);
  p.tick();
  EXPECT_EQ(p.activeTier(), 1);
  EXPECT_TRUE(p.failback());
  EXPECT_EQ(p.activeTier(), 0);
}

TEST_F(PlanTest, PassiveDemotionFailsOver) {
  Plan p = make({2, 1}, FailbackMode::Auto, HealthThresholds{2, 3});
  up(p, 0);
  up(p, 1);
  obs_.clear();
  for (int i = 0; i < 2; ++i) {
    p.record(0, Outcome::ServFail, Signal::Passive);
    p.record(1, Outcome::Mismatch, Signal::Passive);
  }
  EXPECT_TRUE(obs_.health.empty());  // fall is 3
  EXPECT_EQ(p.health(0).consecutiveFailures(), 2U);
  p.record(0, Outcome::ServFail, Signal::Passive);
  EXPECT_EQ(obs_.health, (std::vector<HealthEvent>{{0, Health::Healthy, Health::Unhealthy,
                                                    Outcome::ServFail, Signal::Passive}}));
  EXPECT_EQ(p.activeTier(), 0);
  EXPECT_TRUE(obs_.tiers.empty());
  p.record(1, Outcome::Mismatch, Signal::Passive);
  EXPECT_EQ(obs_.health.size(), 2U);
  EXPECT_EQ(obs_.health[1], (HealthEvent{1, Health::Healthy, Health::Unhealthy, Outcome::Mismatch,
                                         Signal::Passive}));
  EXPECT_EQ(obs_.tiers, (std::vector<TierEvent>{{0, 1, false}}));
  EXPECT_EQ(p.activeTier(), 1);
  // Probe successes bring it back (rise 2), and the hold-down applies as usual.
  up(p, 0);
  EXPECT_EQ(obs_.health.back(),
            (HealthEvent{0, Health::Unhealthy, Health::Healthy, Outcome::Ok, Signal::Probe}));
  EXPECT_EQ(p.activeTier(), 1);
  clock_.advance(kHoldDown);
  p.tick();
  EXPECT_EQ(p.activeTier(), 0);
}

TEST_F(PlanTest, OutOfRangeRecordIsIgnored) {
  Plan p = make({1});
  const uint64_t v = p.version();
  p.record(1, Outcome::Timeout, Signal::Probe);
  p.record(1000, Outcome::Ok, Signal::Passive);
  EXPECT_EQ(p.version(), v);
  EXPECT_TRUE(obs_.health.empty());
}

TEST_F(PlanTest, WorksWithoutAnObserver) {
  Plan p(makeTiers({1, 1}), HealthThresholds{1, 1}, FailbackMode::Auto, Nanos{0}, clock_);
  p.record(0, Outcome::Timeout, Signal::Probe);
  EXPECT_EQ(p.activeTier(), 1);
  p.record(0, Outcome::Ok, Signal::Probe);
  EXPECT_EQ(p.activeTier(), 0);  // hold-down 0: at once
}

}  // namespace
}  // namespace steadfast::failover
