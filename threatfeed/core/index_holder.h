// SPDX-License-Identifier: Apache-2.0
// BlockIndexHolder: publishes a BlockIndex to the worker threads with one atomic pointer
// swap. Readers take no lock and never wait: each registered reader has a hazard slot (own
// cache line) in which it announces the index it uses. A publisher swaps the pointer and
// frees a retired index once no hazard slot names it (it never waits either: what is still
// in use stays retired until a later publish() or reclaim()).
//
// Ordering (C++20 [atomics.order], S = the total order of seq_cst operations): reader R does
// P = current.load; H = slot.store(P); V = current.load, and uses P only if V returned P.
// Publisher W does X = current.exchange(new) then, later, G = slot.load for each slot, and
// frees P only if no G returned P. If R uses P: V <S X (V read P, which X replaced), so
// H <S V <S X <S G and G reads H or a later store of R's slot; that slot holds P until R's
// release, a release store whose reads G acquires: R's uses happen before the free.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "threatfeed/core/block_index.h"

namespace steadfast::threatfeed {

class BlockIndexHolder {
 public:
  /// Starts with an empty index (lookups miss), so readers never see null.
  explicit BlockIndexHolder(size_t max_readers);
  ~BlockIndexHolder();
  BlockIndexHolder(const BlockIndexHolder&) = delete;
  BlockIndexHolder& operator=(const BlockIndexHolder&) = delete;

  /// Thread-safe; aborts past max_readers (a configuration bug).
  [[nodiscard]] uint32_t registerReader() noexcept;

  /// RAII read section of one reader: the index stays valid until the guard ends. Not
  /// reentrant per reader id. No allocation, no lock.
  class Guard {
   public:
    Guard(const BlockIndexHolder& holder, uint32_t reader) noexcept;
    ~Guard();
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    const BlockIndex& index() const noexcept { return *index_; }
    const BlockIndex* operator->() const noexcept { return index_; }

   private:
    std::atomic<const BlockIndex*>& slot_;
    const BlockIndex* index_;
  };

  /// Publishes `next` (not null) and frees what no reader uses. Publishers are serialized by
  /// an internal mutex (never taken by readers). Returns the number still retired.
  size_t publish(std::unique_ptr<const BlockIndex> next);
  /// Frees retired indexes no reader uses now; returns how many are still retired.
  size_t reclaim();

  /// The index now published, for a writer that needs its counts (no read protection:
  /// call only from the publishing thread).
  const BlockIndex& currentForWriter() const noexcept;

 private:
  struct alignas(64) Slot {
    std::atomic<const BlockIndex*> hazard{nullptr};
  };
  size_t reclaimLocked();

  const size_t max_readers_;
  std::unique_ptr<Slot[]> slots_;
  std::atomic<uint32_t> registered_{0};
  alignas(64) std::atomic<const BlockIndex*> current_;
  std::mutex publish_mutex_;
  std::vector<const BlockIndex*> retired_;
};

}  // namespace steadfast::threatfeed
