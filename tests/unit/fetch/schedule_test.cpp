// SPDX-License-Identifier: Apache-2.0
// Feed schedule on a FakeClock and FakeRandom: SOA refresh/retry, `refresh` overriding them,
// exponential backoff with its caps, jitter bounds, NOTIFY making the feed due at once.
#include "threatfeed/fetch/schedule.h"

#include <gtest/gtest.h>

#include "tests/support/fake_clock.h"
#include "tests/support/fake_random.h"

namespace steadfast::fetch {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using test::FakeClock;
using test::FakeRandom;

const SoaTimers kSoa{2026120201, 600, 60, 86400};

TEST(FeedSchedule, DueAtStartThenSoaRefresh) {
  FakeClock clock;
  FakeRandom rnd({FakeRandom::forUnit(0.5)});  // jitter factor 1.0
  FeedSchedule s(clock, rnd, {});
  EXPECT_TRUE(s.due());
  s.onSuccess(kSoa);
  EXPECT_EQ(s.nextAt() - clock.now(), seconds(600));
  clock.advance(seconds(599));
  EXPECT_FALSE(s.due());
  clock.advance(seconds(1));
  EXPECT_TRUE(s.due());
}

TEST(FeedSchedule, ConfiguredRefreshWins) {
  FakeClock clock;
  FakeRandom rnd({FakeRandom::forUnit(0.5)});
  ScheduleConfig cfg;
  cfg.refresh = minutes(2);
  FeedSchedule s(clock, rnd, cfg);
  s.onSuccess(kSoa);
  EXPECT_EQ(s.nextAt() - clock.now(), minutes(2));
  // Retries are capped by the configured refresh, not the SOA retry.
  EXPECT_EQ(s.backoffFor(20, kSoa), minutes(2));
}

TEST(FeedSchedule, NoSoaUsesDefaultAndFloorApplies) {
  FakeClock clock;
  FakeRandom rnd({FakeRandom::forUnit(0.5)});
  FeedSchedule s(clock, rnd, {});
  EXPECT_EQ(s.refreshFor(std::nullopt), minutes(5));
  EXPECT_EQ(s.refreshFor(SoaTimers{1, 1, 1, 1}), seconds(10));  // a hostile SOA refresh of 1 s
  EXPECT_EQ(s.backoffFor(10, SoaTimers{1, 1, 1, 1}), seconds(10));
}

TEST(FeedSchedule, BackoffDoublesToCapAndResets) {
  FakeClock clock;
  FakeRandom rnd({FakeRandom::forUnit(0.5)});
  FeedSchedule s(clock, rnd, {});
  const Nanos expected[] = {
      seconds(2),  seconds(4), seconds(8), seconds(16),
      seconds(32), minutes(1), minutes(1)};  // capped by the SOA retry of 60 s
  for (const Nanos e : expected) {
    s.onFailure(kSoa);
    EXPECT_EQ(s.nextAt() - clock.now(), e) << s.failures();
    clock.advance(e);
    EXPECT_TRUE(s.due());
  }
  EXPECT_EQ(s.failures(), 7U);
  // Unknown SOA (the primary was never reached): capped by max_backoff.
  EXPECT_EQ(s.backoffFor(30, std::nullopt), minutes(5));
  s.onSuccess(kSoa);
  EXPECT_EQ(s.failures(), 0U);
  s.onFailure(kSoa);
  EXPECT_EQ(s.nextAt() - clock.now(), seconds(2));
}

TEST(FeedSchedule, JitterWithinTwentyPercent) {
  FakeClock clock;
  FakeRandom lo({FakeRandom::forUnit(0.0)});
  FakeRandom hi({FakeRandom::forUnit(0.999999)});
  FeedSchedule a(clock, lo, {});
  FeedSchedule b(clock, hi, {});
  a.onSuccess(kSoa);
  b.onSuccess(kSoa);
  EXPECT_EQ(a.nextAt() - clock.now(), seconds(480));
  EXPECT_GE(b.nextAt() - clock.now(), seconds(719));
  EXPECT_LT(b.nextAt() - clock.now(), seconds(720));
}

TEST(FeedSchedule, NotifyMakesDueNow) {
  FakeClock clock;
  FakeRandom rnd({FakeRandom::forUnit(0.5)});
  FeedSchedule s(clock, rnd, {});
  s.onSuccess(kSoa);
  clock.advance(seconds(30));
  EXPECT_FALSE(s.due());
  s.refreshNow();
  EXPECT_TRUE(s.due());
}

}  // namespace
}  // namespace steadfast::fetch
