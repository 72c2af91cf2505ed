// SPDX-License-Identifier: Apache-2.0
// Kept-open stream connections: ID matching out of order, reconnect backoff on a fake clock,
// idle close, and the connection chooser under the per-upstream bound.
#include "resolver/upstream/stream_session.h"

#include <algorithm>
#include <array>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/fake_clock.h"
#include "tests/support/fake_random.h"

namespace steadfast::upstream {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(StreamIds, AnswersMatchedByIdInAnyOrder) {
  StreamIds ids(8);
  ASSERT_TRUE(ids.add(0x1111, 1));
  ASSERT_TRUE(ids.add(0x2222, 2));
  ASSERT_TRUE(ids.add(0x3333, 3));
  EXPECT_EQ(ids.take(0x3333), 3U);
  EXPECT_EQ(ids.take(0x1111), 1U);
  EXPECT_EQ(ids.size(), 1U);
  EXPECT_EQ(ids.take(0x2222), 2U);
  EXPECT_TRUE(ids.empty());
}

TEST(StreamIds, UnknownAndRepeatedIdsAreNotMatched) {
  StreamIds ids(4);
  ASSERT_TRUE(ids.add(7, 70));
  EXPECT_EQ(ids.take(8), std::nullopt);
  EXPECT_EQ(ids.take(7), 70U);
  EXPECT_EQ(ids.take(7), std::nullopt);  // a second answer with the same ID is a mismatch
}

TEST(StreamIds, IdInUseAndFullTableRefused) {
  StreamIds ids(2);
  ASSERT_TRUE(ids.add(5, 1));
  EXPECT_FALSE(ids.add(5, 2));
  ASSERT_TRUE(ids.add(6, 2));
  EXPECT_TRUE(ids.full());
  EXPECT_FALSE(ids.add(9, 3));
}

TEST(StreamIds, ForgetAndDrain) {
  StreamIds ids(4);
  ASSERT_TRUE(ids.add(1, 10));
  ASSERT_TRUE(ids.add(2, 20));
  ASSERT_TRUE(ids.add(3, 30));
  EXPECT_TRUE(ids.forget(20));
  EXPECT_FALSE(ids.forget(20));
  EXPECT_EQ(ids.take(2), std::nullopt);
  std::vector<uint64_t> left = ids.drain();
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<uint64_t>{10, 30}));
  EXPECT_TRUE(ids.empty());
}

TEST(ReconnectBackoff, DoublesUpToMaxAndResets) {
  test::FakeClock clock;
  test::FakeRandom random({test::FakeRandom::forUnit(0.0)});  // factor 0.5
  ReconnectBackoff b(clock, random, milliseconds{100}, seconds{1});
  EXPECT_TRUE(b.mayConnect());
  const MonoTime t0 = clock.now();
  b.onFailure();  // 100 ms * 0.5
  EXPECT_EQ(b.retryAt(), t0 + milliseconds{50});
  EXPECT_FALSE(b.mayConnect());
  clock.advance(milliseconds{49});
  EXPECT_FALSE(b.mayConnect());
  clock.advance(milliseconds{1});
  EXPECT_TRUE(b.mayConnect());
  b.onFailure();  // 200 ms * 0.5
  EXPECT_EQ(b.retryAt(), clock.now() + milliseconds{100});
  for (int i = 0; i < 20; ++i) {
    b.onFailure();
  }
  EXPECT_EQ(b.retryAt(), clock.now() + milliseconds{500});  // capped at 1 s * 0.5
  EXPECT_EQ(b.failures(), 22U);
  b.onSuccess();
  EXPECT_TRUE(b.mayConnect());
  EXPECT_EQ(b.failures(), 0U);
  b.onFailure();
  EXPECT_EQ(b.retryAt(), clock.now() + milliseconds{50});
}

TEST(ReconnectBackoff, JitterStaysBelowTheFullWait) {
  test::FakeClock clock;
  test::FakeRandom random({test::FakeRandom::forUnit(0.999)});
  ReconnectBackoff b(clock, random, milliseconds{100}, seconds{1});
  b.onFailure();
  EXPECT_LT(b.retryAt(), clock.now() + milliseconds{100});
  EXPECT_GT(b.retryAt(), clock.now() + milliseconds{99});
}

TEST(IdleClose, OnlyWithNothingInFlightAfterTheIdleTime) {
  test::FakeClock clock;
  const MonoTime last = clock.now();
  clock.advance(seconds{9});
  EXPECT_FALSE(shouldCloseIdle(clock.now(), last, 0, seconds{10}));
  clock.advance(seconds{1});
  EXPECT_TRUE(shouldCloseIdle(clock.now(), last, 0, seconds{10}));
  EXPECT_FALSE(shouldCloseIdle(clock.now(), last, 1, seconds{10}));
}

TEST(ChooseConnection, LeastLoadedReadyConnectionFirst) {
  const std::array<ConnView, 3> conns{ConnView{true, 5, 10}, ConnView{true, 2, 10},
                                      ConnView{false, 0, 10}};
  const Choice c = chooseConnection(conns, 4, true);
  EXPECT_EQ(c.kind, Choice::Kind::Use);
  EXPECT_EQ(c.index, 1U);
}

TEST(ChooseConnection, QueuesOnAConnectingOneBeforeOpeningAnother) {
  const std::array<ConnView, 2> conns{ConnView{true, 10, 10}, ConnView{false, 3, 10}};
  const Choice c = chooseConnection(conns, 4, true);
  EXPECT_EQ(c.kind, Choice::Kind::Wait);
  EXPECT_EQ(c.index, 1U);
}

TEST(ChooseConnection, OpensUnderTheBoundWhenBackoffAllows) {
  const std::array<ConnView, 1> full{ConnView{true, 10, 10}};
  EXPECT_EQ(chooseConnection(full, 2, true).kind, Choice::Kind::Open);
  EXPECT_EQ(chooseConnection(full, 2, false).kind, Choice::Kind::None);
  EXPECT_EQ(chooseConnection(full, 1, true).kind, Choice::Kind::None);
  EXPECT_EQ(chooseConnection({}, 1, true).kind, Choice::Kind::Open);
  EXPECT_EQ(chooseConnection({}, 1, false).kind, Choice::Kind::None);
}

}  // namespace
}  // namespace steadfast::upstream
