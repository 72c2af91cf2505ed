// SPDX-License-Identifier: Apache-2.0
// TopHits: counts, first/last seen, the bound on memory (Space-Saving replacement), and a
// concurrent reader that never sees a torn name (run under TSan by the integrator's preset).
#include "resolver/pipeline/top_hits.h"

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "resolver/wire/message.h"

namespace steadfast::pipeline {
namespace {

std::string wire(std::string_view text) {
  std::array<uint8_t, wire::kMaxNameWire> w{};
  size_t len = 0;
  EXPECT_TRUE(wire::nameFromText(text, w, len));
  return {reinterpret_cast<const char*>(w.data()), len};
}

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

const TopHits::WallTime kT0{std::chrono::seconds{1795000000}};

TEST(TopHits, CountsWithFirstAndLastSeen) {
  TopHits top;
  const std::string a = wire("evil.example.");
  const std::string b = wire("bad.example.");
  top.hit(bytes(a), kT0);
  top.hit(bytes(b), kT0 + std::chrono::seconds{1});
  top.hit(bytes(a), kT0 + std::chrono::seconds{5});
  const auto snap = top.snapshot();
  ASSERT_EQ(snap.size(), 2U);
  EXPECT_EQ(snap[0].name, a);
  EXPECT_EQ(snap[0].count, 2U);
  EXPECT_EQ(snap[0].error, 0U);
  EXPECT_EQ(snap[0].first_seen, kT0);
  EXPECT_EQ(snap[0].last_seen, kT0 + std::chrono::seconds{5});
  EXPECT_EQ(snap[1].name, b);
  EXPECT_EQ(snap[1].count, 1U);
}

TEST(TopHits, BoundedAndKeepsTheHeavyHitters) {
  TopHits top;
  const std::string heavy = wire("heavy.example.");
  for (int i = 0; i < 1000; ++i) {
    top.hit(bytes(wire("n" + std::to_string(i) + ".example.")), kT0);
    if (i % 4 == 0) {
      top.hit(bytes(heavy), kT0);
    }
  }
  const auto snap = top.snapshot();
  EXPECT_EQ(snap.size(), TopHits::kSlots);
  ASSERT_FALSE(snap.empty());
  EXPECT_EQ(snap[0].name, heavy);
  // Space-Saving: the count is never below the true 250, and over it by at most `error`.
  EXPECT_GE(snap[0].count, 250U);
  EXPECT_LE(snap[0].count - snap[0].error, 250U);
}

TEST(TopHits, LongestNameFits) {
  TopHits top;
  std::string name;
  for (int i = 0; i < 3; ++i) {
    name += "\x3f" + std::string(63, 'a');
  }
  name += "\x3d" + std::string(61, 'b') + std::string(1, '\0');
  ASSERT_EQ(name.size(), 255U);
  top.hit(bytes(name), kT0);
  const auto snap = top.snapshot();
  ASSERT_EQ(snap.size(), 1U);
  EXPECT_EQ(snap[0].name, name);
}

TEST(TopHits, ConcurrentReaderSeesWholeNames) {
  TopHits top;
  std::vector<std::string> names;
  for (int i = 0; i < 200; ++i) {
    names.push_back(wire("host" + std::to_string(i) + ".example."));
  }
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int round = 0; round < 200; ++round) {
      for (const auto& n : names) {
        top.hit(bytes(n), kT0);
      }
    }
    done.store(true);
  });
  size_t reads = 0;
  while (!done.load() || reads == 0) {
    for (const auto& e : top.snapshot()) {
      EXPECT_NE(std::find(names.begin(), names.end(), e.name), names.end());
    }
    ++reads;
  }
  writer.join();
}

}  // namespace
}  // namespace steadfast::pipeline
