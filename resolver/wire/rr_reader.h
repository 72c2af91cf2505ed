// SPDX-License-Identifier: Apache-2.0
// Internal to resolver/wire (not part of its API): reads the fixed part of one resource
// record (RFC 1035 section 4.1.3) with bounds checks. Shared by parseQuery and
// analyzeResponse so both walk records the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "resolver/wire/message.h"

namespace steadfast::wire::detail {

inline constexpr size_t kRrFixedSize = 10;  // TYPE, CLASS, TTL, RDLENGTH

struct RrHeader {
  size_t owner = 0;  // offset of the owner name
  size_t fixed = 0;  // offset of TYPE, just after the owner name as it sits in the message
  uint16_t type = 0;
  uint16_t rrclass = 0;
  uint32_t ttl = 0;
  uint16_t rdlength = 0;

  [[nodiscard]] size_t ttlOffset() const noexcept { return fixed + 4; }
  [[nodiscard]] size_t rdata() const noexcept { return fixed + kRrFixedSize; }
  [[nodiscard]] size_t end() const noexcept { return rdata() + rdlength; }
  // A one-byte owner can only be the root label: a compression pointer takes two.
  [[nodiscard]] bool ownerIsRoot() const noexcept { return fixed == owner + 1; }
};

/// Reads the RR at `pos`; on success fills `rr` and advances `pos` past its RDATA.
/// False when the owner name is invalid or the record runs past the end of `msg`.
[[nodiscard]] inline bool readRr(std::span<const uint8_t> msg, size_t& pos, RrHeader& rr) noexcept {
  rr.owner = pos;
  size_t p = pos;
  if (!skipName(msg, p)) {
    return false;
  }
  // skipName guarantees p <= msg.size().
  if (msg.size() - p < kRrFixedSize) {
    return false;
  }
  const uint8_t* f = msg.data() + p;
  rr.fixed = p;
  rr.type = readU16(f);
  rr.rrclass = readU16(f + 2);
  rr.ttl = readU32(f + 4);
  rr.rdlength = readU16(f + 8);
  if (msg.size() - p - kRrFixedSize < rr.rdlength) {
    return false;
  }
  pos = rr.end();
  return true;
}

}  // namespace steadfast::wire::detail
