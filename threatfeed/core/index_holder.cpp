// SPDX-License-Identifier: Apache-2.0
#include "threatfeed/core/index_holder.h"

#include <algorithm>

#include "resolver/base/assert.h"

namespace steadfast::threatfeed {

BlockIndexHolder::BlockIndexHolder(size_t max_readers)
    : max_readers_(max_readers),
      slots_(std::make_unique<Slot[]>(max_readers)),
      current_(new BlockIndex()) {}

BlockIndexHolder::~BlockIndexHolder() {
  // no reader may be inside a section now (the owner outlives its workers)
  delete current_.load(std::memory_order_seq_cst);
  for (const BlockIndex* r : retired_) {
    delete r;
  }
}

uint32_t BlockIndexHolder::registerReader() noexcept {
  const uint32_t id = registered_.fetch_add(1, std::memory_order_seq_cst);
  STEADFAST_REQUIRE(id < max_readers_);
  return id;
}

BlockIndexHolder::Guard::Guard(const BlockIndexHolder& holder, uint32_t reader) noexcept
    : slot_(holder.slots_[reader].hazard) {
  STEADFAST_ASSERT(reader < holder.max_readers_);
  STEADFAST_ASSERT(slot_.load(std::memory_order_relaxed) == nullptr);
  const BlockIndex* p = holder.current_.load(std::memory_order_seq_cst);
  while (true) {
    slot_.store(p, std::memory_order_seq_cst);
    const BlockIndex* v = holder.current_.load(std::memory_order_seq_cst);
    if (v == p) {
      break;
    }
    p = v;
  }
  index_ = p;
}

BlockIndexHolder::Guard::~Guard() {
  slot_.store(nullptr, std::memory_order_release);
}

size_t BlockIndexHolder::publish(std::unique_ptr<const BlockIndex> next) {
  STEADFAST_REQUIRE(next != nullptr);
  std::lock_guard lock(publish_mutex_);
  const BlockIndex* old = current_.exchange(next.release(), std::memory_order_seq_cst);
  retired_.push_back(old);
  return reclaimLocked();
}

size_t BlockIndexHolder::reclaim() {
  std::lock_guard lock(publish_mutex_);
  return reclaimLocked();
}

size_t BlockIndexHolder::reclaimLocked() {
  const size_t n = std::min<size_t>(registered_.load(std::memory_order_seq_cst), max_readers_);
  std::erase_if(retired_, [&](const BlockIndex* r) {
    for (size_t i = 0; i < n; ++i) {
      // seq_cst: G in the argument of index_holder.h; also acquires the reader's release
      if (slots_[i].hazard.load(std::memory_order_seq_cst) == r) {
        return false;
      }
    }
    delete r;
    return true;
  });
  return retired_.size();
}

const BlockIndex& BlockIndexHolder::currentForWriter() const noexcept {
  return *current_.load(std::memory_order_seq_cst);
}

}  // namespace steadfast::threatfeed
