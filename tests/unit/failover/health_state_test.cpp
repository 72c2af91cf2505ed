// SPDX-License-Identifier: Apache-2.0
// HealthState (failover/health_state.h): the first result decides, rise/fall hysteresis,
// no flapping under alternating outcomes, pending flags and the names used as metric labels.
#include "failover/health_state.h"

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace steadfast::failover {
namespace {

constexpr Outcome kFailures[] = {Outcome::Timeout, Outcome::Network,  Outcome::Tls,
                                 Outcome::Refused, Outcome::ServFail, Outcome::FormErr,
                                 Outcome::NotImp,  Outcome::Mismatch, Outcome::Malformed};

HealthState healthyState(HealthThresholds t) {
  HealthState s(t);
  EXPECT_EQ(s.record(Outcome::Ok), Transition::Changed);
  EXPECT_EQ(s.health(), Health::Healthy);
  return s;
}

HealthState unhealthyState(HealthThresholds t) {
  HealthState s(t);
  EXPECT_EQ(s.record(Outcome::Timeout), Transition::Changed);
  EXPECT_EQ(s.health(), Health::Unhealthy);
  return s;
}

TEST(HealthStateTest, StartsUnknownAndUsable) {
  const HealthState s;
  EXPECT_EQ(s.health(), Health::Unknown);
  EXPECT_TRUE(s.usable());
  EXPECT_FALSE(s.pending());
  EXPECT_EQ(s.consecutiveSuccesses(), 0U);
  EXPECT_EQ(s.consecutiveFailures(), 0U);
  EXPECT_EQ(s.thresholds().rise, 3U);
  EXPECT_EQ(s.thresholds().fall, 3U);
}

TEST(HealthStateTest, FirstSuccessDecidesHealthyAtOnce) {
  HealthState s(HealthThresholds{5, 5});
  EXPECT_EQ(s.record(Outcome::Ok), Transition::Changed);
  EXPECT_EQ(s.health(), Health::Healthy);
  EXPECT_TRUE(s.usable());
  EXPECT_FALSE(s.pending());
}

TEST(HealthStateTest, FirstFailureOfAnyKindDecidesUnhealthyAtOnce) {
  for (const Outcome o : kFailures) {
    SCOPED_TRACE(outcomeName(o));
    HealthState s(HealthThresholds{5, 5});
    EXPECT_EQ(s.record(o), Transition::Changed);
    EXPECT_EQ(s.health(), Health::Unhealthy);
    EXPECT_FALSE(s.usable());
    EXPECT_EQ(s.consecutiveFailures(), 1U);
  }
}

TEST(HealthStateTest, FallsAfterFallConsecutiveFailures) {
  for (uint32_t fall = 1; fall <= 6; ++fall) {
    SCOPED_TRACE(fall);
    HealthState s = healthyState(HealthThresholds{2, fall});
    for (uint32_t i = 1; i < fall; ++i) {
      EXPECT_EQ(s.record(Outcome::Timeout), Transition::ChangePending);
      EXPECT_EQ(s.health(), Health::Healthy);
      EXPECT_TRUE(s.usable());
      EXPECT_TRUE(s.pending());
      EXPECT_EQ(s.consecutiveFailures(), i);
    }
    EXPECT_EQ(s.record(Outcome::ServFail), Transition::Changed);
    EXPECT_EQ(s.health(), Health::Unhealthy);
    EXPECT_FALSE(s.pending());
  }
}

TEST(HealthStateTest, RisesAfterRiseConsecutiveSuccesses) {
  for (uint32_t rise = 1; rise <= 6; ++rise) {
    SCOPED_TRACE(rise);
    HealthState s = unhealthyState(HealthThresholds{rise, 2});
    for (uint32_t i = 1; i < rise; ++i) {
      EXPECT_EQ(s.record(Outcome::Ok), Transition::ChangePending);
      EXPECT_EQ(s.health(), Health::Unhealthy);
      EXPECT_FALSE(s.usable());
      EXPECT_TRUE(s.pending());
      EXPECT_EQ(s.consecutiveSuccesses(), i);
    }
    EXPECT_EQ(s.record(Outcome::Ok), Transition::Changed);
    EXPECT_EQ(s.health(), Health::Healthy);
    EXPECT_FALSE(s.pending());
  }
}

TEST(HealthStateTest, EveryOutcomeButOkCountsAsFailure) {
  HealthState s = healthyState(HealthThresholds{1, static_cast<uint32_t>(std::size(kFailures))});
  for (size_t i = 0; i + 1 < std::size(kFailures); ++i) {
    EXPECT_EQ(s.record(kFailures[i]), Transition::ChangePending);
  }
  EXPECT_EQ(s.record(kFailures[std::size(kFailures) - 1]), Transition::Changed);
  EXPECT_EQ(s.health(), Health::Unhealthy);
}

TEST(HealthStateTest, SettledOutcomesAreUnchanged) {
  HealthState up = healthyState(HealthThresholds{});
  EXPECT_EQ(up.record(Outcome::Ok), Transition::Unchanged);
  EXPECT_EQ(up.consecutiveSuccesses(), 2U);
  HealthState down = unhealthyState(HealthThresholds{});
  EXPECT_EQ(down.record(Outcome::Refused), Transition::Unchanged);
  EXPECT_EQ(down.consecutiveFailures(), 2U);
}

TEST(HealthStateTest, AnInterruptionRestartsTheCount) {
  HealthState s = healthyState(HealthThresholds{3, 3});
  EXPECT_EQ(s.record(Outcome::Timeout), Transition::ChangePending);
  EXPECT_EQ(s.record(Outcome::Timeout), Transition::ChangePending);
  EXPECT_EQ(s.record(Outcome::Ok), Transition::Unchanged);  // the count starts again
  EXPECT_FALSE(s.pending());
  EXPECT_EQ(s.record(Outcome::Timeout), Transition::ChangePending);
  EXPECT_EQ(s.record(Outcome::Timeout), Transition::ChangePending);
  EXPECT_EQ(s.health(), Health::Healthy);
  EXPECT_EQ(s.record(Outcome::Timeout), Transition::Changed);

  EXPECT_EQ(s.record(Outcome::Ok), Transition::ChangePending);
  EXPECT_EQ(s.record(Outcome::Ok), Transition::ChangePending);
  EXPECT_EQ(s.record(Outcome::Network), Transition::Unchanged);
  EXPECT_FALSE(s.pending());
  EXPECT_EQ(s.record(Outcome::Ok), Transition::ChangePending);
  EXPECT_EQ(s.record(Outcome::Ok), Transition::ChangePending);
  EXPECT_EQ(s.health(), Health::Unhealthy);
  EXPECT_EQ(s.record(Outcome::Ok), Transition::Changed);
}

// ok/fail alternating never moves a settled state when the threshold is 2 or more: each
// outcome resets the opposite count before it can reach the threshold.
TEST(HealthStateTest, AlternatingOutcomesNeverFlap) {
  for (uint32_t threshold = 2; threshold <= 5; ++threshold) {
    SCOPED_TRACE(threshold);
    HealthState up = healthyState(HealthThresholds{threshold, threshold});
    HealthState down = unhealthyState(HealthThresholds{threshold, threshold});
    // Strict alternation, each starting with the outcome that pushes towards a change.
    for (int i = 0; i < 2000; ++i) {
      const Outcome fail = kFailures[static_cast<size_t>(i / 2) % std::size(kFailures)];
      EXPECT_NE(up.record(i % 2 == 0 ? fail : Outcome::Ok), Transition::Changed) << i;
      EXPECT_NE(down.record(i % 2 == 0 ? Outcome::Ok : fail), Transition::Changed) << i;
      EXPECT_LE(up.consecutiveFailures(), 1U);
      EXPECT_LE(down.consecutiveSuccesses(), 1U);
    }
    EXPECT_EQ(up.health(), Health::Healthy);
    EXPECT_EQ(down.health(), Health::Unhealthy);
  }
}

// With threshold 1 every outcome decides, so alternation does flip it (documents why the
// configuration should keep fall and rise at 2 or more).
TEST(HealthStateTest, ThresholdOneFollowsEveryOutcome) {
  HealthState s = healthyState(HealthThresholds{1, 1});
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(s.record(Outcome::Timeout), Transition::Changed);
    EXPECT_EQ(s.health(), Health::Unhealthy);
    EXPECT_EQ(s.record(Outcome::Ok), Transition::Changed);
    EXPECT_EQ(s.health(), Health::Healthy);
  }
}

TEST(HealthStateTest, ZeroThresholdsAreRaisedToOne) {
  HealthState s(HealthThresholds{0, 0});
  EXPECT_EQ(s.thresholds().rise, 1U);
  EXPECT_EQ(s.thresholds().fall, 1U);
  EXPECT_EQ(s.record(Outcome::Ok), Transition::Changed);
  EXPECT_EQ(s.record(Outcome::Timeout), Transition::Changed);
  EXPECT_EQ(s.health(), Health::Unhealthy);
}

TEST(HealthStateTest, IsACopyableValue) {
  HealthState a = healthyState(HealthThresholds{2, 2});
  EXPECT_EQ(a.record(Outcome::Timeout), Transition::ChangePending);
  HealthState b = a;
  EXPECT_EQ(b.record(Outcome::Timeout), Transition::Changed);
  EXPECT_EQ(a.health(), Health::Healthy);  // the copy moved, not the original
  EXPECT_EQ(b.health(), Health::Unhealthy);
}

// A long random walk checked against a reference model of the documented rules.
TEST(HealthStateTest, MatchesReferenceModelOnLongSequences) {
  uint64_t x = 0x9E3779B97F4A7C15ULL;
  for (uint32_t rise = 1; rise <= 4; ++rise) {
    for (uint32_t fall = 1; fall <= 4; ++fall) {
      HealthState s(HealthThresholds{rise, fall});
      Health model = Health::Unknown;
      uint32_t ok = 0;
      uint32_t fail = 0;
      for (int i = 0; i < 2000; ++i) {
        x ^= x << 13U;
        x ^= x >> 7U;
        x ^= x << 17U;
        const bool success = (x >> 33U) % 3 != 0;
        const Outcome o = success ? Outcome::Ok : kFailures[(x >> 40U) % std::size(kFailures)];
        ok = success ? ok + 1 : 0;
        fail = success ? 0 : fail + 1;
        const Health before = model;
        if (model == Health::Unknown) {
          model = success ? Health::Healthy : Health::Unhealthy;
        } else if (model == Health::Healthy && fail >= fall) {
          model = Health::Unhealthy;
        } else if (model == Health::Unhealthy && ok >= rise) {
          model = Health::Healthy;
        }
        const Transition t = s.record(o);
        ASSERT_EQ(s.health(), model) << "step " << i << " rise " << rise << " fall " << fall;
        EXPECT_EQ(t == Transition::Changed, before != model);
        EXPECT_EQ(s.consecutiveSuccesses(), ok);
        EXPECT_EQ(s.consecutiveFailures(), fail);
      }
    }
  }
}

TEST(HealthStateTest, Names) {
  const std::vector<std::pair<Outcome, std::string_view>> names = {
      {Outcome::Ok, "ok"},
      {Outcome::Timeout, "timeout"},
      {Outcome::Network, "network"},
      {Outcome::Tls, "tls"},
      {Outcome::Refused, "refused"},
      {Outcome::ServFail, "servfail"},
      {Outcome::FormErr, "formerr"},
      {Outcome::NotImp, "notimp"},
      {Outcome::Mismatch, "mismatch"},
      {Outcome::Malformed, "malformed"},
  };
  ASSERT_EQ(names.size(), kOutcomes);
  for (const auto& [o, name] : names) {
    EXPECT_EQ(outcomeName(o), name);
  }
  EXPECT_EQ(outcomeName(Outcome::kCount), "unknown");
  EXPECT_EQ(healthName(Health::Unknown), "unknown");
  EXPECT_EQ(healthName(Health::Healthy), "healthy");
  EXPECT_EQ(healthName(Health::Unhealthy), "unhealthy");
}

}  // namespace
}  // namespace steadfast::failover
