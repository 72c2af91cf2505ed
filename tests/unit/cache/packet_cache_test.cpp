// SPDX-License-Identifier: Apache-2.0
// PacketCache, single-threaded behaviour: hits and misses, TTL countdown and clamps,
// serve-stale (RFC 8767), replacement, flush, the memory bound, deferred reclamation.
#include "resolver/cache/packet_cache.h"

#include <array>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/cache/test_answers.h"

namespace steadfast::cache {
namespace {

using std::chrono::milliseconds;
using test::baseTime;
using test::keyFor;
using test::makeA;
using test::makeNxDomain;

CacheOptions smallOptions() {
  CacheOptions o;
  o.max_memory = uint64_t{1} << 20U;
  o.shards = 4;
  o.max_readers = 4;
  return o;
}

class PacketCacheTest : public ::testing::Test {
 protected:
  explicit PacketCacheTest(CacheOptions o = smallOptions())
      : cache_(std::make_unique<PacketCache>(o)), reader_(cache_->registerReader()) {}

  void reset(const CacheOptions& o) {
    cache_ = std::make_unique<PacketCache>(o);
    reader_ = cache_->registerReader();
  }

  LookupResult get(const CacheKey& key, MonoTime now, bool allow_stale = false) {
    PacketCache::ReadSection section(*cache_, reader_);
    out_len_ = 0;
    return cache_->lookup(key, now, allow_stale, buf_, out_len_);
  }
  [[nodiscard]] std::span<const uint8_t> got() const { return {buf_.data(), out_len_}; }

