// SPDX-License-Identifier: Apache-2.0
// PacketCache: shards of set-associative indexes of atomic entry pointers. Readers (lookup)
// take no lock and allocate nothing; writers (insert, evict, flush) hold the shard mutex,
// publish with one atomic store and retire what they unlink (epoch.h has the reclamation
// rules and the memory-ordering argument).
//
// Layout: shard = hash & (shards - 1); bucket = the next bits; a bucket is 8 ways (8 atomic
// pointers = one cache line), so a lookup touches one line of index plus the entries it
// compares. Memory: each shard gets an equal part of max_memory minus the index; live and
// retired-but-not-freed entry blocks both count against it, so bytes() <= max_memory holds
// at every instant, not just after reclamation.
#include "resolver/cache/packet_cache.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <new>

#include "resolver/cache/cache_entry.h"
#include "resolver/cache/epoch.h"

namespace steadfast::cache {
namespace {

constexpr size_t kWays = 8;            // a bucket: 8 x 8-byte pointers, one cache line
constexpr size_t kBytesPerSlot = 128;  // index capacity: one slot per 128 bytes of budget
                                       // (a typical A answer entry is ~150 bytes)
constexpr size_t kReclaimBatch = 32;   // reclaim once this many entries wait in a shard
constexpr size_t kMaxWire = 65535;
constexpr uint32_t kMaxTtl = 0x7FFFFFFF;  // RFC 2181 section 8

struct alignas(64) Bucket {
  std::array<std::atomic<CacheEntry*>, kWays> ways{};
};
static_assert(sizeof(Bucket) == 64);

struct RetiredEntry {
  CacheEntry* entry;
  uint64_t tag;
};

struct alignas(64) Shard {
  std::mutex mutex;
  // Guarded by mutex. live + retired bytes <= Impl::shard_budget at all times.
  size_t live_bytes = 0;
  size_t retired_bytes = 0;
  size_t live_entries = 0;
  size_t hand = 0;      // CLOCK hand over all slots of the shard
  uint32_t victim = 0;  // rotates the second-chance scan inside a bucket
  std::vector<RetiredEntry> retired;
  // Written under mutex, read without it by bytes() / entries().
  std::atomic<size_t> bytes_seen{0};
  std::atomic<size_t> entries_seen{0};
  // Set at construction, then only the slots change (stored under mutex, loaded by anyone).
  std::unique_ptr<Bucket[]> buckets;
};

uint32_t toTtl(Seconds s) noexcept {
  return static_cast<uint32_t>(std::clamp<Seconds::rep>(s.count(), 0, kMaxTtl));
}

}  // namespace

struct PacketCache::Impl {
  explicit Impl(const CacheOptions& o);
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  Shard& shardOf(uint64_t hash) noexcept { return shards[hash & shard_mask]; }
  Bucket& bucketOf(Shard& s, uint64_t hash) noexcept {
    return s.buckets[(hash >> shard_bits) & bucket_mask];
  }
  std::atomic<CacheEntry*>& slotAt(Shard& s, size_t i) noexcept {
    return s.buckets[i / kWays].ways[i % kWays];
  }

  void setKnobs(const CacheOptions& o) noexcept;
  LookupResult serve(const CacheEntry& e, MonoTime now, bool allow_stale, std::span<uint8_t> out,
                     size_t& out_len) const noexcept;
  bool makeRoom(Shard& s, size_t need, MonoTime now);
  bool evictOne(Shard& s, MonoTime now);
  std::atomic<CacheEntry*>& pickSlot(Shard& s, Bucket& b, const CacheKey& key, MonoTime now);
  void retire(Shard& s, CacheEntry* e);
  void reclaim(Shard& s) noexcept;
  static void publishCounters(Shard& s) noexcept;

  EpochDomain epochs;
  std::unique_ptr<Shard[]> shards;
  size_t shard_count = 1;
  size_t shard_mask = 0;
  int shard_bits = 0;
  size_t bucket_mask = 0;
  size_t slots_per_shard = 0;
  size_t index_bytes = 0;
  size_t shard_budget = 0;

