// SPDX-License-Identifier: Apache-2.0
// FeedControl: the threat feeds of the configuration turned into the block policy the
// workers read. For every [[feed]] it fetches the bytes (feed_source.h: file:// now, the
// network sources of threatfeed/fetch later), parses them (threatfeed/core), applies the
// guards (root, TLDs, public suffixes, the names of upstreams, feed sources and report sinks;
// max_entries, max_shrink, the 5% malformed share), builds one BlockIndex over every feed in
// config order and publishes it with the per-feed answers and counters as one BlockPolicy
// (pipeline/block_policy.h): a single pointer swap the workers pick up at their next batch.
// A rejected update keeps the feed's last accepted copy (and so the previous blocking) and
// is counted in steadfast_feed_updates_total{result="rejected"}.
//
// Threads: start() builds on the calling thread before the workers serve (blocking is on from
// the first query). After that every fetch and build runs on FeedControl's own build thread,
// never on a worker (they must not stall) and never on the control loop (a 1M-name build
// takes a second or more, and the loop runs the health probes and timers whose timing the
// failover depends on). The control loop only asks: reload() on SIGHUP, and the build thread
// wakes by itself when a feed's `refresh` is due (FeedSchedule).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "resolver/app/config.h"
#include "resolver/app/feed_source.h"
#include "resolver/base/clock.h"
#include "resolver/pipeline/block_policy.h"
#include "resolver/pipeline/feed_stats.h"
#include "threatfeed/core/guards.h"

namespace steadfast::app {

/// When each feed is due for a refresh. Pure: driven by the caller's clock.
class FeedSchedule {
 public:
  /// Sets the feeds' refresh periods; every feed becomes due `period` after `now`.
  void reset(const std::vector<Nanos>& periods, MonoTime now);
  /// Marks feed `i` done at `now`: next due one period later.
  void done(size_t i, MonoTime now);
  /// Feed `i`'s fetch failed for the `failures`-th time in a row at `now`: due again after
  /// 2 s doubling per failure, capped by its period and 5 minutes.
  void failed(size_t i, MonoTime now, uint32_t failures);
  /// The feeds due at `now`.
  [[nodiscard]] std::vector<size_t> due(MonoTime now) const;
  /// The earliest due time (MonoTime::max() with no feed).
  [[nodiscard]] MonoTime next() const;

 private:
  std::vector<Nanos> periods_;
  std::vector<MonoTime> due_;
};

/// The [[feed]] `action` / [policy] default_action names as block actions.
std::optional<wire::BlockAction> blockActionFromConfig(const std::string& name);

/// Names a feed must never block: upstream TLS names, feed source hosts, report sink hosts
/// (canonical: lower case, no trailing dot).
std::vector<std::string> protectedNames(const Config& config);

/// A line per feed for --check-config: type, source, state of the file.
std::string describeFeedSources(const Config& config);

class FeedControl {
 public:
  FeedControl(pipeline::BlockHolder& holder, pipeline::FeedStatsRegistry& stats,
              const Clock& clock);
  ~FeedControl();
  FeedControl(const FeedControl&) = delete;
  FeedControl& operator=(const FeedControl&) = delete;

  /// Loads every feed of `config` and publishes the first policy, on the calling thread;
  /// then starts the build thread. A feed that cannot be fetched or is rejected serves
  /// nothing until a good copy arrives (it is logged and counted; the daemon still starts).
  void start(const Config& config);
  /// SIGHUP: re-reads every feed (an operator refresh: a held shrink is accepted) with the
  /// feed settings of `config`. Returns at once; the build thread does the work.
  void reload(const Config& config);
  /// Stops the build thread (waits for a build under way to end).
  void stop();

  /// Builds completed since start (tests and logs).
  [[nodiscard]] uint64_t builds() const;

 private:
  struct Feed;
  struct Request {
    std::optional<Config> config;  // a reload's new configuration
    bool force = false;
  };

  void threadMain();
  void applyConfig(const Config& config);
  /// Fetches, parses and guards feed `f`; true when its accepted copy changed.
  bool update(Feed& f, bool force);
  /// Parses, guards and (when it passes) takes `got` as the feed's copy; a network feed's copy
  /// is then saved to the FeedStore.
  bool accept(Feed& f, FeedPayload& got, bool from_store);
  /// A network feed not yet serving: its stored copy, before any fetch.
  void loadStored(Feed& f);
  /// Feeds whose last fetch failed: due again after their backoff, not a whole period.
  void retryFailed();
  void buildAndPublish();

  pipeline::BlockHolder& holder_;
  pipeline::FeedStatsRegistry& stats_;
  const Clock& clock_;
  std::optional<threatfeed::PublicSuffixList> suffixes_;

  // Build thread only (and start() before the thread exists).
  Config config_;
  std::vector<std::unique_ptr<Feed>> feeds_;
  FeedSchedule schedule_;

  std::thread thread_;
  mutable std::mutex mu_;  // guards the fields below
  std::condition_variable cv_;
  std::optional<Request> pending_;
  bool stop_ = false;
  uint64_t builds_ = 0;
};

}  // namespace steadfast::app
