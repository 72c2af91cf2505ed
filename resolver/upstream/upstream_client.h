// SPDX-License-Identifier: Apache-2.0
// UpstreamClient: sends one query attempt to one upstream and reports how it ended. One
// instance per worker loop (loop thread only). UDP attempts use a fresh socket with a random
// source port and a CSPRNG ID (RFC 5452); an answer is accepted only when its source
// (connected socket), ID and question match — anything else is counted as a mismatch and the
// attempt keeps waiting. A truncated UDP answer is retried over TCP inside the same attempt.
// tcp:// and tls:// upstreams go over the kept-open connections of a StreamPool.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include <uv.h>

#include "failover/plan_config.h"
#include "resolver/base/clock.h"
#include "resolver/upstream/attempt_outcome.h"
#include "resolver/upstream/stream_pool.h"
#include "resolver/wire/message.h"

namespace steadfast::upstream {

class Attempt;

/// Receives the end of each attempt. Called on the loop thread.
class AttemptListener {
 public:
  virtual ~AttemptListener() = default;
  /// Exactly once per attempt that was not cancelled. `msg` and `info` are valid only during
  /// the call. After it returns the attempt is gone: forget the pointer.
  virtual void onAttemptDone(Attempt* attempt, uint64_t cookie, AttemptOutcome outcome,
                             std::span<const uint8_t> msg, const wire::ResponseInfo& info,
                             Nanos rtt) noexcept = 0;
  /// A datagram that failed the RFC 5452 checks (wrong ID or question) was ignored.
  virtual void onMismatch(uint64_t cookie) noexcept = 0;
  /// The answer was truncated and the attempt moved to TCP.
  virtual void onTcpFallback(uint64_t /*cookie*/) noexcept {}
  /// The attempt opened a new kept-open connection (tcp:// or tls://) to its upstream.
  virtual void onConnectionOpened(uint64_t /*cookie*/) noexcept {}
};

/// Starts and cancels attempts; UpstreamClient is the real one, tests use a fake that lets
/// them end attempts by hand (driven by a fake clock, no sockets).
class AttemptSender {
 public:
  virtual ~AttemptSender() = default;
  /// See UpstreamClient::start. The outcome reaches the listener later, never from inside
  /// start(); nullptr when the attempt could not even start.
  virtual Attempt* start(const failover::UpstreamUri& uri, const wire::Query& q, uint16_t edns_size,
                         Nanos timeout, uint64_t cookie) = 0;
  /// Abandons an attempt: no callback follows.
  virtual void cancel(Attempt* attempt) noexcept = 0;
};

class UpstreamClient final : public AttemptSender, private StreamPoolListener {
 public:
  UpstreamClient(uv_loop_t* loop, AttemptListener& listener, StreamPoolConfig stream = {});
  ~UpstreamClient() override;
  UpstreamClient(const UpstreamClient&) = delete;
  UpstreamClient& operator=(const UpstreamClient&) = delete;

  /// Starts an attempt: `q` (must outlive the attempt) is sent to `uri` with a fresh random
  /// ID and EDNS payload size `edns_size`. Returns nullptr when no socket could be made (the
  /// caller counts a network error and moves on).
  Attempt* start(const failover::UpstreamUri& uri, const wire::Query& q, uint16_t edns_size,
                 Nanos timeout, uint64_t cookie) override;
  /// Abandons an attempt: no callback follows. Its sockets close asynchronously.
  void cancel(Attempt* attempt) noexcept override;
  [[nodiscard]] size_t inFlight() const noexcept { return in_flight_; }
  /// Kept-open stream connections (tcp://, tls://) open or opening.
  [[nodiscard]] size_t streamConnections() const noexcept { return pool_->connections(); }

 private:
  friend class Attempt;
  void onConnectionOpened(const failover::UpstreamUri& uri, StreamWaiter* waiter) override;
  void onTlsFailure(const failover::UpstreamUri& uri, const std::string& why) override;
  uv_loop_t* loop_;
  AttemptListener& listener_;
  size_t in_flight_ = 0;
  Attempt* head_ = nullptr;  // intrusive list of live attempts, closed in the destructor
  SystemClock clock_;
  std::unique_ptr<StreamPool> pool_;  // destroyed after the attempts finished in ~UpstreamClient
  // One receive buffer per loop (not thread_local: static TLS is carved out of every thread's
  // stack, and civetweb's 100 KiB thread stacks cannot hold 64 KiB of it).
  std::vector<uint8_t> recv_buf_ = std::vector<uint8_t>(65536);
};

}  // namespace steadfast::upstream