  // Knobs: setOptions may run while readers and writers do. Readers use the first two.
  std::atomic<bool> serve_stale{true};
  std::atomic<uint32_t> stale_answer_ttl{30};
  std::atomic<uint32_t> min_ttl{0};
  std::atomic<uint32_t> max_ttl{0};
  std::atomic<uint32_t> negative_max_ttl{0};
  std::atomic<uint32_t> stale_max_age{0};
  std::atomic<uint64_t> inserts_skipped{0};
};

PacketCache::Impl::Impl(const CacheOptions& o) : epochs(o.max_readers) {
  const uint64_t budget = o.max_memory;
  size_t n = std::bit_floor(std::max<size_t>(o.shards, 1));
  // Every shard needs at least one bucket; for tiny budgets use fewer shards so the index
  // stays a small part of max_memory.
  while (n > 1 && n * sizeof(Bucket) * 8 > budget) {
    n /= 2;
  }
  shard_count = n;
  shard_mask = n - 1;
  shard_bits = std::countr_zero(n);
  const size_t buckets = std::bit_floor(std::max<size_t>(budget / kBytesPerSlot / n / kWays, 1));
  bucket_mask = buckets - 1;
  slots_per_shard = buckets * kWays;
  index_bytes = n * buckets * sizeof(Bucket);
  shard_budget = budget > index_bytes ? (budget - index_bytes) / n : 0;

  shards = std::make_unique<Shard[]>(n);
  for (size_t i = 0; i < n; ++i) {
    shards[i].buckets = std::make_unique<Bucket[]>(buckets);
    shards[i].retired.reserve(2 * kReclaimBatch);
  }
  setKnobs(o);
}

PacketCache::Impl::~Impl() {
  // No reader may be in a section any more: free everything, live and retired.
  for (size_t i = 0; i < shard_count; ++i) {
    Shard& s = shards[i];
    for (size_t j = 0; j < slots_per_shard; ++j) {
      if (CacheEntry* e = slotAt(s, j).load(std::memory_order_relaxed)) {
        CacheEntry::destroy(e);
      }
    }
    for (const RetiredEntry& r : s.retired) {
      CacheEntry::destroy(r.entry);
    }
  }
}

void PacketCache::Impl::setKnobs(const CacheOptions& o) noexcept {
  min_ttl.store(toTtl(o.min_ttl), std::memory_order_relaxed);
  max_ttl.store(toTtl(o.max_ttl), std::memory_order_relaxed);
  negative_max_ttl.store(toTtl(o.negative_max_ttl), std::memory_order_relaxed);
  stale_max_age.store(toTtl(o.stale_max_age), std::memory_order_relaxed);
  stale_answer_ttl.store(toTtl(o.stale_answer_ttl), std::memory_order_relaxed);
  serve_stale.store(o.serve_stale, std::memory_order_relaxed);
}

LookupResult PacketCache::Impl::serve(const CacheEntry& e, MonoTime now, bool allow_stale,
                                      std::span<uint8_t> out, size_t& out_len) const noexcept {
  const bool fresh = now < e.times.expires_at;
  // RFC 8767 section 5: a stale answer only when the caller could not get a fresh one, and
  // only within stale_max_age of expiry. serve_stale is read live so a reload that turns it
  // off also stops serving entries stored while it was on.
  if (!fresh &&
      !(allow_stale && now < e.times.stale_until && serve_stale.load(std::memory_order_relaxed))) {
    return LookupResult::Miss;
  }
  if (out.size() < e.wire_len) {
    return LookupResult::Miss;
  }
  std::memcpy(out.data(), e.wire(), e.wire_len);
  uint32_t age = 0;
  if (now > e.times.inserted_at) {
    const auto secs = std::chrono::duration_cast<Seconds>(now - e.times.inserted_at).count();
    age = static_cast<uint32_t>(std::min<Seconds::rep>(secs, kMaxTtl));
  }
  const uint32_t stale_ttl = stale_answer_ttl.load(std::memory_order_relaxed);
  for (size_t i = 0; i < e.ttl_count; ++i) {
    uint8_t* p = out.data() + e.ttlOffset(i);
    const uint32_t ttl = wire::readU32(p);
    // Fresh: count down by whole seconds of age (RFC 1035 section 7.3 / RFC 2308 section 5
    // for the SOA of a negative answer). Stale: every record carries stale_answer_ttl
    // (RFC 8767 section 4, "30 seconds" recommended).
    wire::writeU32(p, fresh ? (ttl > age ? ttl - age : 0) : stale_ttl);
  }
  // Skip the store when the bit is already set: no write to a shared line on a hot entry.
  if (e.referenced.load(std::memory_order_relaxed) == 0) {
    e.referenced.store(1, std::memory_order_relaxed);
  }
  out_len = e.wire_len;
  return fresh ? LookupResult::Hit : LookupResult::Stale;
}

void PacketCache::Impl::retire(Shard& s, CacheEntry* e) {
  // The caller has unlinked e with a seq_cst store/exchange (C in epoch.h).
  const uint64_t tag = epochs.retireTag();
  s.retired.push_back({e, tag});
  s.live_bytes -= e->block_size;
  s.retired_bytes += e->block_size;
  --s.live_entries;
}

void PacketCache::Impl::reclaim(Shard& s) noexcept {
  if (s.retired.empty()) {
    return;
  }
  const uint64_t oldest = epochs.oldestActive();
  size_t kept = 0;
  for (const RetiredEntry& r : s.retired) {
    if (r.tag < oldest) {
      s.retired_bytes -= r.entry->block_size;
      CacheEntry::destroy(r.entry);
    } else {
      s.retired[kept++] = r;
    }
  }
  s.retired.resize(kept);
}

void PacketCache::Impl::publishCounters(Shard& s) noexcept {
  s.bytes_seen.store(s.live_bytes + s.retired_bytes, std::memory_order_relaxed);
  s.entries_seen.store(s.live_entries, std::memory_order_relaxed);
}

// One step of CLOCK over the whole shard. Entries past stale_until are dead and go
// regardless of their bit; a referenced entry gets a second chance (bit cleared). The bound
// of three turns covers readers setting bits again behind the hand: the last turn evicts
// the first entry it meets.
bool PacketCache::Impl::evictOne(Shard& s, MonoTime now) {
  const size_t limit = 3 * slots_per_shard;
  for (size_t step = 0; step < limit; ++step) {
    std::atomic<CacheEntry*>& slot = slotAt(s, s.hand);
    s.hand = (s.hand + 1) & (slots_per_shard - 1);
    CacheEntry* e = slot.load(std::memory_order_relaxed);
    if (e == nullptr) {
      continue;
    }
    const bool dead = now >= e->times.stale_until;
    const bool last_turn = step >= 2 * slots_per_shard;
    if (!dead && !last_turn && e->referenced.load(std::memory_order_relaxed) != 0) {
      e->referenced.store(0, std::memory_order_relaxed);
      continue;
    }
    slot.store(nullptr, std::memory_order_seq_cst);
    retire(s, e);
    return true;
  }
  return false;
}

// Gets live + retired + need under the shard budget. Live entries are evicted down to a low
// water mark 1/8 below the budget: what they leave behind stays allocated until readers move
// on (often a few microseconds), and that headroom lets the next inserts proceed meanwhile.
bool PacketCache::Impl::makeRoom(Shard& s, size_t need, MonoTime now) {
  if (s.live_bytes + s.retired_bytes + need > shard_budget) {
    reclaim(s);
  }
  const size_t low_water = shard_budget - shard_budget / 8;
  while (s.live_entries > 0 && s.live_bytes + need > low_water) {
    if (!evictOne(s, now)) {
      break;
    }
  }
  if (s.live_bytes + s.retired_bytes + need > shard_budget) {
    reclaim(s);
  }
  return s.live_bytes + s.retired_bytes + need <= shard_budget;
}

// The way the new entry goes to: the same key's (replacement), else an empty way, else a
// dead one (past stale_until), else a second-chance victim inside the bucket.
std::atomic<CacheEntry*>& PacketCache::Impl::pickSlot(Shard& s, Bucket& b, const CacheKey& key,
                                                      MonoTime now) {
  std::atomic<CacheEntry*>* empty = nullptr;
  std::atomic<CacheEntry*>* dead = nullptr;
  for (std::atomic<CacheEntry*>& slot : b.ways) {
    CacheEntry* cur = slot.load(std::memory_order_relaxed);
    if (cur == nullptr) {
      if (empty == nullptr) {
        empty = &slot;
      }
    } else if (cur->matches(key)) {
      return slot;
    } else if (dead == nullptr && now >= cur->times.stale_until) {
      dead = &slot;
    }
  }
  if (empty != nullptr) {
    return *empty;
  }
  if (dead != nullptr) {
    return *dead;
  }
  const uint32_t start = s.victim++;
  for (size_t i = 0; i < 2 * kWays; ++i) {
    std::atomic<CacheEntry*>& slot = b.ways[(start + i) % kWays];
    if (slot.load(std::memory_order_relaxed)->referenced.exchange(0, std::memory_order_relaxed) ==
        0) {
      return slot;
    }
  }
  return b.ways[start % kWays];
}

PacketCache::PacketCache(const CacheOptions& options) : impl_(std::make_unique<Impl>(options)) {}

PacketCache::~PacketCache() = default;

ReaderId PacketCache::registerReader() {
  return impl_->epochs.registerReader();
}

PacketCache::ReadSection::ReadSection(PacketCache& cache, ReaderId id) noexcept
    : cache_(cache), id_(id) {
  cache_.impl_->epochs.enter(id_);
}

PacketCache::ReadSection::~ReadSection() {
  cache_.impl_->epochs.exit(id_);
}

LookupResult PacketCache::lookup(const CacheKey& key, MonoTime now, bool allow_stale,
                                 std::span<uint8_t> out, size_t& out_len) noexcept {
  Impl& m = *impl_;
  Shard& s = m.shardOf(key.hash);
  const Bucket& b = m.bucketOf(s, key.hash);
  for (const std::atomic<CacheEntry*>& slot : b.ways) {
    // seq_cst, not acquire: step 1 of the argument in epoch.h needs these loads in S.
    const CacheEntry* e = slot.load(std::memory_order_seq_cst);
    if (e != nullptr && e->matches(key)) {
      return m.serve(*e, now, allow_stale, out, out_len);
    }
  }
  return LookupResult::Miss;
}

void PacketCache::insert(const CacheKey& key, const CacheableAnswer& answer, MonoTime now) {
  Impl& m = *impl_;
  // TTL policy. Negative answers (RFC 2308 section 5) have their own ceiling, and their
  // records (the SOA) are capped at the negative TTL itself so the SOA TTL counts down to
  // zero with the entry.
  const uint32_t ttl_floor = m.min_ttl.load(std::memory_order_relaxed);
  const uint32_t ttl_ceiling = answer.negative ? m.negative_max_ttl.load(std::memory_order_relaxed)
                                               : m.max_ttl.load(std::memory_order_relaxed);
  const uint32_t raw_ttl = answer.ttl > kMaxTtl ? 0 : answer.ttl;
  const uint32_t ttl = std::min(std::max(raw_ttl, ttl_floor), ttl_ceiling);
  if (ttl == 0) {
    return;
  }
  // Malformed descriptions are the caller's bug, but never worth a crash: just don't store.
  if (answer.wire.size() < wire::kHeaderSize || answer.wire.size() > kMaxWire ||
      answer.ttl_offsets.size() > kMaxWire || key.len == 0 || key.len > key.bytes.size()) {
    return;
  }
  for (uint16_t off : answer.ttl_offsets) {
    if (size_t{off} + 4 > answer.wire.size()) {
      return;
    }
  }
  const size_t need = CacheEntry::blockSize(key.len, answer.ttl_offsets.size(), answer.wire.size());
  if (need > m.shard_budget) {
    return;
  }

  EntryTimes times;
  times.inserted_at = now;
  times.expires_at = now + Seconds{ttl};
  times.stale_until = times.expires_at;
  if (m.serve_stale.load(std::memory_order_relaxed)) {
    times.stale_until += Seconds{m.stale_max_age.load(std::memory_order_relaxed)};
  }
  // Built before taking the lock, so the critical section does no allocation of its own
  // (the retire list is reserved and only grows while readers hold many entries).
  CacheEntry* entry = CacheEntry::create(key, answer.wire, answer.ttl_offsets, times, ttl_floor,
                                         answer.negative ? ttl : ttl_ceiling);

  Shard& s = m.shardOf(key.hash);
  std::unique_lock lock(s.mutex, std::try_to_lock);
  if (!lock.owns_lock() || !m.makeRoom(s, need, now)) {
    CacheEntry::destroy(entry);
    m.inserts_skipped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::atomic<CacheEntry*>& slot = m.pickSlot(s, m.bucketOf(s, key.hash), key, now);
  CacheEntry* old = slot.load(std::memory_order_relaxed);
  slot.store(entry, std::memory_order_seq_cst);  // publish (and unlink `old`: C in epoch.h)
  s.live_bytes += need;
  ++s.live_entries;
  if (old != nullptr) {
    m.retire(s, old);
  }
  if (s.retired.size() >= kReclaimBatch) {
    m.reclaim(s);
  }
  Impl::publishCounters(s);
}

void PacketCache::flush() {
  Impl& m = *impl_;
  for (size_t i = 0; i < m.shard_count; ++i) {
    Shard& s = m.shards[i];
    std::lock_guard lock(s.mutex);
    for (size_t j = 0; j < m.slots_per_shard; ++j) {
      if (CacheEntry* e = m.slotAt(s, j).exchange(nullptr, std::memory_order_seq_cst)) {
        m.retire(s, e);
      }
    }
    m.reclaim(s);
    Impl::publishCounters(s);
  }
}

void PacketCache::setOptions(const CacheOptions& options) {
  impl_->setKnobs(options);
}

size_t PacketCache::entries() const noexcept {
  size_t n = 0;
  for (size_t i = 0; i < impl_->shard_count; ++i) {
    n += impl_->shards[i].entries_seen.load(std::memory_order_relaxed);
  }
  return n;
}

size_t PacketCache::bytes() const noexcept {
  size_t n = impl_->index_bytes;
  for (size_t i = 0; i < impl_->shard_count; ++i) {
    n += impl_->shards[i].bytes_seen.load(std::memory_order_relaxed);
  }
  return n;
}

uint64_t PacketCache::insertsSkipped() const noexcept {
  return impl_->inserts_skipped.load(std::memory_order_relaxed);
}

}  // namespace steadfast::cache
