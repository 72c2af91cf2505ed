// SPDX-License-Identifier: Apache-2.0
// SipHash (Aumasson and Bernstein, 2012): the keyed hash behind CacheKey. With a secret
// per-process key a client cannot pick qnames that all land in one shard or bucket (hash
// flooding). Internal to resolver/cache. Templated on the round counts so the tests can check
// the code against the published SipHash-2-4 vectors; the cache itself uses SipHash-1-3.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace steadfast::cache::detail {

struct SipKey {
  uint64_t k0 = 0;
  uint64_t k1 = 0;
};

/// Little-endian 64-bit load (SipHash is defined on little-endian words).
inline uint64_t loadLe64(const uint8_t* p) noexcept {
  uint64_t v = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&v, p, sizeof v);  // one unaligned load; GCC does not fold the loop below
  } else {
    for (unsigned i = 0; i < 8; ++i) {
      v |= uint64_t{p[i]} << (8U * i);
    }
  }
  return v;
}

template <int kCompressionRounds, int kFinalizationRounds>
[[nodiscard]] uint64_t sipHash(const SipKey& key, std::span<const uint8_t> in) noexcept {
  uint64_t v0 = 0x736f6d6570736575ULL ^ key.k0;
  uint64_t v1 = 0x646f72616e646f6dULL ^ key.k1;
  uint64_t v2 = 0x6c7967656e657261ULL ^ key.k0;
  uint64_t v3 = 0x7465646279746573ULL ^ key.k1;
  auto round = [&]() noexcept {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  };
  auto compress = [&](uint64_t m) noexcept {
    v3 ^= m;
    for (int r = 0; r < kCompressionRounds; ++r) {
      round();
    }
    v0 ^= m;
  };

  const size_t n = in.size();
  const size_t whole = n - (n % 8);
  for (size_t i = 0; i < whole; i += 8) {
    compress(loadLe64(in.data() + i));
  }
  uint64_t last = static_cast<uint64_t>(n) << 56U;
  for (size_t i = whole; i < n; ++i) {
    last |= uint64_t{in[i]} << (8U * (i - whole));
  }
  compress(last);

  v2 ^= 0xffU;
  for (int r = 0; r < kFinalizationRounds; ++r) {
    round();
  }
  return v0 ^ v1 ^ v2 ^ v3;
}

}  // namespace steadfast::cache::detail
