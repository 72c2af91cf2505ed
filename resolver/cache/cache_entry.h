// SPDX-License-Identifier: Apache-2.0
// CacheEntry: one cached answer in a single heap block, internal to resolver/cache.
// Layout: [CacheEntry][key bytes][TTL offsets, 2 bytes each][wire bytes]. Everything but
// `referenced` is written before the entry is published and never again, so readers copy it
// without a lock (see epoch.h for when the block may be freed).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "resolver/base/clock.h"
#include "resolver/cache/packet_cache.h"

namespace steadfast::cache {

/// When an entry stops being fresh and when it stops being servable as stale (RFC 8767).
struct EntryTimes {
  MonoTime inserted_at;
  MonoTime expires_at;
  MonoTime stale_until;  // == expires_at when serve-stale was off at insert
};

struct CacheEntry {
  uint64_t hash = 0;
  EntryTimes times;
  uint32_t block_size = 0;  // bytes of the whole block, as counted by PacketCache::bytes()
  uint16_t key_len = 0;
  uint16_t wire_len = 0;
  uint16_t ttl_count = 0;
  // CLOCK reference bit: set by readers (relaxed), cleared by the writer's sweep. The only
  // field that changes after publication. Starts set, so a new entry that nobody has read yet
  // still gets its second chance: the hand evicts every expired entry it meets before it
  // comes back to a live one.
  mutable std::atomic<uint8_t> referenced{1};

  [[nodiscard]] static size_t blockSize(size_t key_len, size_t ttl_count,
                                        size_t wire_len) noexcept {
    return sizeof(CacheEntry) + key_len + 2 * ttl_count + wire_len;
  }

  /// Allocates and fills an unpublished entry. Each record TTL in the stored copy is clamped
  /// to [ttl_floor, ttl_ceiling] (values above 2^31-1 count as 0, RFC 2181 section 8), so
  /// every answer served later is consistent with the cache's TTL policy. The caller has
  /// checked that each offset + 4 <= wire.size() and that the lengths fit in 16 bits.
  [[nodiscard]] static CacheEntry* create(const CacheKey& key, std::span<const uint8_t> wire,
                                          std::span<const uint16_t> ttl_offsets,
                                          const EntryTimes& times, uint32_t ttl_floor,
                                          uint32_t ttl_ceiling);
  /// Frees a block made by create(). Only once no reader can hold it (epoch.h).
  static void destroy(CacheEntry* e) noexcept;

  [[nodiscard]] const uint8_t* key() const noexcept {
    return reinterpret_cast<const uint8_t*>(this) + sizeof(CacheEntry);
  }
  [[nodiscard]] const uint8_t* wire() const noexcept { return key() + key_len + 2 * ttl_count; }
  [[nodiscard]] uint16_t ttlOffset(size_t i) const noexcept {
    uint16_t v = 0;
    std::memcpy(&v, key() + key_len + 2 * i, sizeof v);
    return v;
  }
  [[nodiscard]] bool matches(const CacheKey& k) const noexcept {
    return hash == k.hash && key_len == k.len && std::memcmp(key(), k.bytes.data(), key_len) == 0;
  }
};

}  // namespace steadfast::cache
