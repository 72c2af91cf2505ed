// SPDX-License-Identifier: Apache-2.0
// BlockIndex: the immutable, compact, suffix-aware block index the pipeline consults on
// every query. Built by BlockIndexBuilder off the worker threads, published through
// BlockIndexHolder (index_holder.h). Layout and rationale: docs/architecture.md
// ("Block index").
//
// Semantics:
//   - names are case-insensitive; a rule is Exact (the name only) or Subdomains (strict
//     subdomains only, RPZ "*.name"); a domains-list entry is both, stored as one rule;
//   - [policy] allow names (and their subdomains) always win: lookup says Allowed;
//   - otherwise the first feed in config order with any matching rule decides; within that
//     feed the most specific match (longest name; at equal names Exact) decides;
//   - a Passthru match is returned as such (the caller does not block; lower feeds are not
//     consulted, as in RPZ).
// Lookup allocates nothing, takes no lock and never throws.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "threatfeed/core/feed_types.h"

namespace steadfast::threatfeed {

struct BlockMatch {
  uint16_t feed = 0;  // index of the feed in the order given to the builder
  Action action = Action::FeedDefault;
  uint32_t rule_id = 0;                // dense in [0, BlockIndex::rules()), for hit counters
  std::span<const LocalRecord> local;  // LocalData records (valid while the index lives)
};

enum class Verdict : uint8_t { None, Allowed, Matched };

struct LookupResult {
  Verdict verdict = Verdict::None;
  BlockMatch match;  // when Matched
};

/// What a rule id stands for (reports, most-hit indicators).
struct RuleInfo {
  std::string name;  // canonical trigger name, or "ADDR/LEN" for a response-IP rule
  Match match = Match::Exact;
  bool both = false;  // a domains-list rule: the name and its subdomains
  uint16_t feed = 0;
  Action action = Action::FeedDefault;
};

class BlockIndex {
 public:
  BlockIndex();  // empty: every lookup is a miss
  ~BlockIndex();
  BlockIndex(const BlockIndex&) = delete;
  BlockIndex& operator=(const BlockIndex&) = delete;

  /// `wire_name`: an uncompressed wire name, any case, with the final zero byte (as in
  /// wire::Query::name()). A malformed name is a miss.
  LookupResult lookup(std::span<const uint8_t> wire_name) const noexcept;
  /// `addr`: 4 (IPv4) or 16 (IPv6) bytes in network order, an answer's A/AAAA rdata. The
  /// first feed with a covering prefix decides, the longest prefix within it.
  LookupResult lookupAddress(std::span<const uint8_t> addr) const noexcept;

  size_t nameEntries() const noexcept;  // distinct names (including allow names)
  size_t rules() const noexcept;        // rule ids in use
  size_t feeds() const noexcept;
  /// Bytes held by the index's arrays (for memory accounting and the benchmark).
  size_t memoryBytes() const noexcept;
  size_t nameBytes() const noexcept;  // of which name bytes
  RuleInfo ruleInfo(uint32_t rule_id) const;
  /// Rules the feed contributed (after precedence: shadowed duplicates are not counted).
  uint64_t feedRules(uint16_t feed) const noexcept;

  struct Impl;

 private:
  friend class BlockIndexBuilder;
  std::unique_ptr<Impl> impl_;
};

class BlockIndexBuilder {
 public:
  BlockIndexBuilder();
  ~BlockIndexBuilder();

  /// An allow name (canonical): it and its subdomains are never blocked.
  void addAllow(std::string_view name);
  /// Parses an allow_file (domains-list syntax); returns the parse stats.
  ParseStats addAllowList(std::string_view text);
  /// Adds the next feed in config order; returns its feed index. `default_action` replaces
  /// Action::FeedDefault entries (domains/hosts) and may itself stay FeedDefault, in which
  /// case the caller maps it to [policy] default_action when answering.
  uint16_t addFeed(const FeedEntries& feed, Action default_action = Action::FeedDefault);

  /// Builds the index (call once). Cost is linear in the entries.
  std::unique_ptr<const BlockIndex> build();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace steadfast::threatfeed
