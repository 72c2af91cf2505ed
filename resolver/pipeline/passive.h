// SPDX-License-Identifier: Apache-2.0
// PassiveChannel: how live traffic reaches the health state machines. Each worker owns the
// producer side of one channel (a fixed-size single-producer/single-consumer ring, no lock,
// no allocation); the control thread drains it into failover::Plan::record(). To keep the
// ring quiet under normal traffic a worker posts every failure but a success only when its
// last post for that upstream was a failure (the success is what resets "consecutive").
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "failover/health_state.h"

namespace steadfast::pipeline {

struct PassiveEvent {
  uint64_t plan_id = 0;  // Runtime::plan_id the upstream index belongs to
  uint16_t upstream = 0;
  failover::Outcome outcome = failover::Outcome::Ok;
};

class PassiveChannel {
 public:
  static constexpr size_t kCapacity = 4096;  // a power of two

  /// Producer (one worker thread). False when the ring is full (the event is dropped and
  /// counted; probes still catch the upstream).
  bool push(const PassiveEvent& e) noexcept {
    const size_t head = head_.load(std::memory_order_relaxed);
    const size_t tail = tail_.load(std::memory_order_acquire);
    if (head - tail >= kCapacity) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    ring_[head & (kCapacity - 1)] = e;
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  /// Consumer (the control thread): calls f(event) for everything posted so far.
  template <class F>
  size_t drain(F&& f) {
    size_t tail = tail_.load(std::memory_order_relaxed);
    const size_t head = head_.load(std::memory_order_acquire);
    size_t n = 0;
    while (tail != head) {
      const PassiveEvent e = ring_[tail & (kCapacity - 1)];
      tail_.store(++tail, std::memory_order_release);
      f(e);
      ++n;
    }
    return n;
  }

  /// Wakes the consumer (set before the workers start; e.g. uv_async_send). Producer side.
  void notify() const noexcept {
    if (notify_) {
      notify_();
    }
  }
  void setNotify(std::function<void()> fn) { notify_ = std::move(fn); }
  [[nodiscard]] uint64_t dropped() const noexcept {
    return dropped_.load(std::memory_order_relaxed);
  }

 private:
  std::array<PassiveEvent, kCapacity> ring_{};
  alignas(64) std::atomic<size_t> head_{0};
  alignas(64) std::atomic<size_t> tail_{0};
  std::atomic<uint64_t> dropped_{0};
  std::function<void()> notify_;
};

}  // namespace steadfast::pipeline
