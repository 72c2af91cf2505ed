// SPDX-License-Identifier: Apache-2.0
// EpochDomain: epoch-based reclamation for PacketCache entries, internal to resolver/cache.
// Readers announce themselves per read section; writers tag what they unlink and free it once
// no reader that might still hold it remains in a read section. Nobody ever waits.
//
// Glossary:
//   global epoch  a counter, starts at 1; every retire bumps it (fetch_add) and keeps the old
//                 value as the entry's tag T.
//   reader slot   one per registered reader, on its own cache line; 0 = not in a section,
//                 else the global epoch E read when the current section began.
//   retire        unlink an entry from the index (a seq_cst store or exchange on the index
//                 slot), then tag it. It stays allocated (and counted) until reclaimed.
//   reclaim       free every retired entry whose tag T is below every non-zero reader slot.
//
// Memory-ordering argument (C++20 [atomics.order]; S = the single total order of seq_cst
// operations). Reader R: L = global.load(seq_cst); A = slot_R.store(L, seq_cst); then
// B = index.load(seq_cst) may return entry p. Writer W (under the shard mutex): C = the
// seq_cst store replacing p in the index; D = T = global.fetch_add(1, seq_cst). Reclaimer
// (the same or a later holder of that mutex, so D strongly happens before it):
// G = slot_R.load(seq_cst), and p is freed only if G returned 0 or a value > T.
//  1. If B returned p, G sees A or a later store. Otherwise G is coherence-ordered before A,
//     so G <S A; A <S B (sequenced); B read a value older than C, so B <S C; C <S D <S G:
//     a cycle in S. This is why the index loads in lookup are seq_cst rather than acquire:
//     an acquire load is not in S and could be satisfied before A becomes visible
//     (store-load reordering). On x86-64 a seq_cst load is a plain mov, so it costs nothing.
//  2. If B returned p then E = L <= T. Otherwise L read D or a later fetch_add (all part of
//     D's release sequence), so C happens before B and B could not see the pre-C value p
//     (write-read coherence; an entry is never published twice).
//  3. So while R is inside the section in which it saw p, G reads E <= T and p is kept. If G
//     reads 0 or a later section's epoch, R's section ended with a release store (0) or began
//     another with a seq_cst store, both sequenced after its reads of p, and G acquires it:
//     those reads happen before the free. (TSan checks exactly this happens-before.)
// Entries' contents are published by the seq_cst (hence release) index store and read after
// the seq_cst (hence acquire) index load, so readers see them fully built.
//
// Bound: a reader stuck in a section delays reclamation but never blocks a writer; retired
// bytes keep counting toward the shard budget, so memory stays bounded and inserts are
// skipped (counted) instead.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>

#include "resolver/base/assert.h"

namespace steadfast::cache {

class EpochDomain {
 public:
  explicit EpochDomain(size_t max_readers)
      : max_readers_(max_readers), slots_(std::make_unique<ReaderSlot[]>(max_readers)) {}

  /// Thread-safe; aborts past max_readers (a configuration bug: too many worker threads).
  [[nodiscard]] uint32_t registerReader() noexcept {
    const uint32_t id = registered_.fetch_add(1, std::memory_order_seq_cst);
    STEADFAST_REQUIRE(id < max_readers_);
    return id;
  }

  /// Starts a read section of reader `id` (A in the argument above). Not reentrant.
  void enter(uint32_t id) noexcept {
    STEADFAST_ASSERT(id < max_readers_);
    STEADFAST_ASSERT(slots_[id].epoch.load(std::memory_order_relaxed) == 0);
    slots_[id].epoch.store(global_.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
  }

  /// Ends the read section: everything the reader did before happens before a reclaimer
  /// that reads this 0.
  void exit(uint32_t id) noexcept { slots_[id].epoch.store(0, std::memory_order_release); }

  /// Call after unlinking an entry (seq_cst); returns its tag (D above).
  [[nodiscard]] uint64_t retireTag() noexcept {
    return global_.value.fetch_add(1, std::memory_order_seq_cst);
  }

  /// Smallest epoch of a reader now in a section, or UINT64_MAX. A retired entry with tag T
  /// may be freed iff T < oldestActive() (G above).
  [[nodiscard]] uint64_t oldestActive() const noexcept {
    const size_t n = std::min<size_t>(registered_.load(std::memory_order_seq_cst), max_readers_);
    uint64_t oldest = std::numeric_limits<uint64_t>::max();
    for (size_t i = 0; i < n; ++i) {
      const uint64_t e = slots_[i].epoch.load(std::memory_order_seq_cst);
      if (e != 0 && e < oldest) {
        oldest = e;
      }
    }
    return oldest;
  }

 private:
  struct alignas(64) ReaderSlot {
    std::atomic<uint64_t> epoch{0};
  };
  // Every reader loads it once per section and every retire bumps it: keep it off the
  // cache lines of the other members.
  struct alignas(64) GlobalEpoch {
    std::atomic<uint64_t> value{1};
    [[nodiscard]] uint64_t load(std::memory_order o) const noexcept { return value.load(o); }
  };

  GlobalEpoch global_;
  std::atomic<uint32_t> registered_{0};
  size_t max_readers_;
  std::unique_ptr<ReaderSlot[]> slots_;
};

}  // namespace steadfast::cache
