// SPDX-License-Identifier: Apache-2.0
// Counts heap allocations of the calling thread, to prove that hot paths allocate nothing
// (STYLE.md section 6). Linking a test that calls allocCount() replaces the global operator
// new/delete of the test binary with counting versions (alloc_counter.cpp).
#pragma once

#include <cstdint>

namespace steadfast::test {

/// Number of operator new calls made by the calling thread so far.
uint64_t allocCount() noexcept;

/// Counts the allocations made by the calling thread while it lives.
class AllocScope {
 public:
  AllocScope() noexcept : start_(allocCount()) {}
  [[nodiscard]] uint64_t allocations() const noexcept { return allocCount() - start_; }

 private:
  uint64_t start_;
};

}  // namespace steadfast::test
