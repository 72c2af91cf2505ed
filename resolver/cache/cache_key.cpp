// SPDX-License-Identifier: Apache-2.0
// CacheKey: the lower-cased qname, qtype, qclass and a DO/CD flags byte, hashed with
// SipHash-1-3 under a per-process random key. Called once per query on the hot path.
#include <algorithm>
#include <array>
#include <cstring>

#include "resolver/base/assert.h"
#include "resolver/base/random.h"
#include "resolver/cache/packet_cache.h"
#include "resolver/cache/siphash.h"

namespace steadfast::cache {
namespace {

constexpr uint8_t kKeyFlagDo = 0x01;
constexpr uint8_t kKeyFlagCd = 0x02;

// Drawn once from the kernel CSPRNG: an attacker who cannot guess it cannot aim many qnames
// at one bucket. Function-local static: thread-safe first use, no static-order issues.
const detail::SipKey& processHashKey() noexcept {
  static const detail::SipKey key = [] {
    std::array<uint8_t, 16> raw{};
    secureRandomBytes(raw);
    return detail::SipKey{detail::loadLe64(raw.data()), detail::loadLe64(raw.data() + 8)};
  }();
  return key;
}

}  // namespace

CacheKey CacheKey::make(std::span<const uint8_t> qname_lower, uint16_t qtype, uint16_t qclass,
                        bool do_bit, bool cd) noexcept {
  CacheKey key;
  // A valid wire name is 1..255 octets; the clamp only keeps a caller bug from overflowing.
  STEADFAST_ASSERT(qname_lower.size() <= wire::kMaxNameWire);
  const size_t n = std::min(qname_lower.size(), wire::kMaxNameWire);
  if (n > 0) {
    std::memcpy(key.bytes.data(), qname_lower.data(), n);
  }
  uint8_t* p = key.bytes.data() + n;
  wire::writeU16(p, qtype);
  wire::writeU16(p + 2, qclass);
  // DO and CD change the answer (RRSIGs present, validation skipped), so they split the key
  // as in CoreDNS key() and dnsdist getKey().
  p[4] = static_cast<uint8_t>((do_bit ? kKeyFlagDo : 0U) | (cd ? kKeyFlagCd : 0U));
  key.len = static_cast<uint16_t>(n + 5);
  key.hash = detail::sipHash<1, 3>(processHashKey(), {key.bytes.data(), key.len});
  return key;
}

bool CacheKey::operator==(const CacheKey& o) const noexcept {
  return hash == o.hash && len == o.len && std::memcmp(bytes.data(), o.bytes.data(), len) == 0;
}

}  // namespace steadfast::cache
