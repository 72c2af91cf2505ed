// SPDX-License-Identifier: Apache-2.0
#include "resolver/recursion/budget.h"

#include <gtest/gtest.h>

#include "resolver/recursion/recursor.h"
#include "tests/support/fake_clock.h"

namespace steadfast::recursion {
namespace {

TEST(LastResortBudget, NoTierUsableGetsTheWholeBudgetFromNow) {
  test::FakeClock clock;
  const MonoTime started = clock.now();
  clock.advance(Millis{3});
  EXPECT_EQ(lastResortDeadline(LastResortReason::NoTierUsable, started, clock.now(), Millis{1500}),
            clock.now() + Millis{1500});
}

TEST(LastResortBudget, TiersFailedEarlyKeepsWhatIsLeft) {
  test::FakeClock clock;
  const MonoTime started = clock.now();
  clock.advance(Millis{200});  // every tier answered SERVFAIL quickly
  EXPECT_EQ(lastResortDeadline(LastResortReason::TiersFailed, started, clock.now(), Millis{1500}),
            started + Millis{1500});
}

TEST(LastResortBudget, TiersTimedOutGetAtLeastTheMinimum) {
  test::FakeClock clock;
  const MonoTime started = clock.now();
  clock.advance(Millis{1500});  // the budget is spent on tiers that timed out
  EXPECT_EQ(lastResortDeadline(LastResortReason::TiersFailed, started, clock.now(), Millis{1500}),
            clock.now() + kMinRecursionTime);
  clock.advance(Millis{1450});  // late: capped at one budget past the end
  EXPECT_EQ(lastResortDeadline(LastResortReason::TiersFailed, started, clock.now(), Millis{1500}),
            started + Millis{3000});
  clock.advance(Millis{500});  // past the cap: nothing left
  EXPECT_EQ(lastResortDeadline(LastResortReason::TiersFailed, started, clock.now(), Millis{1500}),
            clock.now());
}

TEST(LastResortBudget, SmallBudgetStillGetsTheMinimum) {
  test::FakeClock clock;
  const MonoTime started = clock.now();
  clock.advance(Millis{100});
  EXPECT_EQ(lastResortDeadline(LastResortReason::TiersFailed, started, clock.now(), Millis{100}),
            started + Millis{200});  // the cap (2x budget) wins over the minimum
}

TEST(FallbackOrder, StaleThenLastResortThenServfail) {
  EXPECT_EQ(firstFallback(true, true), FallbackStep::Stale);
  EXPECT_EQ(firstFallback(true, false), FallbackStep::Stale);
  EXPECT_EQ(firstFallback(false, true), FallbackStep::LastResort);
  EXPECT_EQ(firstFallback(false, false), FallbackStep::ServFail);
}

TEST(RootServers, AddressForms) {
  EXPECT_EQ(toUnboundAddress("127.0.0.1:5399"), "127.0.0.1@5399");
  EXPECT_EQ(toUnboundAddress("192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(toUnboundAddress("[::1]:5399"), "::1@5399");
  EXPECT_EQ(toUnboundAddress("::1"), "::1");
  EXPECT_EQ(toUnboundAddress("127.0.0.1:0"), "");
  EXPECT_EQ(toUnboundAddress("127.0.0.1:70000"), "");
  EXPECT_EQ(toUnboundAddress("127.0.0.1:x"), "");
  EXPECT_EQ(toUnboundAddress("[::1"), "");
  EXPECT_EQ(toUnboundAddress(":53"), "");
}

}  // namespace
}  // namespace steadfast::recursion
