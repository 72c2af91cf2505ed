// SPDX-License-Identifier: Apache-2.0
// RttEstimator (failover/rtt_estimator.h): RFC 6298 section 2 math, the lower bound
// atLeast(), the clamped hedge wait and the decaying ranking RTT.
#include "failover/rtt_estimator.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include <gtest/gtest.h>

namespace steadfast::failover {
namespace {

const MonoTime kT0 = MonoTime{} + std::chrono::hours{1000};

TEST(RttEstimatorTest, Unmeasured) {
  const RttEstimator e;
  EXPECT_FALSE(e.measured());
  EXPECT_EQ(e.samples(), 0U);
  EXPECT_EQ(e.srtt(), Nanos{0});
  EXPECT_EQ(e.rttvar(), Nanos{0});
  EXPECT_EQ(e.rankingRtt(kT0), Nanos{0});  // tried first, to measure it
  EXPECT_EQ(e.hedgeWait(HedgeBounds{}), Millis{100});
}

// RFC 6298 2.2: the first measurement sets SRTT <- R, RTTVAR <- R/2.
TEST(RttEstimatorTest, FirstSample) {
  RttEstimator e;
  e.sample(Millis{100}, kT0);
  EXPECT_TRUE(e.measured());
  EXPECT_EQ(e.samples(), 1U);
  EXPECT_EQ(e.srtt(), Millis{100});
  EXPECT_EQ(e.rttvar(), Millis{50});
  EXPECT_EQ(e.lastUpdate(), kT0);
}

// RFC 6298 2.3 with alpha = 1/8, beta = 1/4, RTTVAR updated with the old SRTT:
//   R=200: RTTVAR = 3/4*50 + 1/4*|100-200| = 62.5;  SRTT = 7/8*100 + 1/8*200 = 112.5
//   R=50:  RTTVAR = 3/4*62.5 + 1/4*|112.5-50| = 62.5; SRTT = 7/8*112.5 + 1/8*50 = 104.6875
TEST(RttEstimatorTest, FollowsRfc6298ForAFewSamples) {
  RttEstimator e;
  e.sample(Millis{100}, kT0);
  e.sample(Millis{200}, kT0 + Seconds{1});
  EXPECT_EQ(e.rttvar(), Nanos{62'500'000});
  EXPECT_EQ(e.srtt(), Nanos{112'500'000});
  e.sample(Millis{50}, kT0 + Seconds{2});
  EXPECT_EQ(e.rttvar(), Nanos{62'500'000});
  EXPECT_EQ(e.srtt(), Nanos{104'687'500});
  EXPECT_EQ(e.samples(), 3U);
  EXPECT_EQ(e.lastUpdate(), kT0 + Seconds{2});
  // RTO without the 1 s floor: SRTT + 4 * RTTVAR = 354.6875 ms, inside [50, 400] ms.
  EXPECT_EQ(e.hedgeWait(HedgeBounds{}), Nanos{354'687'500});
}

// A longer random series against the RFC's real-valued formulas: integer nanoseconds only
// truncate, so the estimator stays within a few nanoseconds.
TEST(RttEstimatorTest, MatchesRealValuedReference) {
  RttEstimator e;
  double srtt = 0;
  double rttvar = 0;
  uint64_t x = 12345;
  for (int i = 0; i < 500; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const auto r = static_cast<int64_t>((x >> 33U) % 300'000'000ULL);  // 0..300 ms
    const auto rd = static_cast<double>(r);
    if (i == 0) {
      srtt = rd;
      rttvar = rd / 2;
    } else {
      rttvar = 0.75 * rttvar + 0.25 * std::fabs(srtt - rd);
      srtt = 0.875 * srtt + 0.125 * rd;
    }
    e.sample(Nanos{r}, kT0);
    ASSERT_NEAR(static_cast<double>(e.srtt().count()), srtt, 20.0) << "sample " << i;
    ASSERT_NEAR(static_cast<double>(e.rttvar().count()), rttvar, 20.0) << "sample " << i;
  }
}

TEST(RttEstimatorTest, NegativeSampleCountsAsZero) {
  RttEstimator e;
  e.sample(Nanos{-5}, kT0);
  EXPECT_EQ(e.srtt(), Nanos{0});
  EXPECT_EQ(e.rttvar(), Nanos{0});
  EXPECT_TRUE(e.measured());
}

TEST(RttEstimatorTest, HedgeWaitFloor) {
  RttEstimator e;
  e.sample(Millis{1}, kT0);  // 1 + 4 * 0.5 = 3 ms
  EXPECT_EQ(e.hedgeWait(HedgeBounds{}), Millis{50});
}

TEST(RttEstimatorTest, HedgeWaitCeiling) {
  RttEstimator e;
  e.sample(Seconds{1}, kT0);  // 1 s + 4 * 0.5 s
  EXPECT_EQ(e.hedgeWait(HedgeBounds{}), Millis{400});
}

TEST(RttEstimatorTest, HedgeWaitInBetweenIsSrttPlusFourRttvar) {
  RttEstimator e;
  e.sample(Millis{60}, kT0);  // 60 + 4 * 30
  EXPECT_EQ(e.hedgeWait(HedgeBounds{}), Millis{180});
  e.sample(Millis{60}, kT0);  // rttvar 22.5, srtt 60
  EXPECT_EQ(e.hedgeWait(HedgeBounds{}), Millis{150});
  for (int i = 0; i < 200; ++i) {
    e.sample(Millis{60}, kT0);
  }
  // A steady upstream: rttvar tends to 0 and the wait to srtt itself.
  EXPECT_GE(e.hedgeWait(HedgeBounds{}), Millis{60});
  EXPECT_LT(e.hedgeWait(HedgeBounds{}), Millis{61});
  EXPECT_EQ(e.hedgeWait(HedgeBounds{}), e.srtt() + 4 * e.rttvar());
}

TEST(RttEstimatorTest, HedgeWaitCustomBounds) {
  const HedgeBounds b{Millis{10}, Millis{30}, Millis{20}};
  RttEstimator e;
  EXPECT_EQ(e.hedgeWait(b), Millis{20});  // unmeasured value
  e.sample(Millis{4}, kT0);               // 4 + 8 = 12
  EXPECT_EQ(e.hedgeWait(b), Millis{12});
  e.sample(Millis{100}, kT0);
  EXPECT_EQ(e.hedgeWait(b), Millis{30});
  // The unmeasured value is clamped to the bounds too.
  EXPECT_EQ(RttEstimator{}.hedgeWait(HedgeBounds{Millis{50}, Millis{400}, Millis{10}}), Millis{50});
  EXPECT_EQ(RttEstimator{}.hedgeWait(HedgeBounds{Millis{50}, Millis{400}, Seconds{1}}),
            Millis{400});
  // A ceiling below the floor: the floor wins, never an inverted clamp.
  EXPECT_EQ(e.hedgeWait(HedgeBounds{Millis{50}, Millis{10}, Millis{20}}), Millis{50});
  EXPECT_EQ(RttEstimator{}.hedgeWait(HedgeBounds{Millis{50}, Millis{10}, Millis{20}}), Millis{50});
}

TEST(RttEstimatorTest, AtLeastOnUnmeasuredIsAFirstSample) {
  RttEstimator e;
  e.atLeast(Millis{80}, kT0);
  EXPECT_EQ(e.samples(), 1U);
  EXPECT_EQ(e.srtt(), Millis{80});
  EXPECT_EQ(e.rttvar(), Millis{40});
}

TEST(RttEstimatorTest, AtLeastNeverLowers) {
  RttEstimator e;
  e.sample(Millis{100}, kT0);
  e.sample(Millis{100}, kT0);
  const RttEstimator before = e;
  e.atLeast(Millis{30}, kT0 + Seconds{5});
  e.atLeast(Millis{100}, kT0 + Seconds{5});  // equal: not below, no change either
  EXPECT_EQ(e.srtt(), before.srtt());
  EXPECT_EQ(e.rttvar(), before.rttvar());
  EXPECT_EQ(e.samples(), before.samples());
  EXPECT_EQ(e.lastUpdate(), before.lastUpdate());
}

TEST(RttEstimatorTest, AtLeastRaisesTowardsTheWait) {
  RttEstimator e;
  e.sample(Millis{20}, kT0);
  Nanos last = e.srtt();
  for (int i = 0; i < 100; ++i) {
    e.atLeast(Millis{300}, kT0 + Seconds{i});
    EXPECT_GT(e.srtt(), last) << i;
    EXPECT_LE(e.srtt(), Millis{300});
    last = e.srtt();
  }
  EXPECT_GT(e.srtt(), Millis{299});
  EXPECT_EQ(e.lastUpdate(), kT0 + Seconds{99});
  // A wait near the hedge wait (srtt + 4 * rttvar) lengthens the next wait.
  RttEstimator f;
  f.sample(Millis{20}, kT0);
  const Nanos wait = f.hedgeWait(HedgeBounds{});
  f.atLeast(Millis{60}, kT0);
  EXPECT_GT(f.hedgeWait(HedgeBounds{}), wait);
}

TEST(RttEstimatorTest, RankingRttDecaysWithAge) {
  RttEstimator e;
  e.sample(Millis{80}, kT0);
  EXPECT_EQ(e.rankingRtt(kT0), Millis{80});
  EXPECT_EQ(e.rankingRtt(kT0 - Seconds{1}), Millis{80});  // a clock before the update
  EXPECT_EQ(e.rankingRtt(kT0 + RttEstimator::kDecayHalfLife), Millis{40});
  EXPECT_EQ(e.rankingRtt(kT0 + 2 * RttEstimator::kDecayHalfLife), Millis{20});
  EXPECT_EQ(e.rankingRtt(kT0 + 3 * RttEstimator::kDecayHalfLife), Millis{10});
  const Nanos r = e.rankingRtt(kT0 + RttEstimator::kDecayHalfLife / 2);
  EXPECT_NEAR(static_cast<double>(r.count()), 80e6 / std::sqrt(2.0), 1.0);
  // Monotonically non-increasing.
  Nanos prev = e.rankingRtt(kT0);
  for (int ms = 0; ms < 120'000; ms += 250) {
    const Nanos cur = e.rankingRtt(kT0 + Millis{ms});
    EXPECT_LE(cur, prev);
    prev = cur;
  }
  // A fresh sample resets the age.
  e.sample(Millis{80}, kT0 + Seconds{60});
  EXPECT_EQ(e.rankingRtt(kT0 + Seconds{60}), Millis{80});
  // The srtt itself (what the hedge wait uses) never decays.
  EXPECT_EQ(e.srtt(), Millis{80});
}

}  // namespace
}  // namespace steadfast::failover
