// SPDX-License-Identifier: Apache-2.0
// A Random that returns what the test scripted, then repeats the last value (0 if none).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "resolver/base/random.h"

namespace steadfast::test {

class FakeRandom final : public Random {
 public:
  FakeRandom() = default;
  explicit FakeRandom(std::vector<uint64_t> values) : values_(std::move(values)) {}
  [[nodiscard]] uint64_t next64() noexcept override {
    ++calls_;
    if (values_.empty()) {
      return 0;
    }
    if (pos_ < values_.size() - 1) {
      return values_[pos_++];
    }
    return values_.back();
  }
  /// A value whose unit() is `u` (0 <= u < 1).
  static uint64_t forUnit(double u) noexcept { return static_cast<uint64_t>(u * 0x1.0p53) << 11U; }
  [[nodiscard]] size_t calls() const noexcept { return calls_; }

 private:
  std::vector<uint64_t> values_;
  size_t pos_ = 0;
  size_t calls_ = 0;
};

}  // namespace steadfast::test
