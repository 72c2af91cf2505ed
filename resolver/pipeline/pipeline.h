// SPDX-License-Identifier: Apache-2.0
// Pipeline: what happens to one client query on a worker thread.
//   parse -> ACL -> cache -> forward (candidates from the failover plan, hedged by measured
//         RTT, retried within query_budget) -> serve-stale (RFC 8767) -> SERVFAIL with EDE
// What each upstream attempt taught (RTT, success, failure) is kept per worker for the
// adaptive waits and the `fastest` ranking, and failures go to the control thread's health
// state machines through the PassiveChannel.
// Cache hits are answered synchronously into the caller's buffer with no allocation and no
// lock. Misses become PendingQuery objects (pooled) whose answers are delivered later through
// the DeliverySink the listener implements. Loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include <uv.h>

#include "failover/rtt_estimator.h"
#include "failover/selection.h"
#include "resolver/base/clock.h"
#include "resolver/base/random.h"
#include "resolver/base/socket_address.h"
#include "resolver/cache/packet_cache.h"
#include "resolver/pipeline/block_policy.h"
#include "resolver/pipeline/passive.h"
#include "resolver/pipeline/runtime.h"
#include "resolver/pipeline/stats.h"
#include "resolver/recursion/recursor.h"
#include "resolver/upstream/upstream_client.h"
#include "resolver/wire/message.h"

namespace steadfast::pipeline {

/// Where a deferred answer goes. Filled by the listener, opaque to the pipeline.
struct ClientHandle {
  Transport transport = Transport::Udp;
  int udp_fd = -1;           // UDP: the listener socket to answer from
  SocketAddress peer;        // UDP: the client
  void* conn = nullptr;      // TCP: the connection
  uint64_t conn_serial = 0;  // TCP: detects a connection that closed meanwhile
};

class DeliverySink {
 public:
  virtual ~DeliverySink() = default;
  /// Sends a deferred answer; an empty `answer` means none (the query is dropped). Called
  /// exactly once per query that process() returned Pending for.
  virtual void deliver(const ClientHandle& client, std::span<const uint8_t> answer) noexcept = 0;
};

enum class Verdict : uint8_t { Answered, Dropped, Pending };

struct PendingQuery;

class Pipeline final : public upstream::AttemptListener, public recursion::RecursionListener {
 public:
  /// Queries one worker may have outstanding upstream at once (each holds up to a few
  /// sockets); past it a miss is answered stale or dropped (steadfast_overload_dropped_total).
  static constexpr size_t kMaxPending = 8192;

  /// Mismatched answers from one upstream within kMismatchWindow that count as one passive
  /// failure (a burst: someone is trying to spoof, or the upstream is confused).
  static constexpr uint32_t kMismatchBurst = 10;
  static constexpr Nanos kMismatchWindow = Seconds{1};

  /// Optional collaborators. Defaults: the system clock, a UpstreamClient of its own on
  /// `loop`, a FastRandom of its own, and no passive channel.
  struct Options {
    const Clock* clock = nullptr;
    upstream::AttemptSender* sender = nullptr;  // must call back this Pipeline's listener
    Random* random = nullptr;
    PassiveChannel* passive = nullptr;
  };

  Pipeline(uv_loop_t* loop, cache::PacketCache& cache, cache::ReaderId reader,
           RuntimeHolder& runtime, WorkerStats& stats, size_t worker_index, DeliverySink& sink);
  Pipeline(uv_loop_t* loop, cache::PacketCache& cache, cache::ReaderId reader,
           RuntimeHolder& runtime, WorkerStats& stats, size_t worker_index, DeliverySink& sink,
           Options options);
  ~Pipeline() override;
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  /// Picks up a newly published Runtime. Call once per batch, before process().
  void refresh();

  /// Handles one query. Answered: the answer is in out[0, out_len). Pending: it will be
  /// delivered through the sink. Dropped: nothing to send. Cache lookups need the caller to
  /// hold a BatchScope.
  [[nodiscard]] Verdict process(std::span<const uint8_t> query, const SocketAddress& client,
                                const ClientHandle& handle, std::span<uint8_t> out,
                                size_t& out_len) noexcept;

  /// Holds the cache read section for a batch of process() calls. Nestable: only the
  /// outermost scope enters and leaves the section.
  class BatchScope {
   public:
    explicit BatchScope(Pipeline& p) noexcept : p_(p) {
      if (p_.batch_depth_++ == 0) {
        section_.emplace(p_.cache_, p_.reader_);
      }
    }
    ~BatchScope() { --p_.batch_depth_; }
    BatchScope(const BatchScope&) = delete;
    BatchScope& operator=(const BatchScope&) = delete;

   private:
    Pipeline& p_;
    std::optional<cache::PacketCache::ReadSection> section_;
  };

