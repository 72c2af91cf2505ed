// SPDX-License-Identifier: Apache-2.0
// Time for everything that measures or schedules: the cache, budgets, health. Pure code takes
// a `MonoTime now` argument or a Clock&, so unit tests drive time by hand (FakeClock in
// tests/support) and never sleep.
#pragma once

#include <chrono>
#include <cstdint>

namespace steadfast {

using MonoClock = std::chrono::steady_clock;
using MonoTime = MonoClock::time_point;
using Nanos = std::chrono::nanoseconds;
using Millis = std::chrono::milliseconds;
using Seconds = std::chrono::seconds;

/// Source of monotonic and wall time. Thread-safe implementations only.
class Clock {
 public:
  virtual ~Clock() = default;
  [[nodiscard]] virtual MonoTime now() const noexcept = 0;
  [[nodiscard]] virtual std::chrono::system_clock::time_point wallNow() const noexcept = 0;
};

/// The real clocks.
class SystemClock final : public Clock {
 public:
  [[nodiscard]] MonoTime now() const noexcept override { return MonoClock::now(); }
  [[nodiscard]] std::chrono::system_clock::time_point wallNow() const noexcept override {
    return std::chrono::system_clock::now();
  }
};

}  // namespace steadfast
