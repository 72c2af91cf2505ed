// SPDX-License-Identifier: Apache-2.0
// A Clock that moves only when the test says so.
#pragma once

#include "resolver/base/clock.h"

namespace steadfast::test {

class FakeClock final : public Clock {
 public:
  [[nodiscard]] MonoTime now() const noexcept override { return now_; }
  [[nodiscard]] std::chrono::system_clock::time_point wallNow() const noexcept override {
    return wall_ + (now_ - MonoTime{});
  }
  void advance(Nanos d) noexcept { now_ += d; }

 private:
  MonoTime now_{std::chrono::hours{1000}};
  std::chrono::system_clock::time_point wall_{std::chrono::seconds{1795000000}};
};

}  // namespace steadfast::test
