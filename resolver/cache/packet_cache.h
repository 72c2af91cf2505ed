// SPDX-License-Identifier: Apache-2.0
// PacketCache: a sharded cache of whole answers in wire form, keyed on the lower-cased qname,
// qtype, qclass, DO and CD (the CoreDNS/dnsdist key). Serve-stale per RFC 8767.
//
// Concurrency (why a hit takes no lock): readers never lock. Each shard's index is an array
// of atomic pointers to immutable entries; a writer (insert/evict, under the shard mutex)
// publishes a new entry with one atomic store and retires the old one. Retired entries are
// freed only when every registered reader has left the read section it was in when the
// entry was retired (epoch-based reclamation). A reader announces itself once per batch
// of packets with `read(reader)`, so the cost of the announcement is amortised.
// A hit copies the entry into the caller's buffer and counts the TTLs down: no allocation.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "resolver/base/clock.h"
#include "resolver/cache/cache_options.h"
#include "resolver/wire/message.h"

namespace steadfast::cache {

/// The cache key: lower-cased qname (wire), qtype, qclass, and a flags byte (DO, CD).
struct CacheKey {
  uint64_t hash = 0;
  uint16_t len = 0;
  std::array<uint8_t, wire::kMaxNameWire + 5> bytes{};

  static CacheKey make(std::span<const uint8_t> qname_lower, uint16_t qtype, uint16_t qclass,
                       bool do_bit, bool cd) noexcept;
  static CacheKey forQuery(const wire::Query& q) noexcept {
    return make(q.nameLower(), q.qtype, q.qclass, q.do_bit, q.cd());
  }
  [[nodiscard]] bool operator==(const CacheKey& o) const noexcept;
};

/// What an insert stores: the answer without OPT, where its TTLs are, and its TTL.
struct CacheableAnswer {
  std::span<const uint8_t> wire;
  std::span<const uint16_t> ttl_offsets;
  uint32_t ttl = 0;       // min TTL of the records, or the RFC 2308 negative TTL
  bool negative = false;  // NXDOMAIN / NODATA: clamp with negative_max_ttl
};

enum class LookupResult : uint8_t { Miss, Hit, Stale };

/// Index of a registered reader thread.
using ReaderId = uint32_t;

class PacketCache {
 public:
  explicit PacketCache(const CacheOptions& options);
  ~PacketCache();
  PacketCache(const PacketCache&) = delete;
  PacketCache& operator=(const PacketCache&) = delete;

  /// Registers a reader (one per thread that calls lookup). Thread-safe; not hot path.
  /// Aborts past options.max_readers.
  ReaderId registerReader();

  /// RAII read section: while it lives, no entry the reader may see is freed.
  class ReadSection {
   public:
    ReadSection(PacketCache& cache, ReaderId id) noexcept;
    ~ReadSection();
    ReadSection(const ReadSection&) = delete;
    ReadSection& operator=(const ReadSection&) = delete;

   private:
    PacketCache& cache_;
    ReaderId id_;
  };

  /// Looks `key` up. Fresh entry: copies it into `out`, counts TTLs down by its age, returns
  /// Hit. Expired but younger than stale_max_age past expiry, and `allow_stale`: copies it with
  /// every TTL set to stale_answer_ttl, returns Stale. Otherwise (or if `out` is too small)
  /// Miss. The ID and qname case in `out` are the stored ones: the caller finishes the answer.
  /// Must be called inside a ReadSection of the calling thread. No allocation, no lock.
  [[nodiscard]] LookupResult lookup(const CacheKey& key, MonoTime now, bool allow_stale,
                                    std::span<uint8_t> out, size_t& out_len) noexcept;

  /// Stores (or replaces) the answer. TTL clamped to [min_ttl, max_ttl] (negative:
  /// [min_ttl, negative_max_ttl]); TTL 0 after clamping is not stored. Evicts to stay under
  /// max_memory (expired-beyond-stale first, then a CLOCK sweep). Takes the shard mutex and
  /// allocates; callable from any thread. If the shard mutex is busy, or retired entries that
  /// readers may still hold fill the shard's budget, the insert is skipped and counted in
  /// insertsSkipped() rather than waited for (STYLE.md section 6).
  void insert(const CacheKey& key, const CacheableAnswer& answer, MonoTime now);

  /// Drops every entry (control API). Thread-safe.
  void flush();

  /// Replaces the TTL knobs (SIGHUP). max_memory, shards and max_readers keep their values.
  void setOptions(const CacheOptions& options);

  [[nodiscard]] size_t entries() const noexcept;
  [[nodiscard]] size_t bytes() const noexcept;
  /// Inserts dropped because of lock contention or memory held by readers (a counter).
  [[nodiscard]] uint64_t insertsSkipped() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace steadfast::cache
