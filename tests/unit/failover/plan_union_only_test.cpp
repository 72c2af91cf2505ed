// SPDX-License-Identifier: Apache-2.0
// Crisis mode union-only in the plan: only union tiers serve, then nothing (the last resort);
// back to auto, the usual failback rules apply (hold-down counted while excluded).
#include <gtest/gtest.h>

#include "failover/plan.h"
#include "tests/support/fake_clock.h"

namespace steadfast::failover {
namespace {

std::vector<PlanTier> tiers() {
  return {PlanTier{"primary", SelectionPolicyKind::Ordered, 1, false},
          PlanTier{"union", SelectionPolicyKind::Ordered, 1, true}};
}

TEST(PlanUnionOnlyTest, OnlyUnionTiersServeAndPrimaryIsMaskedInSnapshots) {
  test::FakeClock clock;
  Plan plan(tiers(), HealthThresholds{1, 1}, FailbackMode::Auto, Seconds{30}, clock);
  plan.record(0, Outcome::Ok, Signal::Probe);
  plan.record(1, Outcome::Ok, Signal::Probe);
  ASSERT_EQ(plan.activeTier(), 0);
  EXPECT_TRUE(plan.setUnionOnly(true));
  EXPECT_EQ(plan.activeTier(), 1);
  auto snap = plan.snapshot();
  EXPECT_EQ(snap.active_tier, 1);
  EXPECT_EQ(snap.usable[0], 0) << "no query may reach the primary in union-only";
  EXPECT_EQ(snap.usable[1], 1);
  EXPECT_EQ(plan.nextDeadline(), MonoTime::max()) << "no failback deadline to a non-union tier";
  clock.advance(Seconds{60});
  plan.tick();
  EXPECT_EQ(plan.activeTier(), 1);
  EXPECT_FALSE(plan.failback()) << "operator failback stays within the union tiers";
  EXPECT_EQ(plan.activeTier(), 1);
}

TEST(PlanUnionOnlyTest, UnionTierDownMeansLastResortNotPrimary) {
  test::FakeClock clock;
  Plan plan(tiers(), HealthThresholds{1, 1}, FailbackMode::Auto, Seconds{30}, clock);
  plan.record(0, Outcome::Ok, Signal::Probe);
  plan.record(1, Outcome::Ok, Signal::Probe);
  plan.setUnionOnly(true);
  plan.record(1, Outcome::Timeout, Signal::Probe);
  EXPECT_EQ(plan.activeTier(), -1) << "the last resort answers; the primary stays unused";
  plan.record(1, Outcome::Ok, Signal::Probe);
  EXPECT_EQ(plan.activeTier(), 1);
}

TEST(PlanUnionOnlyTest, BackToAutoFailsBackByTheUsualRules) {
  test::FakeClock clock;
  Plan plan(tiers(), HealthThresholds{1, 1}, FailbackMode::Auto, Seconds{30}, clock);
  plan.record(0, Outcome::Ok, Signal::Probe);
  plan.record(1, Outcome::Ok, Signal::Probe);
  plan.setUnionOnly(true);
  plan.record(0, Outcome::Timeout, Signal::Probe);  // primary dies and comes back while
  clock.advance(Seconds{5});                        // excluded: its hold-down counts anyway
  plan.record(0, Outcome::Ok, Signal::Probe);
  clock.advance(Seconds{10});
  EXPECT_FALSE(plan.setUnionOnly(false)) << "primary still in its hold-down";
  EXPECT_EQ(plan.activeTier(), 1);
  clock.advance(Seconds{20});
  plan.tick();
  EXPECT_EQ(plan.activeTier(), 0);

  Plan manual(tiers(), HealthThresholds{1, 1}, FailbackMode::Manual, Seconds{30}, clock);
  manual.record(0, Outcome::Ok, Signal::Probe);
  manual.record(1, Outcome::Ok, Signal::Probe);
  manual.setUnionOnly(true);
  clock.advance(Seconds{60});
  EXPECT_FALSE(manual.setUnionOnly(false)) << "failback = manual waits for the operator";
  EXPECT_TRUE(manual.failback());
  EXPECT_EQ(manual.activeTier(), 0);
}

}  // namespace
}  // namespace steadfast::failover
