// SPDX-License-Identifier: Apache-2.0
// Kept-open TCP and TLS connections to upstreams (RFC 7766, RFC 7858), one pool per worker
// loop (loop thread only). Queries to a tcp:// or tls:// upstream share its connections:
// several in flight on one connection, answers matched by ID in any order, at most
// `max_connections` per upstream, idle connections closed, reconnects after failures spaced
// by ReconnectBackoff, TLS sessions resumed. A TLS verification failure fails every query
// waiting on that connection with kind Tls; nothing is ever sent in cleartext instead.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <uv.h>

#include "failover/plan_config.h"
#include "resolver/base/clock.h"
#include "resolver/base/random.h"
#include "resolver/upstream/attempt_outcome.h"
#include "resolver/upstream/stream_session.h"

namespace steadfast::io {
class TlsClientContext;
}

namespace steadfast::upstream {

/// One query waiting on a pooled connection. The pool calls exactly one of the two methods,
/// unless the waiter is forgotten first.
class StreamWaiter {
 public:
  virtual ~StreamWaiter() = default;
  /// A message with this waiter's ID arrived (valid during the call only).
  virtual void onStreamAnswer(std::span<const uint8_t> msg) = 0;
  /// The connection failed before an answer came (Network, or Tls for a TLS failure).
  virtual void onStreamFailed(AttemptOutcome outcome) = 0;
  void* stream_conn = nullptr;  // the pool's, do not touch
};

struct StreamPoolConfig {
  size_t max_connections = 4;  // per upstream
  size_t max_in_flight = 64;   // per connection
  Nanos idle_timeout = Seconds{10};
  Nanos backoff_base = Millis{250};
  Nanos backoff_max = Seconds{30};
};

/// What the pool tells its owner (metrics, log).
class StreamPoolListener {
 public:
  virtual ~StreamPoolListener() = default;
  /// A new connection to `uri` was started on behalf of `waiter`'s query.
  virtual void onConnectionOpened(const failover::UpstreamUri& uri, StreamWaiter* waiter) = 0;
  /// The TLS handshake to `uri` failed verification or the protocol (`why` for the log).
  virtual void onTlsFailure(const failover::UpstreamUri& uri, const std::string& why) = 0;
};

class StreamConn;

class StreamPool {
 public:
  StreamPool(uv_loop_t* loop, const Clock& clock, StreamPoolConfig cfg,
             StreamPoolListener* listener);
  ~StreamPool();
  StreamPool(const StreamPool&) = delete;
  StreamPool& operator=(const StreamPool&) = delete;

  /// Queues `query` (a whole DNS message, ID at its start) for `waiter` on a connection to
  /// `uri`, rewriting its ID to one not in flight on that connection (from the CSPRNG);
  /// `*id` receives it. Returns the outcome to report at once when no connection can take
  /// the query (all full, or reconnect backoff after a failure), or Answer when queued.
  AttemptOutcome send(const failover::UpstreamUri& uri, StreamWaiter* waiter,
                      std::span<uint8_t> query, uint16_t* id);
  /// Drops `waiter` from its connection (cancelled, timed out): no callback follows.
  void forget(StreamWaiter* waiter) noexcept;
  /// Connections currently open or opening, over every upstream.
  [[nodiscard]] size_t connections() const noexcept;

 private:
  friend class StreamConn;
  struct Upstream {
    Upstream(const Clock& clock, Random& random, const StreamPoolConfig& cfg)
        : backoff(clock, random, cfg.backoff_base, cfg.backoff_max) {}
    std::vector<StreamConn*> conns;
    ReconnectBackoff backoff;
    AttemptOutcome last_failure{};
    void* session = nullptr;  // SSL_SESSION* to resume, owned
  };
  Upstream& upstreamFor(const failover::UpstreamUri& uri);
  io::TlsClientContext* tlsContext(const std::string& ca_file, std::string* why);
  void connDone(Upstream& up, StreamConn* conn) noexcept;  // unlinks a closing connection

  uv_loop_t* loop_;
  const Clock& clock_;
  FastRandom random_;
  StreamPoolConfig cfg_;
  StreamPoolListener* listener_;
  std::unordered_map<std::string, std::unique_ptr<Upstream>> upstreams_;
  std::unordered_map<std::string, std::unique_ptr<io::TlsClientContext>> tls_contexts_;
  std::vector<uint8_t> read_buf_;
};

}  // namespace steadfast::upstream
