// SPDX-License-Identifier: Apache-2.0
// Pipeline: what happens to one client query on a worker thread.
//   parse -> ACL -> cache -> forward (tiers in order, retried within query_budget)
//         -> serve-stale (RFC 8767) -> SERVFAIL with EDE (RFC 8914)
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

#include "resolver/base/socket_address.h"
#include "resolver/cache/packet_cache.h"
#include "resolver/pipeline/runtime.h"
#include "resolver/pipeline/stats.h"
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

class Pipeline final : public upstream::AttemptListener {
 public:
  /// Queries one worker may have outstanding upstream at once (each holds up to a few
  /// sockets); past it a miss is answered stale or dropped (steadfast_overload_dropped_total).
  static constexpr size_t kMaxPending = 8192;

  Pipeline(uv_loop_t* loop, cache::PacketCache& cache, cache::ReaderId reader,
           RuntimeHolder& runtime, WorkerStats& stats, size_t worker_index, DeliverySink& sink);
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
  [[nodiscard]] const Runtime& runtime() const noexcept { return *runtime_; }

  // upstream::AttemptListener
  void onAttemptDone(upstream::Attempt* attempt, uint64_t cookie, upstream::AttemptOutcome outcome,
                     std::span<const uint8_t> msg, const wire::ResponseInfo& info,
                     Nanos rtt) noexcept override;
  void onMismatch(uint64_t cookie) noexcept override;

 private:
  PendingQuery* acquire();
  void release(PendingQuery* p);
  void launchNext(PendingQuery& p, MonoTime now);
  void armTimer(PendingQuery& p, MonoTime now);
  void finishWithAnswer(PendingQuery& p, std::span<const uint8_t> msg,
                        const wire::ResponseInfo& info);
  void finishWithoutAnswer(PendingQuery& p);
  void complete(PendingQuery& p, std::span<const uint8_t> answer, Source source);
  void countUpstreamError(PendingQuery& p, size_t upstream, UpstreamError e);
  static void onTimer(uv_timer_t* timer);
  [[nodiscard]] size_t maxAnswerSize(const wire::Query& q, Transport t) const noexcept;

  uv_loop_t* loop_;
  cache::PacketCache& cache_;
  cache::ReaderId reader_;
  RuntimeHolder& holder_;
  uint64_t generation_ = 0;
  std::shared_ptr<const Runtime> runtime_;
  WorkerStats& stats_;
  size_t worker_index_;
  DeliverySink& sink_;
  upstream::UpstreamClient client_;
  std::vector<std::unique_ptr<PendingQuery>> pool_;  // every PendingQuery ever made
  std::vector<PendingQuery*> free_;
  size_t pending_count_ = 0;
  int batch_depth_ = 0;
  wire::Query query_;             // the query process() is working on
  std::vector<uint8_t> scratch_;  // answer assembly for deferred answers (64 KiB)
};

}  // namespace steadfast::pipeline