  std::unique_ptr<PacketCache> cache_;
  ReaderId reader_;
  std::array<uint8_t, 4096> buf_{};
  size_t out_len_ = 0;
};

TEST_F(PacketCacheTest, MissThenHitReturnsTheStoredBytes) {
  const CacheKey key = keyFor("www.example.com");
  const auto answer = makeA("www.example.com", 300);
  EXPECT_EQ(get(key, baseTime()), LookupResult::Miss);
  EXPECT_EQ(cache_->entries(), 0U);

  cache_->insert(key, answer.view(300), baseTime());
  ASSERT_EQ(get(key, baseTime()), LookupResult::Hit);
  EXPECT_EQ(std::vector<uint8_t>(got().begin(), got().end()), answer.wire);
  EXPECT_EQ(cache_->entries(), 1U);
  EXPECT_EQ(get(keyFor("other.example.com"), baseTime()), LookupResult::Miss);
}

TEST_F(PacketCacheTest, TtlCountsDownInWholeSeconds) {
  const CacheKey key = keyFor("www.example.com");
  const auto answer = makeA("www.example.com", 300, 0x0A000001, 0x1234, 3);
  cache_->insert(key, answer.view(300), baseTime());

  ASSERT_EQ(get(key, baseTime() + Seconds{100}), LookupResult::Hit);
  for (size_t i = 0; i < answer.ttl_offsets.size(); ++i) {
    EXPECT_EQ(answer.ttlAt(got(), i), 200U);
  }
  ASSERT_EQ(get(key, baseTime() + Seconds{100} + milliseconds{999}), LookupResult::Hit);
  EXPECT_EQ(answer.ttlAt(got(), 0), 200U);
  ASSERT_EQ(get(key, baseTime() + Seconds{299}), LookupResult::Hit);
  EXPECT_EQ(answer.ttlAt(got(), 2), 1U);
  EXPECT_EQ(get(key, baseTime() + Seconds{300}), LookupResult::Miss);
}

TEST_F(PacketCacheTest, RecordsWithLongerTtlsKeepTheirOwnCountdown) {
  const CacheKey key = keyFor("www.example.com");
  auto answer = makeA("www.example.com", 600, 0x0A000001, 0x1234, 2);
  wire::writeU32(answer.wire.data() + answer.ttl_offsets[0], 60);  // min TTL is 60
  cache_->insert(key, answer.view(60), baseTime());
  ASSERT_EQ(get(key, baseTime() + Seconds{10}), LookupResult::Hit);
  EXPECT_EQ(answer.ttlAt(got(), 0), 50U);
  EXPECT_EQ(answer.ttlAt(got(), 1), 590U);
  EXPECT_EQ(get(key, baseTime() + Seconds{60}), LookupResult::Miss);
}

TEST_F(PacketCacheTest, MinTtlRaisesEntryAndRecordTtls) {
  CacheOptions o = smallOptions();
  o.min_ttl = Seconds{60};
  reset(o);
  const CacheKey key = keyFor("www.example.com");
  const auto answer = makeA("www.example.com", 10);
  cache_->insert(key, answer.view(10), baseTime());
  ASSERT_EQ(get(key, baseTime() + Seconds{30}), LookupResult::Hit);
  EXPECT_EQ(answer.ttlAt(got(), 0), 30U);
  EXPECT_EQ(get(key, baseTime() + Seconds{60}), LookupResult::Miss);
}

TEST_F(PacketCacheTest, MaxTtlCapsEntryAndRecordTtls) {
  CacheOptions o = smallOptions();
  o.max_ttl = Seconds{3600};
  o.serve_stale = false;
  reset(o);
  const CacheKey key = keyFor("www.example.com");
  const auto answer = makeA("www.example.com", 86400);
  cache_->insert(key, answer.view(86400), baseTime());
  ASSERT_EQ(get(key, baseTime()), LookupResult::Hit);
  EXPECT_EQ(answer.ttlAt(got(), 0), 3600U);
  ASSERT_EQ(get(key, baseTime() + Seconds{3599}), LookupResult::Hit);
  EXPECT_EQ(answer.ttlAt(got(), 0), 1U);
  EXPECT_EQ(get(key, baseTime() + Seconds{3600}), LookupResult::Miss);
}

TEST_F(PacketCacheTest, NegativeAnswersUseNegativeMaxTtl) {
  CacheOptions o = smallOptions();
  o.negative_max_ttl = Seconds{300};
  o.serve_stale = false;
  reset(o);
  const CacheKey key = keyFor("nx.example.com");
  // RFC 2308 section 5: the negative TTL is min(SOA TTL, MINIMUM) = 3600 here, capped to 300;
  // the SOA record is capped to the negative TTL too.
  const auto answer = makeNxDomain("nx.example.com", 7200, 3600);
  cache_->insert(key, answer.view(3600, /*negative=*/true), baseTime());
  ASSERT_EQ(get(key, baseTime() + Seconds{100}), LookupResult::Hit);
  EXPECT_EQ(answer.ttlAt(got(), 0), 200U);
  EXPECT_EQ(get(key, baseTime() + Seconds{300}), LookupResult::Miss);

  // The same TTL on a positive answer is only capped by max_ttl.
  const CacheKey pos = keyFor("pos.example.com");
  cache_->insert(pos, makeA("pos.example.com", 3600).view(3600), baseTime());
  EXPECT_EQ(get(pos, baseTime() + Seconds{3599}), LookupResult::Hit);
}

TEST_F(PacketCacheTest, ZeroTtlIsNotStoredUnlessMinTtlRaisesIt) {
  const CacheKey key = keyFor("zero.example.com");
  const auto answer = makeA("zero.example.com", 0);
  cache_->insert(key, answer.view(0), baseTime());
  EXPECT_EQ(get(key, baseTime()), LookupResult::Miss);
  EXPECT_EQ(cache_->entries(), 0U);

  CacheOptions o = smallOptions();
  o.min_ttl = Seconds{5};
  cache_->setOptions(o);
  cache_->insert(key, answer.view(0), baseTime());
  ASSERT_EQ(get(key, baseTime()), LookupResult::Hit);
  EXPECT_EQ(answer.ttlAt(got(), 0), 5U);
}

TEST_F(PacketCacheTest, ServesStaleWithinStaleMaxAge) {
  CacheOptions o = smallOptions();
  o.serve_stale = true;
  o.stale_max_age = Seconds{100};
  o.stale_answer_ttl = Seconds{30};
  reset(o);
  const CacheKey key = keyFor("www.example.com");
  const auto answer = makeA("www.example.com", 60, 0x0A000001, 0x1234, 2);
  cache_->insert(key, answer.view(60), baseTime());

  const MonoTime expired = baseTime() + Seconds{61};
  EXPECT_EQ(get(key, expired, /*allow_stale=*/false), LookupResult::Miss);
  ASSERT_EQ(get(key, expired, /*allow_stale=*/true), LookupResult::Stale);
  // RFC 8767 section 4: every record of a stale answer carries stale_answer_ttl.
  EXPECT_EQ(answer.ttlAt(got(), 0), 30U);
  EXPECT_EQ(answer.ttlAt(got(), 1), 30U);
  EXPECT_EQ(get(key, baseTime() + Seconds{60}, true), LookupResult::Stale);
  EXPECT_EQ(get(key, baseTime() + Seconds{159}, true), LookupResult::Stale);
  EXPECT_EQ(get(key, baseTime() + Seconds{160}, true), LookupResult::Miss);
}

TEST_F(PacketCacheTest, NoStaleAnswersWhenServeStaleIsOff) {
  CacheOptions o = smallOptions();
  o.serve_stale = false;
  reset(o);
  const CacheKey key = keyFor("www.example.com");
  cache_->insert(key, makeA("www.example.com", 60).view(60), baseTime());
  EXPECT_EQ(get(key, baseTime() + Seconds{61}, true), LookupResult::Miss);

  // Turned off by a reload: entries stored while it was on stop being served stale too.
  reset(smallOptions());
  cache_->insert(key, makeA("www.example.com", 60).view(60), baseTime());
  EXPECT_EQ(get(key, baseTime() + Seconds{61}, true), LookupResult::Stale);
  cache_->setOptions(o);
  EXPECT_EQ(get(key, baseTime() + Seconds{61}, true), LookupResult::Miss);
}

TEST_F(PacketCacheTest, KeyFlagsAndTypeSelectDifferentEntries) {
  const auto plain = makeA("www.example.com", 300, 0x01010101);
  const auto with_do = makeA("www.example.com", 300, 0x02020202);
  const auto with_cd = makeA("www.example.com", 300, 0x03030303);
  cache_->insert(keyFor("www.example.com"), plain.view(300), baseTime());
  cache_->insert(keyFor("www.example.com", test::kTypeA, true), with_do.view(300), baseTime());
  cache_->insert(keyFor("www.example.com", test::kTypeA, false, true), with_cd.view(300),
                 baseTime());
  EXPECT_EQ(cache_->entries(), 3U);

  ASSERT_EQ(get(keyFor("WWW.Example.COM"), baseTime()), LookupResult::Hit);
  EXPECT_EQ(std::vector<uint8_t>(got().begin(), got().end()), plain.wire);
  ASSERT_EQ(get(keyFor("www.example.com", test::kTypeA, true), baseTime()), LookupResult::Hit);
  EXPECT_EQ(std::vector<uint8_t>(got().begin(), got().end()), with_do.wire);
  ASSERT_EQ(get(keyFor("www.example.com", test::kTypeA, false, true), baseTime()),
            LookupResult::Hit);
  EXPECT_EQ(std::vector<uint8_t>(got().begin(), got().end()), with_cd.wire);
  EXPECT_EQ(get(keyFor("www.example.com", test::kTypeAaaa), baseTime()), LookupResult::Miss);
  EXPECT_EQ(get(keyFor("www.example.com", test::kTypeA, true, true), baseTime()),
            LookupResult::Miss);
}

TEST_F(PacketCacheTest, InsertReplacesTheSameKey) {
  const CacheKey key = keyFor("www.example.com");
  const auto first = makeA("www.example.com", 300, 0x01010101);
  const auto second = makeA("www.example.com", 60, 0x02020202);
  cache_->insert(key, first.view(300), baseTime());
  cache_->insert(key, second.view(60), baseTime() + Seconds{10});
  EXPECT_EQ(cache_->entries(), 1U);
  ASSERT_EQ(get(key, baseTime() + Seconds{20}), LookupResult::Hit);
  EXPECT_EQ(second.ttlAt(got(), 0), 50U);
  EXPECT_EQ(wire::readU32(got().data() + got().size() - 4), 0x02020202U);
  EXPECT_EQ(get(key, baseTime() + Seconds{70}), LookupResult::Miss);
}

TEST_F(PacketCacheTest, FlushDropsEverything) {
  const size_t empty_bytes = cache_->bytes();
  for (int i = 0; i < 50; ++i) {
    const std::string name = "host" + std::to_string(i) + ".example.com";
    cache_->insert(keyFor(name), makeA(name, 300).view(300), baseTime());
  }
  EXPECT_EQ(cache_->entries(), 50U);
  EXPECT_GT(cache_->bytes(), empty_bytes);
  cache_->flush();
  EXPECT_EQ(cache_->entries(), 0U);
  EXPECT_EQ(cache_->bytes(), empty_bytes);
  EXPECT_EQ(get(keyFor("host7.example.com"), baseTime()), LookupResult::Miss);
}

TEST_F(PacketCacheTest, OutBufferTooSmallIsAMiss) {
  const CacheKey key = keyFor("www.example.com");
  const auto answer = makeA("www.example.com", 300);
  cache_->insert(key, answer.view(300), baseTime());
  std::vector<uint8_t> small(answer.wire.size() - 1);
  size_t len = 0;
  {
    PacketCache::ReadSection section(*cache_, reader_);
    EXPECT_EQ(cache_->lookup(key, baseTime(), false, small, len), LookupResult::Miss);
    std::vector<uint8_t> exact(answer.wire.size());
    EXPECT_EQ(cache_->lookup(key, baseTime(), false, exact, len), LookupResult::Hit);
    EXPECT_EQ(len, answer.wire.size());
  }
}

TEST_F(PacketCacheTest, MalformedDescriptionsAreNotStored) {
  const CacheKey key = keyFor("www.example.com");
  auto answer = makeA("www.example.com", 300);
  answer.ttl_offsets[0] = static_cast<uint16_t>(answer.wire.size() - 3);  // runs off the end
  cache_->insert(key, answer.view(300), baseTime());
  EXPECT_EQ(cache_->entries(), 0U);
}

TEST(PacketCacheMemoryTest, BytesNeverExceedMaxMemory) {
  CacheOptions o;
  o.max_memory = 64 * 1024;
  o.shards = 4;
  o.max_readers = 2;
  PacketCache cache(o);
  const ReaderId reader = cache.registerReader();
  EXPECT_LE(cache.bytes(), o.max_memory);
  std::array<uint8_t, 4096> buf{};
  size_t len = 0;
  constexpr int kInserts = 20000;
  for (int i = 0; i < kInserts; ++i) {
    const std::string name = "host" + std::to_string(i) + ".example.com";
    // Some answers are bigger, so blocks of several sizes compete.
    const auto answer =
        makeA(name, 300, 0x0A000000, 1, static_cast<uint16_t>(1 + (i % 4 == 0 ? 20 : 0)));
    const MonoTime now = baseTime() + milliseconds{i};
    cache.insert(keyFor(name), answer.view(300), now);
    ASSERT_LE(cache.bytes(), o.max_memory) << "after insert " << i;
    if (i % 3 == 0) {  // reads set reference bits, so CLOCK has something to spare
      PacketCache::ReadSection section(cache, reader);
      (void)cache.lookup(keyFor("host" + std::to_string(i / 2) + ".example.com"), now, false, buf,
                         len);
    }
  }
  EXPECT_GT(cache.entries(), 100U);
  EXPECT_LT(cache.entries(), static_cast<size_t>(kInserts));
  EXPECT_GT(cache.bytes(), o.max_memory / 2);  // the budget is actually used
  // With no reader in a section nothing holds retired memory: every insert got in.
  EXPECT_EQ(cache.insertsSkipped(), 0U);
  PacketCache::ReadSection section(cache, reader);
  const std::string last = "host" + std::to_string(kInserts - 1) + ".example.com";
  EXPECT_EQ(cache.lookup(keyFor(last), baseTime() + Seconds{20}, false, buf, len),
            LookupResult::Hit);
}

TEST(PacketCacheMemoryTest, EntryLargerThanAShardIsNotStored) {
  CacheOptions o;
  o.max_memory = 16 * 1024;
  o.shards = 8;
  PacketCache cache(o);
  const auto big = makeA("big.example.com", 300, 1, 1, 200);  // ~3.2 KB, shard budget ~2 KB
  cache.insert(keyFor("big.example.com"), big.view(300), baseTime());
  EXPECT_EQ(cache.entries(), 0U);
  EXPECT_LE(cache.bytes(), o.max_memory);
}

// Under memory pressure the expired entries go first: live ones survive even when nothing has
// read them yet. Entries of ~1 KiB keep the count far below the index's 128 slots, so what is
// evicted is chosen by the memory bound, not by bucket collisions.
TEST(PacketCacheMemoryTest, ExpiredEntriesAreEvictedBeforeLiveOnes) {
  CacheOptions o;
  o.max_memory = 16 * 1024;
  o.shards = 1;
  o.serve_stale = false;
  PacketCache cache(o);
  const ReaderId reader = cache.registerReader();
  constexpr uint16_t kRecords = 56;
  constexpr size_t kOld = 8;
  constexpr size_t kNew = 9;
  const auto name = [](const char* prefix, size_t i) {
    return prefix + std::to_string(i) + ".example.com";
  };
  std::array<uint8_t, 2048> buf{};
  size_t len = 0;
  const auto found = [&](const std::string& qname, MonoTime now) {
    PacketCache::ReadSection section(cache, reader);
    return cache.lookup(keyFor(qname), now, false, buf, len) == LookupResult::Hit;
  };

  // Short-lived entries and one long-lived one; all of them fit.
  for (size_t i = 0; i < kOld; ++i) {
    cache.insert(keyFor(name("old", i)), makeA(name("old", i), 10, 1, 1, kRecords).view(10),
                 baseTime());
  }
  cache.insert(keyFor("keep.example.com"),
               makeA("keep.example.com", 3600, 1, 1, kRecords).view(3600), baseTime());
  ASSERT_EQ(cache.entries(), kOld + 1);  // every insert got in

  // After the short ones expired, more long-lived ones than the budget holds next to them.
  const MonoTime later = baseTime() + Seconds{20};
  for (size_t i = 0; i < kNew; ++i) {
    cache.insert(keyFor(name("new", i)), makeA(name("new", i), 3600, 1, 1, kRecords).view(3600),
                 later);
  }
  EXPECT_EQ(cache.insertsSkipped(), 0U);
  EXPECT_LE(cache.bytes(), o.max_memory);
  ASSERT_LT(cache.entries(), kOld + 1 + kNew) << "nothing was evicted: the test needs more entries";
  // Every live entry is still there, so everything evicted had expired.
  EXPECT_TRUE(found("keep.example.com", later));
  for (size_t i = 0; i < kNew; ++i) {
    EXPECT_TRUE(found(name("new", i), later)) << name("new", i);
  }
  EXPECT_GE(cache.entries(), kNew + 1);
}

// A reader inside its section pins what it may have seen: a replaced entry stays allocated
// (and counted) until the section ends, then the next writer frees it.
TEST_F(PacketCacheTest, RetiredEntriesWaitForReadersInASection) {
  const CacheKey key = keyFor("www.example.com");
  cache_->insert(key, makeA("www.example.com", 300, 1).view(300), baseTime());
  const size_t one = cache_->bytes();
  const ReaderId other = cache_->registerReader();
  {
    PacketCache::ReadSection section(*cache_, other);
    size_t len = 0;
    ASSERT_EQ(cache_->lookup(key, baseTime(), false, buf_, len), LookupResult::Hit);
    cache_->insert(key, makeA("www.example.com", 300, 2).view(300), baseTime());
    EXPECT_GT(cache_->bytes(), one);  // old block retired, not yet freed
    cache_->flush();                  // cannot free what the section may hold either
    EXPECT_EQ(cache_->entries(), 0U);
    EXPECT_GT(cache_->bytes(), one);
  }
  cache_->flush();  // section over: everything retired is freed now
  PacketCache probe(smallOptions());
  EXPECT_EQ(cache_->bytes(), probe.bytes());
}

}  // namespace
}  // namespace steadfast::cache
