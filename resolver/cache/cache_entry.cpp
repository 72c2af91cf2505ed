// SPDX-License-Identifier: Apache-2.0
// Building and freeing CacheEntry blocks (off the hot path: insert and reclamation only).
#include "resolver/cache/cache_entry.h"

#include <algorithm>
#include <new>

#include "resolver/wire/message.h"

namespace steadfast::cache {
namespace {
constexpr uint32_t kMaxRecordTtl = 0x7FFFFFFF;  // RFC 2181 section 8
}  // namespace

CacheEntry* CacheEntry::create(const CacheKey& key, std::span<const uint8_t> wire,
                               std::span<const uint16_t> ttl_offsets, const EntryTimes& times,
                               uint32_t ttl_floor, uint32_t ttl_ceiling) {
  const size_t size = blockSize(key.len, ttl_offsets.size(), wire.size());
  void* mem = ::operator new(size);
  auto* e = new (mem) CacheEntry;
  e->hash = key.hash;
  e->times = times;
  e->block_size = static_cast<uint32_t>(size);
  e->key_len = key.len;
  e->wire_len = static_cast<uint16_t>(wire.size());
  e->ttl_count = static_cast<uint16_t>(ttl_offsets.size());

  auto* base = static_cast<uint8_t*>(mem) + sizeof(CacheEntry);
  std::memcpy(base, key.bytes.data(), key.len);
  if (!ttl_offsets.empty()) {
    std::memcpy(base + key.len, ttl_offsets.data(), 2 * ttl_offsets.size());
  }
  uint8_t* stored = base + key.len + 2 * ttl_offsets.size();
  std::memcpy(stored, wire.data(), wire.size());
  for (uint16_t off : ttl_offsets) {
    uint32_t ttl = wire::readU32(stored + off);
    if (ttl > kMaxRecordTtl) {
      ttl = 0;
    }
    // Floor first, ceiling last: a misconfigured floor above the ceiling yields the ceiling.
    ttl = std::min(std::max(ttl, ttl_floor), ttl_ceiling);
    wire::writeU32(stored + off, ttl);
  }
  return e;
}

void CacheEntry::destroy(CacheEntry* e) noexcept {
  e->~CacheEntry();
  ::operator delete(static_cast<void*>(e));
}

}  // namespace steadfast::cache
