// SPDX-License-Identifier: Apache-2.0
// The block stage's view of the threat feeds: one immutable BlockPolicy (the index built from
// every feed, the per-feed names, EDE texts, actions and counters, the [policy] answers),
// published by FeedControl on the feed build thread through the BlockHolder and picked up by
// each worker once per batch with one atomic generation check, like the Runtime. A query
// reads the worker's own shared_ptr: no lock, no allocation.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "resolver/pipeline/feed_stats.h"
#include "resolver/wire/block_answer.h"

namespace steadfast::threatfeed {
class BlockIndex;
}

namespace steadfast::pipeline {

struct BlockFeed {
  std::string name;
  std::string ede_text;                     // "blocked by feed NAME"
  FeedStats* stats = nullptr;               // owned by FeedStatsRegistry, never freed
  std::optional<wire::BlockAction> action;  // [[feed]] action; empty: the rule's own
};

/// What a lookup found.
struct BlockMatch {
  static constexpr size_t kMaxLocal = 16;                  // local-data records answered per rule
  uint32_t feed = 0;                                       // index into BlockPolicy::feeds
  wire::BlockAction action = wire::BlockAction::NxDomain;  // the rule's (or the default)
  std::span<const wire::LocalRecord> local;                // LocalData: into local_storage
  std::span<const uint8_t> trigger;  // what matched, for TopHits: the query name (wire, lower
                                     // case) or the answer address (4 or 16 octets)
  std::array<wire::LocalRecord, kMaxLocal> local_storage{};
};

struct BlockPolicy {
  std::vector<BlockFeed> feeds;
  wire::BlockAction default_action = wire::BlockAction::NxDomain;
  std::array<uint8_t, 4> sinkhole_ipv4{};
  std::array<uint8_t, 16> sinkhole_ipv6{};
  uint32_t ttl = 60;
  std::shared_ptr<const threatfeed::BlockIndex> index;
  bool has_ip_rules = false;  // any rpz-ip rule: upstream answers are checked

  /// QNAME triggers: the first feed (config order) with a rule for `lower_name` (or a
  /// wildcard above it), unless the allowlist covers it. No allocation, no lock.
  [[nodiscard]] bool matchName(std::span<const uint8_t> lower_name, BlockMatch& out) const noexcept;
  /// Response-IP triggers on one answer address (4 or 16 octets).
  [[nodiscard]] bool matchAddress(std::span<const uint8_t> address, BlockMatch& out) const noexcept;
};

class BlockHolder {
 public:
  void publish(std::shared_ptr<const BlockPolicy> policy);
  [[nodiscard]] uint64_t generation() const noexcept {
    return generation_.load(std::memory_order_acquire);
  }
  [[nodiscard]] std::shared_ptr<const BlockPolicy> get() const;

 private:
  mutable std::mutex mu_;  // guards current_; taken once per worker per publication
  std::shared_ptr<const BlockPolicy> current_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace steadfast::pipeline
