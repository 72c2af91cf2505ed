// SPDX-License-Identifier: Apache-2.0
// Cryptographically secure randomness for what an off-path attacker must not guess
// (RFC 5452 section 9: DNS IDs and source ports). Backed by getrandom(2), buffered per
// thread so one syscall serves many IDs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace steadfast {

/// Fills `out` from the kernel CSPRNG (getrandom). Never fails silently: aborts if the kernel
/// cannot provide randomness, since predictable IDs would be a security bug.
void secureRandomBytes(std::span<uint8_t> out) noexcept;

/// Per-thread buffered CSPRNG output. Not thread-safe: one instance per thread
/// (`threadRandom()`), loop thread only.
class SecureRandom {
 public:
  [[nodiscard]] uint16_t next16() noexcept;
  [[nodiscard]] uint32_t next32() noexcept;
  [[nodiscard]] uint64_t next64() noexcept;
  /// Uniform in [0, bound), bound > 0, without modulo bias.
  [[nodiscard]] uint32_t uniform(uint32_t bound) noexcept;

 private:
  void take(void* out, size_t n) noexcept;
  static constexpr size_t kBufSize = 512;
  uint8_t buf_[kBufSize] = {};
  size_t pos_ = kBufSize;
};

/// The calling thread's SecureRandom.
SecureRandom& threadRandom() noexcept;

}  // namespace steadfast

namespace steadfast {

/// A source of uniform random numbers for decisions that need spread, not secrecy: probe
/// jitter and the share of queries `fastest` sends to a slower upstream. Injected into pure
/// logic (failover/) so tests can script it (FakeRandom in tests/support). IDs and source
/// ports never come from here (SecureRandom does those).
class Random {
 public:
  virtual ~Random() = default;
  [[nodiscard]] virtual uint64_t next64() noexcept = 0;
  /// Uniform in [0, 1).
  [[nodiscard]] double unit() noexcept {
    return static_cast<double>(next64() >> 11U) * 0x1.0p-53;  // 53 random mantissa bits
  }
};

/// xoshiro256** seeded from the kernel CSPRNG: fast, not for secrets. One per thread.
class FastRandom final : public Random {
 public:
  FastRandom() noexcept;
  explicit FastRandom(uint64_t seed) noexcept;
  [[nodiscard]] uint64_t next64() noexcept override;

 private:
  uint64_t s_[4] = {};
};

}  // namespace steadfast
