// SPDX-License-Identifier: Apache-2.0
#include "tests/support/alloc_counter.h"

#include <cstdlib>
#include <new>

namespace {
thread_local uint64_t t_allocs = 0;

void* countedAlloc(std::size_t n) {
  ++t_allocs;
  if (n == 0) {
    n = 1;
  }
  void* p = std::malloc(n);  // NOLINT(cppcoreguidelines-no-malloc)
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  return p;
}

void* countedAlignedAlloc(std::size_t n, std::align_val_t al) {
  ++t_allocs;
  auto a = static_cast<std::size_t>(al);
  std::size_t size = (n + a - 1) / a * a;
  void* p = std::aligned_alloc(a, size == 0 ? a : size);
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  return p;
}
}  // namespace

namespace steadfast::test {
uint64_t allocCount() noexcept {
  return t_allocs;
}
}  // namespace steadfast::test

// NOLINTBEGIN(cppcoreguidelines-no-malloc,misc-new-delete-overloads)
void* operator new(std::size_t n) {
  return countedAlloc(n);
}
void* operator new[](std::size_t n) {
  return countedAlloc(n);
}
void* operator new(std::size_t n, std::align_val_t al) {
  return countedAlignedAlloc(n, al);
}
void* operator new[](std::size_t n, std::align_val_t al) {
  return countedAlignedAlloc(n, al);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
// NOLINTEND(cppcoreguidelines-no-malloc,misc-new-delete-overloads)
