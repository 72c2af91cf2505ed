// SPDX-License-Identifier: Apache-2.0
// The deciding parts of kept-open stream connections to one upstream (tcp:// and tls://,
// RFC 7766 and RFC 7858): which queries are in flight on a connection and matching answers to
// them by ID in any order, when to reconnect after a failure (exponential backoff with
// jitter), when an idle connection closes, and which connection a new query goes to under the
// per-upstream bound. Pure logic on a Clock& and a Random&, unit-tested with a fake clock;
// the sockets and TLS live in the transport that uses it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "resolver/base/clock.h"
#include "resolver/base/random.h"

namespace steadfast::upstream {

/// Queries in flight on one connection, by DNS ID. Bounded; no allocation after construction.
class StreamIds {
 public:
  explicit StreamIds(size_t capacity);
  /// Records `id` (chosen by the caller from the CSPRNG) for `cookie`. False when the ID is
  /// already in flight on this connection (pick another) or the table is full.
  [[nodiscard]] bool add(uint16_t id, uint64_t cookie) noexcept;
  /// The cookie of the query with `id`, removed; nullopt for an ID not in flight (an answer
  /// nobody asked for: count a mismatch, keep the connection).
  [[nodiscard]] std::optional<uint64_t> take(uint16_t id) noexcept;
  /// Forgets the query of `cookie` (cancelled or timed out); true when it was there.
  bool forget(uint64_t cookie) noexcept;
  /// Every cookie still in flight, in no order, and empties the table (connection lost).
  std::vector<uint64_t> drain();
  [[nodiscard]] size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] bool full() const noexcept { return entries_.size() >= capacity_; }
  [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }

 private:
  struct Entry {
    uint16_t id;
    uint64_t cookie;
  };
  size_t capacity_;
  std::vector<Entry> entries_;
};

/// When the next connection attempt to an upstream may start. After `n` failures in a row the
/// wait is min(max, base * 2^(n-1)), scaled by a random factor in [0.5, 1) so that many
/// workers do not reconnect in step. A success resets it.
class ReconnectBackoff {
 public:
  ReconnectBackoff(const Clock& clock, Random& random, Nanos base, Nanos max) noexcept;
  [[nodiscard]] bool mayConnect() const noexcept { return clock_.now() >= next_; }
  [[nodiscard]] MonoTime retryAt() const noexcept { return next_; }
  [[nodiscard]] uint32_t failures() const noexcept { return failures_; }
  void onFailure() noexcept;
  void onSuccess() noexcept;

 private:
  const Clock& clock_;
  Random& random_;
  Nanos base_;
  Nanos max_;
  uint32_t failures_ = 0;
  MonoTime next_{};
};

/// A kept-open connection closes when nothing was in flight for `idle` (RFC 7766 section 6.2.3
/// asks clients to close idle connections; servers close them too, usually after seconds).
[[nodiscard]] inline bool shouldCloseIdle(MonoTime now, MonoTime last_activity, size_t in_flight,
                                          Nanos idle) noexcept {
  return in_flight == 0 && now - last_activity >= idle;
}

/// What one connection looks like to the chooser.
struct ConnView {
  bool ready;        // handshake done, writable
  size_t in_flight;  // queries waiting for an answer on it
  size_t capacity;   // most queries it may carry at once
};

struct Choice {
  enum class Kind : uint8_t {
    Use,   // send on connection `index`
    Open,  // open a new connection (under the bound, backoff allows it)
    Wait,  // a connection is still connecting and has room: queue on it (`index`)
    None,  // every connection is full and no new one may open now: fail the attempt
  };
  Kind kind;
  size_t index = 0;
};

/// Picks where a new query goes: the ready connection with the fewest in flight that has room;
/// else a connection still connecting that has room (so a burst does not open one connection
/// per query); else a new connection when fewer than `max_connections` exist and the backoff
/// allows; else none.
[[nodiscard]] Choice chooseConnection(std::span<const ConnView> conns, size_t max_connections,
                                      bool backoff_allows) noexcept;

}  // namespace steadfast::upstream
