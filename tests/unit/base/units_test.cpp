// SPDX-License-Identifier: Apache-2.0
// Durations and sizes as the config file writes them (resolver/base/units.h).
#include "resolver/base/units.h"

#include <string>

#include <gtest/gtest.h>

namespace steadfast {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::minutes;

Nanos duration(const char* text) {
  auto r = parseDuration(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().detail);
  return r.ok() ? *r : Nanos{-1};
}

std::string durationError(const char* text) {
  auto r = parseDuration(text);
  EXPECT_FALSE(r.ok()) << text << " parsed as " << (r.ok() ? r->count() : 0);
  return r.ok() ? "" : r.error().detail;
}

uint64_t size(const char* text) {
  auto r = parseSize(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().detail);
  return r.ok() ? *r : 0;
}

std::string sizeError(const char* text) {
  auto r = parseSize(text);
  EXPECT_FALSE(r.ok()) << text << " parsed as " << (r.ok() ? *r : 0);
  return r.ok() ? "" : r.error().detail;
}

TEST(DurationTest, EveryUnit) {
  EXPECT_EQ(duration("7ns"), Nanos{7});
  EXPECT_EQ(duration("7us"), microseconds{7});
  EXPECT_EQ(duration("400ms"), Millis{400});
  EXPECT_EQ(duration("10s"), Seconds{10});
  EXPECT_EQ(duration("5m"), minutes{5});
  EXPECT_EQ(duration("2h"), hours{2});
  EXPECT_EQ(duration("1d"), days{1});
  EXPECT_EQ(duration("1w"), days{7});
  EXPECT_EQ(duration("0s"), Nanos{0});
  EXPECT_EQ(duration("0ms"), Nanos{0});
}

TEST(DurationTest, Combinations) {
  EXPECT_EQ(duration("1h30m"), minutes{90});
  EXPECT_EQ(duration("1s500ms"), Millis{1500});
  EXPECT_EQ(duration("1w2d3h4m5s6ms7us8ns"),
            days{9} + hours{3} + minutes{4} + Seconds{5} + Millis{6} + microseconds{7} + Nanos{8});
  EXPECT_EQ(duration("90m"), minutes{90});  // no carry required
}

TEST(DurationTest, Largest) {
  // 2^63 - 1 ns is about 292 years; 15250w fits, 15251w does not.
  EXPECT_EQ(duration("15250w"), days{15250 * 7});
  EXPECT_EQ(duration("9223372036854775807ns"), Nanos::max());
}

TEST(DurationTest, Errors) {
  EXPECT_NE(durationError("").find("empty"), std::string::npos);
  EXPECT_NE(durationError("5").find("needs a unit"), std::string::npos);
  EXPECT_NE(durationError("1h30").find("needs a unit"), std::string::npos);
  EXPECT_NE(durationError("400xs").find("unknown unit 'xs'"), std::string::npos);
  EXPECT_NE(durationError("5M").find("unknown unit 'M'"), std::string::npos);
  EXPECT_NE(durationError("5sec").find("unknown unit 'sec'"), std::string::npos);
  EXPECT_NE(durationError("-5s").find("sign"), std::string::npos);
  EXPECT_NE(durationError("+5s").find("sign"), std::string::npos);
  EXPECT_NE(durationError("1.5s").find("fractions"), std::string::npos);
  EXPECT_NE(durationError("5 s").find("spaces"), std::string::npos);
  EXPECT_NE(durationError(" 5s").find("spaces"), std::string::npos);
  EXPECT_NE(durationError("s").find("expected a digit"), std::string::npos);
  EXPECT_NE(durationError("30m1h").find("largest to smallest"), std::string::npos);
  EXPECT_NE(durationError("1m1m").find("largest to smallest"), std::string::npos);
}

TEST(DurationTest, Overflow) {
  EXPECT_NE(durationError("15251w").find("too large"), std::string::npos);
  EXPECT_NE(durationError("9223372036854775808ns").find("too large"), std::string::npos);
  EXPECT_NE(durationError("99999999999999999999999s").find("too large"), std::string::npos);
  EXPECT_NE(durationError("15250w9999d").find("too large"), std::string::npos);
}

TEST(DurationTest, Format) {
  EXPECT_EQ(formatDuration(Nanos{0}), "0s");
  EXPECT_EQ(formatDuration(Millis{400}), "400ms");
  EXPECT_EQ(formatDuration(minutes{5}), "5m");
  EXPECT_EQ(formatDuration(days{1}), "1d");
  EXPECT_EQ(formatDuration(minutes{90}), "1h30m");
  EXPECT_EQ(formatDuration(Millis{1500}), "1500ms");
  EXPECT_EQ(formatDuration(Millis{59999}), "59999ms");
  EXPECT_EQ(formatDuration(Millis{60500}), "1m500ms");
  EXPECT_EQ(formatDuration(Nanos{1000000001}), "1000000001ns");
  EXPECT_EQ(formatDuration(days{14}), "2w");
  EXPECT_EQ(formatDuration(Nanos{1}), "1ns");
  EXPECT_EQ(formatDuration(Nanos{-1500000}), "-1500us");
  EXPECT_EQ(formatDuration(Nanos::min()).front(), '-');
}

TEST(DurationTest, FormatRoundTrips) {
  for (const char* text :
       {"1w2d3h4m5s6ms7us8ns", "1h30m", "15250w", "1m1s1ns", "1500ms", "400ms"}) {
    EXPECT_EQ(formatDuration(duration(text)), text);
  }
}

TEST(SizeTest, EveryUnit) {
  EXPECT_EQ(size("512"), 512U);
  EXPECT_EQ(size("0"), 0U);
  EXPECT_EQ(size("512B"), 512U);
  EXPECT_EQ(size("2KB"), 2000U);
  EXPECT_EQ(size("2MB"), 2000000U);
  EXPECT_EQ(size("2GB"), 2000000000U);
  EXPECT_EQ(size("2TB"), 2000000000000U);
  EXPECT_EQ(size("64KiB"), 64U << 10U);
  EXPECT_EQ(size("128MiB"), 128U << 20U);
  EXPECT_EQ(size("2GiB"), uint64_t{2} << 30U);
  EXPECT_EQ(size("2TiB"), uint64_t{2} << 40U);
  EXPECT_EQ(size("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(size("16777215TiB"), uint64_t{16777215} << 40U);
}

TEST(SizeTest, Errors) {
  EXPECT_NE(sizeError("").find("empty"), std::string::npos);
  EXPECT_NE(sizeError("128mib").find("unknown unit 'mib'"), std::string::npos);
  EXPECT_NE(sizeError("128M").find("unknown unit 'M'"), std::string::npos);
  EXPECT_NE(sizeError("1.5GiB").find("fractions"), std::string::npos);
  EXPECT_NE(sizeError("-1").find("sign"), std::string::npos);
  EXPECT_NE(sizeError("128 MiB").find("spaces"), std::string::npos);
  EXPECT_NE(sizeError("MiB").find("expected a digit"), std::string::npos);
  EXPECT_NE(sizeError("18446744073709551616").find("too large"), std::string::npos);
  EXPECT_NE(sizeError("16777216TiB").find("too large"), std::string::npos);
  EXPECT_NE(sizeError("20000000TB").find("too large"), std::string::npos);
}

TEST(SizeTest, Format) {
  EXPECT_EQ(formatSize(0), "0B");
  EXPECT_EQ(formatSize(1000), "1000B");
  EXPECT_EQ(formatSize(1024), "1KiB");
  EXPECT_EQ(formatSize(uint64_t{128} << 20U), "128MiB");
  EXPECT_EQ(formatSize(uint64_t{1536} << 20U), "1536MiB");
  EXPECT_EQ(formatSize(uint64_t{3} << 40U), "3TiB");
  EXPECT_EQ(formatSize(1025), "1025B");
}

}  // namespace
}  // namespace steadfast
