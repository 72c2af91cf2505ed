// SPDX-License-Identifier: Apache-2.0
// Counters of the threat feeds (issue 7). Per feed and per worker: blocked queries by action
// and the most-hit indicators (TopHits), written by that worker only (relaxed atomics, no
// lock); per feed: updates by result, entries and the time of the last accepted update,
// written by the control thread. Entries are created by the control thread (start, reload)
// and never removed, so the pointers the published block policy carries stay valid.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "resolver/pipeline/stats.h"
#include "resolver/pipeline/top_hits.h"
#include "resolver/wire/block_answer.h"

namespace steadfast::pipeline {

inline constexpr size_t kBlockActions = 7;  // wire::BlockAction
/// The `action` label: nxdomain, nodata, drop, tcp-only, passthru, sinkhole, local-data.
std::string_view blockActionName(wire::BlockAction a) noexcept;

/// steadfast_feed_updates_total{result}: ok, unchanged, rejected, error (interface.md).
enum class FeedUpdateResult : uint8_t { Ok, Unchanged, Rejected, Error, kCount };
inline constexpr size_t kFeedUpdateResults = static_cast<size_t>(FeedUpdateResult::kCount);
std::string_view feedUpdateResultName(FeedUpdateResult r) noexcept;

struct alignas(64) FeedWorkerStats {
  std::array<Counter, kBlockActions> blocked;  // by wire::BlockAction
  TopHits top;

  void countBlocked(wire::BlockAction a) noexcept { blocked[static_cast<size_t>(a)].inc(); }
};

struct FeedStats {
  FeedStats(std::string feed_name, size_t workers)
      : name(std::move(feed_name)),
        worker_count(workers),
        per_worker(std::make_unique<FeedWorkerStats[]>(workers)) {}
  std::string name;
  size_t worker_count;
  std::unique_ptr<FeedWorkerStats[]> per_worker;
  // Control thread only writes these.
  std::array<Counter, kFeedUpdateResults> updates;
  std::atomic<int64_t> entries{0};
  std::atomic<int64_t> last_success_unix{0};  // 0: never

  [[nodiscard]] FeedWorkerStats& worker(size_t i) noexcept { return per_worker[i]; }
  [[nodiscard]] const FeedWorkerStats& worker(size_t i) const noexcept { return per_worker[i]; }
  /// Blocked queries of one action summed over workers. Any thread.
  [[nodiscard]] uint64_t blocked(wire::BlockAction a) const noexcept;
  /// The most-hit indicators over every worker (counts of one name added), most hits first,
  /// at most `limit`. Any thread; the accessor the reporting issue builds on.
  [[nodiscard]] std::vector<TopHits::Entry> topHits(size_t limit) const;
};

class FeedStatsRegistry {
 public:
  explicit FeedStatsRegistry(size_t workers) : workers_(workers) {}
  /// Finds or creates the counters of feed `name`. Thread-safe.
  FeedStats& feed(std::string_view name);
  /// Visits every feed's counters, in the order they were created. Thread-safe.
  template <class F>
  void forEach(F&& f) const {
    std::lock_guard lock(mu_);
    for (const auto& s : feeds_) {
      f(*s);
    }
  }

 private:
  size_t workers_;
  mutable std::mutex mu_;  // guards feeds_
  std::deque<std::unique_ptr<FeedStats>> feeds_;
};

}  // namespace steadfast::pipeline
