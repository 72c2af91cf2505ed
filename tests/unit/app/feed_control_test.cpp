// SPDX-License-Identifier: Apache-2.0
// FeedSchedule (when each feed is due, by a fake clock), the names the guards protect, the
// config action names, and the file fetcher (unchanged detection, errors, the size cap).
#include "resolver/app/feed_control.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "resolver/app/feed_source.h"
#include "tests/support/fake_clock.h"

namespace steadfast::app {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

TEST(FeedSchedule, EachFeedOnItsOwnPeriod) {
  test::FakeClock clock;
  FeedSchedule s;
  s.reset({minutes{5}, minutes{1}}, clock.now());
  EXPECT_TRUE(s.due(clock.now()).empty());
  EXPECT_EQ(s.next(), clock.now() + minutes{1});
  clock.advance(minutes{1});
  EXPECT_EQ(s.due(clock.now()), std::vector<size_t>{1});
  s.done(1, clock.now());
  EXPECT_TRUE(s.due(clock.now()).empty());
  clock.advance(minutes{4});
  EXPECT_EQ(s.due(clock.now()), (std::vector<size_t>{0, 1}));
}

TEST(FeedSchedule, FailuresBackOffCappedByPeriodAndFiveMinutes) {
  test::FakeClock clock;
  FeedSchedule s;
  s.reset({minutes{60}, seconds{5}}, clock.now());
  s.failed(0, clock.now(), 1);
  EXPECT_EQ(s.next(), clock.now() + seconds{2});
  s.failed(0, clock.now(), 3);
  EXPECT_EQ(s.next(), clock.now() + seconds{5});  // feed 1 (period 5 s) is now first
  s.failed(1, clock.now(), 3);                    // 8 s capped by its 5 s period
  EXPECT_EQ(s.next(), clock.now() + seconds{5});
  s.reset({minutes{60}}, clock.now());
  s.failed(0, clock.now(), 3);
  EXPECT_EQ(s.next(), clock.now() + seconds{8});
  s.failed(0, clock.now(), 30);
  EXPECT_EQ(s.next(), clock.now() + minutes{5});
  s.done(0, clock.now());  // a success: the whole period again
  EXPECT_EQ(s.next(), clock.now() + minutes{60});
}

TEST(FeedSchedule, NoFeedsNeverDue) {
  FeedSchedule s;
  test::FakeClock clock;
  s.reset({}, clock.now());
  EXPECT_EQ(s.next(), MonoTime::max());
  EXPECT_TRUE(s.due(clock.now()).empty());
}

TEST(FeedControlHelpers, ProtectedNamesFromUpstreamsFeedsAndSinks) {
  Config c;
  failover::TierConfig tier;
  tier.name = "t";
  auto dot = failover::UpstreamUri::parse("tls://192.0.2.1:853#Dns.Example.Net");
  ASSERT_TRUE(dot) << dot.error().detail;
  tier.upstreams.push_back(*dot);
  c.plan.tiers.push_back(tier);
  FeedConfig f;
  f.source = "https://user@Feeds.Hub.Example:8443/list.txt";
  c.feeds.push_back(f);
  f.source = "axfr://192.0.2.10:53/rpz.hub";  // an address: nothing to protect
  c.feeds.push_back(f);
  report::SinkConfig sink;
  sink.url = "https://coordination.example/hooks";
  c.report.sinks.push_back(sink);
  const auto names = protectedNames(c);
  EXPECT_EQ(names, (std::vector<std::string>{"dns.example.net", "feeds.hub.example",
                                             "coordination.example"}));
}

TEST(FeedControlHelpers, ActionNames) {
  EXPECT_EQ(blockActionFromConfig("nxdomain"), wire::BlockAction::NxDomain);
  EXPECT_EQ(blockActionFromConfig("nodata"), wire::BlockAction::NoData);
  EXPECT_EQ(blockActionFromConfig("sinkhole"), wire::BlockAction::Sinkhole);
  EXPECT_EQ(blockActionFromConfig("drop"), wire::BlockAction::Drop);
  EXPECT_EQ(blockActionFromConfig(""), std::nullopt);
}

TEST(FileFetcher, ReadsReportsUnchangedAndErrors) {
  char dir[] = "/tmp/steadfast-fetch-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/list.txt";
  { std::ofstream(path) << "a.example\n"; }
  FileFetcher fetcher(path, 1024);
  auto first = fetcher.fetch("", false);
  ASSERT_TRUE(first) << first.error().detail;
  EXPECT_EQ(first->bytes, "a.example\n");
  EXPECT_FALSE(first->unchanged);
  auto again = fetcher.fetch(first->version, false);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->unchanged);
  EXPECT_TRUE(again->bytes.empty());
  auto forced = fetcher.fetch(first->version, true);
  ASSERT_TRUE(forced);
  EXPECT_FALSE(forced->unchanged);
  EXPECT_EQ(forced->bytes, "a.example\n");

  FileFetcher small(path, 4);
  auto big = small.fetch("", false);
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().detail.find("larger than the feed size limit"), std::string::npos);

  FileFetcher missing(std::string(dir) + "/none", 1024);
  auto none = missing.fetch("", false);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().detail.find("cannot read"), std::string::npos);
  FileFetcher directory(dir, 1024);
  EXPECT_FALSE(directory.fetch("", false));
  std::remove(path.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace steadfast::app
