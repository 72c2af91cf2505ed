// SPDX-License-Identifier: Apache-2.0
// Selection (failover/selection.h): rankTier's three policies, the epsilon-greedy
// exploration of `fastest`, the decay that re-measures a slow upstream, and the candidate
// order of buildCandidates (tiers, per-tier cap, drained and unusable upstreams).
#include "failover/selection.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "resolver/base/random.h"
#include "tests/support/fake_random.h"

namespace steadfast::failover {
namespace {

using test::FakeRandom;

const MonoTime kT0 = MonoTime{} + std::chrono::hours{1000};

std::vector<RankEntry> entries(std::initializer_list<int> rtt_ms) {
  std::vector<RankEntry> out;
  uint16_t u = 0;
  for (const int ms : rtt_ms) {
    out.push_back(RankEntry{u++, Millis{ms}});
  }
  return out;
}

std::vector<uint16_t> ids(const std::vector<RankEntry>& e) {
  std::vector<uint16_t> out;
  for (const RankEntry& r : e) {
    out.push_back(r.upstream);
  }
  return out;
}

std::vector<uint16_t> ranked(SelectionPolicyKind p, std::vector<RankEntry> e, uint64_t rotation,
                             double explore, uint64_t pick) {
  rankTier(p, e, rotation, explore, pick);
  return ids(e);
}

std::vector<uint16_t> list(const CandidateList& c) {
  return {c.upstream.begin(), c.upstream.begin() + static_cast<ptrdiff_t>(c.count)};
}

TEST(RankTierTest, OrderedKeepsConfigOrder) {
  EXPECT_EQ(ranked(SelectionPolicyKind::Ordered, entries({30, 10, 20}), 7, 0.0, 1),
            (std::vector<uint16_t>{0, 1, 2}));
}

TEST(RankTierTest, RoundRobinRotates) {
  const auto e = entries({0, 0, 0});
  EXPECT_EQ(ranked(SelectionPolicyKind::RoundRobin, e, 0, 1.0, 0),
            (std::vector<uint16_t>{0, 1, 2}));
  EXPECT_EQ(ranked(SelectionPolicyKind::RoundRobin, e, 1, 1.0, 0),
            (std::vector<uint16_t>{1, 2, 0}));
  EXPECT_EQ(ranked(SelectionPolicyKind::RoundRobin, e, 2, 1.0, 0),
            (std::vector<uint16_t>{2, 0, 1}));
  EXPECT_EQ(ranked(SelectionPolicyKind::RoundRobin, e, 4, 1.0, 0),
            (std::vector<uint16_t>{1, 2, 0}));
  EXPECT_EQ(ranked(SelectionPolicyKind::RoundRobin, e, UINT64_MAX, 1.0, 0),
            (std::vector<uint16_t>{0, 1, 2}));  // 2^64-1 % 3 == 0
  // Successive rotations spread the first choice evenly.
  std::vector<int> first(3, 0);
  for (uint64_t r = 0; r < 300; ++r) {
    ++first[ranked(SelectionPolicyKind::RoundRobin, e, r, 1.0, 0)[0]];
  }
  EXPECT_EQ(first, (std::vector<int>{100, 100, 100}));
}

TEST(RankTierTest, FastestSortsByRttStably) {
  EXPECT_EQ(ranked(SelectionPolicyKind::Fastest, entries({30, 10, 20, 10, 0}), 0, 1.0, 0),
            (std::vector<uint16_t>{4, 1, 3, 2, 0}));
  // Rotation means nothing to `fastest`.
  EXPECT_EQ(ranked(SelectionPolicyKind::Fastest, entries({30, 10, 20}), 5, 1.0, 0),
            (std::vector<uint16_t>{1, 2, 0}));
}

TEST(RankTierTest, FastestExploresBelowTheShare) {
  // A draw just below kExploreShare explores: entry 1 + pick % (n - 1) of the sorted order
  // moves to the front, the rest keep their order.
  FakeRandom below({FakeRandom::forUnit(kExploreShare - 0.001), 2});
  const double explore = below.unit();
  const uint64_t pick = below.next64();
  EXPECT_LT(explore, kExploreShare);
  // sorted: 1 (10), 2 (20), 3 (25), 0 (30); 1 + 2 % 3 = 3: upstream 0 goes first.
  EXPECT_EQ(ranked(SelectionPolicyKind::Fastest, entries({30, 10, 20, 25}), 0, explore, pick),
            (std::vector<uint16_t>{0, 1, 2, 3}));
  EXPECT_EQ(ranked(SelectionPolicyKind::Fastest, entries({30, 10, 20, 25}), 0, explore, 0),
            (std::vector<uint16_t>{2, 1, 3, 0}));
  // Never the fastest itself: the front changes for every pick.
  for (uint64_t p = 0; p < 20; ++p) {
    const auto r = ranked(SelectionPolicyKind::Fastest, entries({30, 10, 20, 25}), 0, 0.0, p);
    EXPECT_NE(r[0], 1) << p;
  }
  // Two entries: exploring swaps them.
  EXPECT_EQ(ranked(SelectionPolicyKind::Fastest, entries({10, 20}), 0, 0.0, 12345),
            (std::vector<uint16_t>{1, 0}));
}

TEST(RankTierTest, FastestDoesNotExploreAtOrAboveTheShare) {
  // The boundary itself does not explore (`explore` < kExploreShare does).
  EXPECT_EQ(ranked(SelectionPolicyKind::Fastest, entries({30, 10, 20, 25}), 0, kExploreShare, 2),
            (std::vector<uint16_t>{1, 2, 3, 0}));
  for (const double u : {kExploreShare + 1e-9, kExploreShare + 0.001, 0.5, 0.999999}) {
    FakeRandom above({FakeRandom::forUnit(u), 2});
    const double explore = above.unit();
    const uint64_t pick = above.next64();
    EXPECT_GE(explore, kExploreShare);
    EXPECT_EQ(ranked(SelectionPolicyKind::Fastest, entries({30, 10, 20, 25}), 0, explore, pick),
              (std::vector<uint16_t>{1, 2, 3, 0}))
        << u;
  }
}

TEST(RankTierTest, FastestExploresAboutFivePercentOfQueries) {
  FastRandom random(42);
  constexpr int kQueries = 200'000;
  int explored = 0;
  std::vector<int> picked(4, 0);
  for (int i = 0; i < kQueries; ++i) {
    const double explore = random.unit();
    const uint64_t pick = random.next64();
    const auto r =
        ranked(SelectionPolicyKind::Fastest, entries({30, 10, 20, 25}), 0, explore, pick);
    if (r[0] != 1) {
      ++explored;
      ++picked[r[0]];
    }
  }
  const double share = static_cast<double>(explored) / kQueries;
  EXPECT_NEAR(share, kExploreShare, 0.003);
  EXPECT_EQ(picked[1], 0);
  // Each slower upstream gets its turn.
  for (const size_t u : {0U, 2U, 3U}) {
    EXPECT_NEAR(static_cast<double>(picked[u]) / explored, 1.0 / 3, 0.03) << u;
  }
}

TEST(RankTierTest, SmallTiersAreLeftAlone) {
  std::vector<RankEntry> none;
  rankTier(SelectionPolicyKind::Fastest, none, 3, 0.0, 1);
  EXPECT_TRUE(none.empty());
  for (const auto p : {SelectionPolicyKind::Ordered, SelectionPolicyKind::RoundRobin,
                       SelectionPolicyKind::Fastest}) {
    EXPECT_EQ(ranked(p, entries({50}), 3, 0.0, 7), (std::vector<uint16_t>{0}));
  }
}

TEST(RankTierTest, ReportsWhetherFastestExplored) {
  auto e = entries({30, 10, 20});
  EXPECT_FALSE(rankTier(SelectionPolicyKind::Ordered, e, 0, 0.0, 1));
  EXPECT_FALSE(rankTier(SelectionPolicyKind::RoundRobin, e, 1, 0.0, 1));
  e = entries({30, 10, 20});
  EXPECT_FALSE(rankTier(SelectionPolicyKind::Fastest, e, 0, 1.0, 1));
  EXPECT_TRUE(rankTier(SelectionPolicyKind::Fastest, e, 0, 0.0, 1));
  // An unmeasured entry (rtt 0) put before a measured one is there to be measured.
  e = entries({30, 0, 20});
  EXPECT_TRUE(rankTier(SelectionPolicyKind::Fastest, e, 0, 1.0, 0));
  EXPECT_EQ(ids(e), (std::vector<uint16_t>{1, 2, 0}));
  e = entries({0, 0});  // nothing measured: nothing to compare with
  EXPECT_FALSE(rankTier(SelectionPolicyKind::Fastest, e, 0, 1.0, 0));
  e = entries({30});
  EXPECT_FALSE(rankTier(SelectionPolicyKind::Fastest, e, 0, 0.0, 0));
}

// Property: whatever the policy, size, rotation and draws, the result is a permutation.
TEST(RankTierTest, AlwaysAPermutation) {
  FastRandom random(7);
  for (const auto p : {SelectionPolicyKind::Ordered, SelectionPolicyKind::RoundRobin,
                       SelectionPolicyKind::Fastest}) {
    for (size_t n = 0; n <= 2 * kMaxCandidates + 1; ++n) {
      for (uint64_t rotation :
           {uint64_t{0}, uint64_t{1}, uint64_t{n}, uint64_t{n + 1}, uint64_t{977}, UINT64_MAX}) {
        for (const double explore : {0.0, 0.01, kExploreShare - 1e-9, kExploreShare, 0.5}) {
          std::vector<RankEntry> e(n);
          for (size_t i = 0; i < n; ++i) {
            e[i].upstream = static_cast<uint16_t>(100 + i);
            e[i].rtt = Nanos{static_cast<int64_t>(random.next64() % 5)};  // many ties
          }
          const std::vector<RankEntry> before = e;
          rankTier(p, e, rotation, explore, random.next64());
          ASSERT_TRUE(std::is_permutation(e.begin(), e.end(), before.begin(), before.end(),
                                          [](const RankEntry& a, const RankEntry& b) {
                                            return a.upstream == b.upstream && a.rtt == b.rtt;
                                          }))
              << "policy " << static_cast<int>(p) << " n " << n << " rotation " << rotation;
          if (p == SelectionPolicyKind::Fastest && explore >= kExploreShare) {
            ASSERT_TRUE(std::is_sorted(e.begin(), e.end(),
                                       [](const auto& a, const auto& b) { return a.rtt < b.rtt; }));
          }
        }
      }
    }
  }
}

// ---- buildCandidates ----

struct View {
  std::vector<TierLayout> tiers;
  std::vector<uint8_t> usable;
  std::vector<uint8_t> drained;
  int active = 0;

