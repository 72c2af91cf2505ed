// SPDX-License-Identifier: Apache-2.0
// A reload carries the plan's state over (HealthControl::attach): health per upstream, and the
// active tier, with every hold-down restarted so a reload never fails back by itself.
#include <gtest/gtest.h>

#include "failover/plan.h"
#include "tests/support/fake_clock.h"

namespace steadfast::failover {
namespace {

std::vector<PlanTier> twoTiers() {
  return {PlanTier{"primary", SelectionPolicyKind::Ordered, 1},
          PlanTier{"union", SelectionPolicyKind::Ordered, 1}};
}

TEST(PlanRestoreTest, HealthAndActiveTierSurviveAReload) {
  test::FakeClock clock;
  Plan old(twoTiers(), HealthThresholds{3, 3}, FailbackMode::Auto, Seconds{30}, clock);
  old.record(0, Outcome::Ok, Signal::Probe);  // the primary served, then went down
  for (int i = 0; i < 3; ++i) {
    old.record(0, Outcome::Timeout, Signal::Probe);
  }
  old.record(1, Outcome::Ok, Signal::Probe);
  ASSERT_EQ(old.activeTier(), 1);
  for (int i = 0; i < 3; ++i) {
    old.record(0, Outcome::Ok, Signal::Probe);  // primary back, in its hold-down
  }
  ASSERT_EQ(old.health(0).health(), Health::Healthy);
  ASSERT_EQ(old.activeTier(), 1);

  clock.advance(Seconds{20});
  Plan next(twoTiers(), HealthThresholds{2, 5}, FailbackMode::Auto, Seconds{30}, clock);
  EXPECT_EQ(next.activeTier(), 0) << "a fresh plan starts on the first tier";
  next.restoreHealth(0, old.health(0));
  next.restoreHealth(1, old.health(1));
  next.restoreActive(old.activeTier());
  EXPECT_EQ(next.activeTier(), 1) << "the reload must not fail back by itself";
  EXPECT_EQ(next.health(0).health(), Health::Healthy);
  EXPECT_EQ(next.health(0).thresholds().fall, 5U) << "the new plan's thresholds apply";
  clock.advance(Seconds{29});
  next.tick();
  EXPECT_EQ(next.activeTier(), 1) << "hold-down restarts at the reload";
  clock.advance(Seconds{1});
  next.tick();
  EXPECT_EQ(next.activeTier(), 0);
}

TEST(PlanRestoreTest, AnActiveTierThatIsGoneFallsToTheBestUsable) {
  test::FakeClock clock;
  Plan next(twoTiers(), HealthThresholds{3, 3}, FailbackMode::Auto, Seconds{30}, clock);
  HealthState down(HealthThresholds{3, 3});
  (void)down.record(Outcome::Timeout);
  next.restoreHealth(0, down);
  next.restoreActive(7);  // no such tier any more
  EXPECT_EQ(next.activeTier(), 1);
}

}  // namespace
}  // namespace steadfast::failover
