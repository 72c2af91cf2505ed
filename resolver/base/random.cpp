// SPDX-License-Identifier: Apache-2.0
#include "resolver/base/random.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/random.h>

namespace steadfast {

void secureRandomBytes(std::span<uint8_t> out) noexcept {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      std::fputs("steadfast: getrandom failed; refusing to run with predictable IDs\n", stderr);
      std::abort();
    }
    done += static_cast<size_t>(n);
  }
}

void SecureRandom::take(void* out, size_t n) noexcept {
  if (pos_ + n > kBufSize) {
    secureRandomBytes(std::span<uint8_t>(buf_, kBufSize));
    pos_ = 0;
  }
  std::memcpy(out, buf_ + pos_, n);
  // Wipe what was handed out so a later memory disclosure cannot reveal past IDs.
  std::memset(buf_ + pos_, 0, n);
  pos_ += n;
}

uint16_t SecureRandom::next16() noexcept {
  uint16_t v = 0;
  take(&v, sizeof v);
  return v;
}

uint32_t SecureRandom::next32() noexcept {
  uint32_t v = 0;
  take(&v, sizeof v);
  return v;
}

uint64_t SecureRandom::next64() noexcept {
  uint64_t v = 0;
  take(&v, sizeof v);
  return v;
}

uint32_t SecureRandom::uniform(uint32_t bound) noexcept {
  // Lemire's nearly divisionless method with rejection: unbiased.
  uint64_t m = uint64_t{next32()} * bound;
  auto low = static_cast<uint32_t>(m);
  if (low < bound) {
    uint32_t threshold = (0U - bound) % bound;
    while (low < threshold) {
      m = uint64_t{next32()} * bound;
      low = static_cast<uint32_t>(m);
    }
  }
  return static_cast<uint32_t>(m >> 32U);
}

SecureRandom& threadRandom() noexcept {
  thread_local SecureRandom rng;
  return rng;
}

}  // namespace steadfast

namespace steadfast {
namespace {
uint64_t splitmix(uint64_t& x) noexcept {
  uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31U);
}
uint64_t rotl(uint64_t x, unsigned k) noexcept {
  return (x << k) | (x >> (64U - k));
}
}  // namespace

FastRandom::FastRandom() noexcept : FastRandom(threadRandom().next64()) {}

FastRandom::FastRandom(uint64_t seed) noexcept {
  for (auto& s : s_) {
    s = splitmix(seed);
  }
}

uint64_t FastRandom::next64() noexcept {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17U;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

}  // namespace steadfast
