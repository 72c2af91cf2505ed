// SPDX-License-Identifier: Apache-2.0
// Three assertion levels (STYLE.md section 5). Never assert on anything the network or the
// environment controls: that is bad input, counted and answered, not a bug.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace steadfast::detail {
[[noreturn]] inline void assertFailed(const char* expr, const char* file, int line) noexcept {
  std::fprintf(stderr, "steadfast: assertion failed: %s at %s:%d\n", expr, file, line);
  std::abort();
}
}  // namespace steadfast::detail

/// Always checked; aborts. For invariants whose violation makes continuing unsafe.
#define STEADFAST_REQUIRE(cond)                                     \
  do {                                                              \
    if (!(cond)) [[unlikely]] {                                     \
      ::steadfast::detail::assertFailed(#cond, __FILE__, __LINE__); \
    }                                                               \
  } while (false)

/// Debug builds only.
#ifdef NDEBUG
#define STEADFAST_ASSERT(cond) \
  do {                         \
  } while (false)
#else
#define STEADFAST_ASSERT(cond) STEADFAST_REQUIRE(cond)
#endif