  [[nodiscard]] size_t pending() const noexcept { return pending_count_; }
  /// Runs the timer work (hedge, deadline) of every pending query whose time has come by the
  /// injected clock. The libuv timers call the same code; tests with a FakeClock call this.
  void runDueTimers();
  /// This worker's RTT estimate of upstream `u` of the current Runtime (tests, status).
  [[nodiscard]] const failover::RttEstimator* rtt(size_t u) const noexcept {
    return u < rtt_.size() ? &rtt_[u] : nullptr;
  }
  [[nodiscard]] const Runtime& runtime() const noexcept { return *runtime_; }

  // upstream::AttemptListener
  void onAttemptDone(upstream::Attempt* attempt, uint64_t cookie, upstream::AttemptOutcome outcome,
                     std::span<const uint8_t> msg, const wire::ResponseInfo& info,
                     Nanos rtt) noexcept override;
  void onMismatch(uint64_t cookie) noexcept override;
  void onConnectionOpened(uint64_t cookie) noexcept override;
  // recursion::RecursionListener (the last resort)
  void onRecursionDone(uint64_t cookie, const recursion::RecursionAnswer& answer) noexcept override;

 private:
  struct LocalUpstream {
    bool posted_failure = false;  // the last passive post for it was a failure
    uint32_t mismatches = 0;      // in the current window
    MonoTime mismatch_window{};
  };

  PendingQuery* acquire();
  void syncLocal();
  /// Picks up a newly published BlockPolicy (one atomic load when nothing changed).
  void syncBlock();
  /// The block stage's answer for a rule match: Answered/Dropped into `out`, or nullopt when
  /// the query is to be resolved as usual (PASSTHRU, TCP-only over TCP).
  std::optional<Verdict> answerBlocked(const wire::Query& q, const BlockMatch& m, Transport t,
                                       std::span<uint8_t> out, size_t& out_len) noexcept;
  void passive(const PendingQuery& p, size_t upstream, failover::Outcome o);
  /// Cancels attempt `slot`; `beaten`: another upstream answered first (else the budget
  /// ended).
  void abandon(PendingQuery& p, size_t slot, MonoTime now, bool beaten);
  void onPendingTimer(PendingQuery& p);
  void release(PendingQuery* p);
  void launchNext(PendingQuery& p, MonoTime now);
  void armTimer(PendingQuery& p, MonoTime now);
  void finishWithAnswer(PendingQuery& p, std::span<const uint8_t> msg,
                        const wire::ResponseInfo& info);
  void finishWithoutAnswer(PendingQuery& p);
  /// Starts the last resort for `p` (true), or false when it is off or cannot start.
  bool startLastResort(PendingQuery& p, bool no_tier, MonoTime now);
  [[nodiscard]] recursion::Recursor* recursor();
  void complete(PendingQuery& p, std::span<const uint8_t> answer, Source source);
  void countUpstreamError(const PendingQuery& p, size_t upstream, UpstreamError e);
  static void onTimer(uv_timer_t* timer);
  [[nodiscard]] size_t maxAnswerSize(const wire::Query& q, Transport t) const noexcept;

  uv_loop_t* loop_;
  cache::PacketCache& cache_;
  cache::ReaderId reader_;
  RuntimeHolder& holder_;
  uint64_t generation_ = 0;
  std::shared_ptr<const Runtime> runtime_;
  BlockHolder* block_holder_ = nullptr;
  uint64_t block_generation_ = 0;
  std::shared_ptr<const BlockPolicy> block_;  // null: no feed loaded, no block stage
  WorkerStats& stats_;
  size_t worker_index_;
  DeliverySink& sink_;
  SystemClock system_clock_;
  const Clock& clock_;
  std::unique_ptr<upstream::UpstreamClient> own_client_;
  upstream::AttemptSender* sender_;
  std::unique_ptr<FastRandom> own_random_;
  Random& random_;
  PassiveChannel* passive_;
  uint64_t rotation_ = 0;  // round-robin position
  uint64_t local_plan_id_ = ~uint64_t{0};
  std::vector<LocalUpstream> local_;         // per upstream of runtime_: passive-signal state
  std::vector<failover::RttEstimator> rtt_;  // per upstream of runtime_, this worker's RTTs
  std::vector<std::unique_ptr<PendingQuery>> pool_;  // every PendingQuery ever made
  std::vector<PendingQuery*> free_;
  size_t pending_count_ = 0;
  int batch_depth_ = 0;
  wire::Query query_;                              // the query process() is working on
  std::vector<uint8_t> scratch_;                   // answer assembly for deferred answers (64 KiB)
  std::unique_ptr<recursion::Recursor> recursor_;  // made at the first last-resort query
  bool recursor_failed_ = false;
};

}  // namespace steadfast::pipeline
