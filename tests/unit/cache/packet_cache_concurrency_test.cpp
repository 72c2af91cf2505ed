// SPDX-License-Identifier: Apache-2.0
// PacketCache hot-path guarantees: a hit allocates nothing, and readers racing a writer that
// replaces, evicts and flushes the same keys only ever see complete answers (run under ASan
// and TSan to catch use-after-free and missing happens-before edges).
#include <algorithm>
#include <array>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "resolver/cache/packet_cache.h"
#include "tests/support/alloc_counter.h"
#include "tests/unit/cache/test_answers.h"

namespace steadfast::cache {
namespace {

using test::baseTime;
using test::keyFor;
using test::makeA;

TEST(PacketCacheHotPathTest, CacheHitDoesNotAllocate) {
  CacheOptions o;
  o.max_memory = uint64_t{1} << 20U;
  o.shards = 4;
  PacketCache cache(o);
  const ReaderId reader = cache.registerReader();
  const CacheKey key = keyFor("www.example.com");
  cache.insert(key, makeA("www.example.com", 300, 1, 7, 3).view(300), baseTime());
  std::array<uint8_t, 1232> out{};
  size_t len = 0;

  LookupResult hit = LookupResult::Miss;
  LookupResult stale = LookupResult::Miss;
  uint64_t allocations = 0;
  {
    steadfast::test::AllocScope scope;
    {
      PacketCache::ReadSection section(cache, reader);
      hit = cache.lookup(key, baseTime() + Seconds{5}, false, out, len);
      stale = cache.lookup(key, baseTime() + Seconds{400}, true, out, len);
    }
    allocations = scope.allocations();
  }
  EXPECT_EQ(hit, LookupResult::Hit);
  EXPECT_EQ(stale, LookupResult::Stale);
  EXPECT_EQ(allocations, 0U);
}

// Payload written by the writer: rdata = (key index << 24) | generation, header ID = the
// generation's low 16 bits. A reader that copies a freed or half-built block sees them
// disagree (and ASan reports the read itself).
struct Payload {
  static test::TestAnswer make(size_t key_index, uint32_t gen, const std::string& name) {
    const uint32_t rdata = (static_cast<uint32_t>(key_index) << 24U) | (gen & 0xFFFFFFU);
    // 1..4 records, so entries of different sizes replace each other.
    return makeA(name, 300, rdata, static_cast<uint16_t>(gen & 0xFFFFU),
                 static_cast<uint16_t>(1 + gen % 4));
  }
};

// Checks a hit against the Payload scheme: qname, lengths, TTL, and that rdata, ID and record
// count all come from the same generation of the same key.
bool isCompleteAnswer(std::span<const uint8_t> msg, size_t k, const std::vector<uint8_t>& qname) {
  const size_t question_end = wire::kHeaderSize + qname.size() + 4;
  if (msg.size() < question_end) {
    return false;
  }
  const uint16_t ancount = wire::readU16(msg.data() + 6);
  const uint16_t id16 = wire::readU16(msg.data());
  bool ok = ancount >= 1 && ancount <= 4 && msg.size() == question_end + 16U * ancount &&
            std::equal(qname.begin(), qname.end(), msg.begin() + wire::kHeaderSize);
  for (uint16_t a = 0; ok && a < ancount; ++a) {
    const uint8_t* rr = msg.data() + question_end + 16U * a;
    const uint32_t rdata = wire::readU32(rr + 12) - a;
    ok = wire::readU32(rr + 6) == 300 && (rdata >> 24U) == k && (rdata & 0xFFFFU) == id16 &&
         (rdata & 0xFFFFFFU) % 4 + 1 == ancount;
  }
  return ok;
}

TEST(PacketCacheConcurrencyTest, ReadersSeeCompleteAnswersWhileAWriterChurns) {
  CacheOptions o;
  o.max_memory = 12 * 1024;  // small: fewer slots and bytes than keys, so it evicts
  o.shards = 2;
  o.max_readers = 4;
  PacketCache cache(o);

  constexpr size_t kKeys = 96;
  constexpr int kWriterOps = 100000;
  constexpr int kReaders = 3;
  std::vector<std::string> names;
  std::vector<std::vector<uint8_t>> qnames;
  std::vector<CacheKey> keys;
  for (size_t i = 0; i < kKeys; ++i) {
    names.push_back("k" + std::to_string(i) + ".example.com");
    qnames.push_back(test::nameWire(names.back()));
    keys.push_back(keyFor(names.back()));
  }

  std::atomic<bool> done{false};
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> bad{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      const ReaderId id = cache.registerReader();
      std::array<uint8_t, 512> out{};
      uint64_t local_hits = 0;
      uint64_t local_bad = 0;
      size_t k = static_cast<size_t>(r) * 7;
      while (!done.load(std::memory_order_relaxed)) {
        {
          PacketCache::ReadSection section(cache, id);  // a batch of lookups per section
          for (int n = 0; n < 16; ++n, k = (k + 1) % kKeys) {
            size_t len = 0;
            if (cache.lookup(keys[k], baseTime(), false, out, len) == LookupResult::Hit) {
              ++local_hits;
              local_bad += isCompleteAnswer({out.data(), len}, k, qnames[k]) ? 0 : 1;
            }
          }
        }
        // Out of the section between batches, as a worker is between loop turns; the yield
        // lets the writer run on small CI machines.
        std::this_thread::yield();
      }
      hits.fetch_add(local_hits);
      bad.fetch_add(local_bad);
    });
  }

  std::thread writer([&] {
    for (int op = 0; op < kWriterOps; ++op) {
      const auto gen = static_cast<uint32_t>(op);
      const size_t k = (static_cast<size_t>(op) * 31) % kKeys;
      cache.insert(keys[k], Payload::make(k, gen, names[k]).view(300), baseTime());
      if (op % 20000 == 10000) {
        cache.flush();
      }
      if (cache.bytes() > o.max_memory) {
        bad.fetch_add(1000000);
      }
    }
    done.store(true);
  });
  writer.join();
  for (std::thread& t : readers) {
    t.join();
  }
  EXPECT_EQ(bad.load(), 0U);
  EXPECT_GT(hits.load(), 0U);
  EXPECT_LE(cache.bytes(), o.max_memory);
  EXPECT_GT(cache.entries(), 0U);
}

}  // namespace
}  // namespace steadfast::cache