  View() = default;
  explicit View(std::initializer_list<uint16_t> sizes,
                SelectionPolicyKind p = SelectionPolicyKind::Ordered) {
    uint16_t first = 0;
    for (const uint16_t n : sizes) {
      tiers.push_back(TierLayout{first, n, p});
      first = static_cast<uint16_t>(first + n);
    }
    usable.assign(first, 1);
    drained.assign(first, 0);
  }
  [[nodiscard]] SelectionView view() const { return SelectionView{tiers, usable, drained, active}; }
  void down(std::initializer_list<uint16_t> us) {
    for (const uint16_t u : us) {
      usable[u] = 0;
    }
  }
  void drain(std::initializer_list<uint16_t> us) {
    for (const uint16_t u : us) {
      usable[u] = 0;
      drained[u] = 1;
    }
  }
};

std::vector<uint16_t> candidates(const View& v, std::span<const RttEstimator> rtt = {},
                                 MonoTime now = kT0, SelectionDraw draw = {}) {
  CandidateList out;
  out.count = 99;  // reset by buildCandidates
  buildCandidates(v.view(), rtt, now, draw, out);
  return list(out);
}

TEST(BuildCandidatesTest, ActiveTierFirstThenFollowingTiers) {
  View v({2, 2, 2});
  EXPECT_EQ(candidates(v), (std::vector<uint16_t>{0, 1, 2, 3, 4, 5}));
}

TEST(BuildCandidatesTest, HeldDownTiersComeAfterTheFollowingOnes) {
  // Tier 0 usable again but still in its hold-down: active tier 1, then tier 2, then 0.
  View v({2, 2, 2});
  v.active = 1;
  EXPECT_EQ(candidates(v), (std::vector<uint16_t>{2, 3, 4, 5, 0, 1}));
  v.active = 2;
  EXPECT_EQ(candidates(v), (std::vector<uint16_t>{4, 5, 0, 1, 2, 3}));
}

TEST(BuildCandidatesTest, UnusableUpstreamsComeLastInTierOrder) {
  View v({2, 2, 2});
  v.down({0, 1, 3, 5});
  v.active = 1;
  EXPECT_EQ(candidates(v), (std::vector<uint16_t>{2, 4, 0, 1, 3, 5}));
}

TEST(BuildCandidatesTest, PerTierCapLetsTheUnionTierIn) {
  // 8 upstreams in the primary tier: only 4 of them, so the union tier is reached by the
  // fifth candidate.
  View v({8, 2});
  const auto c = candidates(v);
  EXPECT_EQ(c, (std::vector<uint16_t>{0, 1, 2, 3, 8, 9}));
  ASSERT_GE(c.size(), 5U);
  EXPECT_GE(c[4], 8);
  // Unusable upstreams of a full tier do not get in either.
  v.down({5, 6, 7});
  EXPECT_EQ(candidates(v), (std::vector<uint16_t>{0, 1, 2, 3, 8, 9}));
  // With fewer usable ones the unusable ones fill the tier's share, after all usable ones.
  v.down({1, 2, 3});
  EXPECT_EQ(candidates(v), (std::vector<uint16_t>{0, 4, 8, 9, 1, 2}));
}

TEST(BuildCandidatesTest, TotalCapIsTwelve) {
  View v({5, 5, 5, 5});
  const auto c = candidates(v);
  EXPECT_EQ(c, (std::vector<uint16_t>{0, 1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 13}));
  EXPECT_EQ(c.size(), kMaxCandidates);
  v.active = 3;
  EXPECT_EQ(candidates(v), (std::vector<uint16_t>{15, 16, 17, 18, 0, 1, 2, 3, 5, 6, 7, 8}));
}

TEST(BuildCandidatesTest, DrainedAreNeverAsked) {
  View v({3, 2});
  v.drain({0, 4});
  v.down({2});
  EXPECT_EQ(candidates(v), (std::vector<uint16_t>{1, 3, 2}));
  v.drain({1, 2, 3});
  EXPECT_TRUE(candidates(v).empty());
}

TEST(BuildCandidatesTest, NoActiveTierListsUnusableOnesFailOpen) {
  View v({2, 3});
  v.down({0, 1, 2, 3, 4});
  v.active = -1;
  EXPECT_EQ(candidates(v), (std::vector<uint16_t>{0, 1, 2, 3, 4}));
  v.drain({3});
  EXPECT_EQ(candidates(v), (std::vector<uint16_t>{0, 1, 2, 4}));
  // An out-of-range active tier is treated as none.
  v.active = 7;
  EXPECT_EQ(candidates(v), (std::vector<uint16_t>{0, 1, 2, 4}));
}

TEST(BuildCandidatesTest, PolicyAppliesPerTier) {
  View v({3, 3}, SelectionPolicyKind::RoundRobin);
  SelectionDraw d;
  d.rotation = 1;
  EXPECT_EQ(candidates(v, {}, kT0, d), (std::vector<uint16_t>{1, 2, 0, 4, 5, 3}));
  // Round-robin rotates only among the usable ones.
  v.down({1});
  EXPECT_EQ(candidates(v, {}, kT0, d), (std::vector<uint16_t>{2, 0, 4, 5, 3, 1}));
}

TEST(BuildCandidatesTest, FastestUsesTheCallersEstimators) {
  View v({3, 1}, SelectionPolicyKind::Fastest);
  std::vector<RttEstimator> rtt(4);
  rtt[0].sample(Millis{30}, kT0);
  rtt[1].sample(Millis{10}, kT0);
  rtt[2].sample(Millis{20}, kT0);
  EXPECT_EQ(candidates(v, rtt), (std::vector<uint16_t>{1, 2, 0, 3}));
  // An unmeasured upstream is tried first, to measure it.
  rtt[2] = RttEstimator{};
  EXPECT_EQ(candidates(v, rtt), (std::vector<uint16_t>{2, 1, 0, 3}));
  // Fewer estimators than upstreams: the missing ones rank as unmeasured.
  EXPECT_EQ(candidates(v, std::span<const RttEstimator>(rtt.data(), 1)),
            (std::vector<uint16_t>{1, 2, 0, 3}));
  // Exploring moves another one of the tier to the front.
  SelectionDraw explore;
  explore.explore = 0.0;
  explore.pick = 1;  // the third of the sorted order (1 + 1 % 2)
  rtt[2].sample(Millis{20}, kT0);
  EXPECT_EQ(candidates(v, rtt, kT0, explore), (std::vector<uint16_t>{0, 1, 2, 3}));
}

TEST(BuildCandidatesTest, ExploredOnlyWhenTheFirstCandidateIsThereToBeMeasured) {
  View v({2, 2}, SelectionPolicyKind::Fastest);
  std::vector<RttEstimator> rtt(4);
  for (size_t u = 0; u < 4; ++u) {
    rtt[u].sample(Millis{static_cast<int64_t>(10 * (u + 1))}, kT0);
  }
  CandidateList out;
  out.explored = true;
  buildCandidates(v.view(), rtt, kT0, SelectionDraw{0, 1.0, 0}, out);
  EXPECT_FALSE(out.explored);  // reset
  EXPECT_EQ(list(out), (std::vector<uint16_t>{0, 1, 2, 3}));
  buildCandidates(v.view(), rtt, kT0, SelectionDraw{0, 0.0, 0}, out);
  EXPECT_TRUE(out.explored);
  EXPECT_EQ(list(out), (std::vector<uint16_t>{1, 0, 3, 2}));
  // A later tier exploring does not make the first candidate an exploration.
  v.tiers[0].policy = SelectionPolicyKind::Ordered;
  buildCandidates(v.view(), rtt, kT0, SelectionDraw{0, 0.0, 0}, out);
  EXPECT_FALSE(out.explored);
  EXPECT_EQ(list(out), (std::vector<uint16_t>{0, 1, 3, 2}));
}

// A slower upstream that is not sampled any more (the faster one gets all queries) decays
// in the ranking until it ranks first, is asked and so re-measured.
TEST(BuildCandidatesTest, FastestReMeasuresASlowerUpstream) {
  View v({2}, SelectionPolicyKind::Fastest);
  std::vector<RttEstimator> rtt(2);
  rtt[0].sample(Millis{10}, kT0);
  rtt[1].sample(Millis{100}, kT0);  // 10 times slower, then never asked again
  MonoTime now = kT0;
  MonoTime first_asked{};
  for (int s = 0; s < 120; ++s) {
    now = kT0 + Seconds{s};
    rtt[0].sample(Millis{10}, now);  // the fast one answers every query
    const auto c = candidates(v, rtt, now);
    ASSERT_EQ(c.size(), 2U);
    if (c[0] == 1) {
      first_asked = now;
      break;
    }
  }
  ASSERT_NE(first_asked, MonoTime{});
  // 100 ms * 2^(-t/10 s) < 10 ms once t > 10 s * log2(10) = 33.2 s.
  EXPECT_EQ(first_asked, kT0 + Seconds{34});
  // Measured again at its true 100 ms, it goes back behind.
  rtt[1].sample(Millis{100}, now);
  EXPECT_EQ(candidates(v, rtt, now), (std::vector<uint16_t>{0, 1}));
}

// Property over random views: distinct, never drained, caps respected, every undrained
// upstream considered up to the caps.
TEST(BuildCandidatesTest, RandomViewsKeepTheInvariants) {
  FastRandom random(99);
  for (int round = 0; round < 3000; ++round) {
    const size_t tiers = 1 + random.next64() % 4;
    std::vector<uint16_t> sizes;
    uint16_t total = 0;
    for (size_t t = 0; t < tiers; ++t) {
      sizes.push_back(static_cast<uint16_t>(random.next64() % 9));
      total = static_cast<uint16_t>(total + sizes.back());
    }
    View v;
    uint16_t first = 0;
    for (const uint16_t n : sizes) {
      const auto p = static_cast<SelectionPolicyKind>(random.next64() % 3);
      v.tiers.push_back(TierLayout{first, n, p});
      first = static_cast<uint16_t>(first + n);
    }
    v.usable.assign(total, 1);
    v.drained.assign(total, 0);
    for (uint16_t u = 0; u < total; ++u) {
      const uint64_t r = random.next64() % 4;
      if (r == 0) {
        v.drain({u});
      } else if (r == 1) {
        v.down({u});
      }
    }
    v.active = static_cast<int>(random.next64() % (tiers + 1)) - 1;
    std::vector<RttEstimator> rtt(total);
    for (auto& e : rtt) {
      if (random.next64() % 2 == 0) {
        e.sample(Millis{static_cast<int64_t>(random.next64() % 200)}, kT0);
      }
    }
    SelectionDraw d{random.next64(), random.unit(), random.next64()};
    const auto c = candidates(v, rtt, kT0 + Seconds{5}, d);
    ASSERT_LE(c.size(), kMaxCandidates);
    std::vector<uint16_t> sorted = c;
    std::sort(sorted.begin(), sorted.end());
    ASSERT_TRUE(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
    std::vector<size_t> in_tier(tiers, 0);
    std::vector<size_t> share(tiers, 0);  // min(undrained, kMaxPerTier)
    size_t expected = 0;
    for (size_t t = 0; t < tiers; ++t) {
      const TierLayout& tier = v.tiers[t];
      size_t undrained = 0;
      for (uint16_t u = tier.first; u < tier.first + tier.count; ++u) {
        undrained += v.drained[u] == 0 ? 1U : 0U;
      }
      for (const uint16_t u : c) {
        in_tier[t] += u >= tier.first && u < tier.first + tier.count ? 1U : 0U;
      }
      ASSERT_LE(in_tier[t], kMaxPerTier);
      share[t] = std::min(undrained, kMaxPerTier);
      expected += share[t];
    }
    ASSERT_EQ(c.size(), std::min(expected, kMaxCandidates));
    if (expected <= kMaxCandidates) {
      ASSERT_EQ(in_tier, share);  // every tier got its full share
    }
    bool seen_unusable = false;
    for (const uint16_t u : c) {
      ASSERT_LT(u, total);
      ASSERT_EQ(v.drained[u], 0);
      if (v.usable[u] == 0) {
        seen_unusable = true;
      } else {
        ASSERT_FALSE(seen_unusable) << "a usable upstream after an unusable one";
      }
    }
  }
}

}  // namespace
}  // namespace steadfast::failover
