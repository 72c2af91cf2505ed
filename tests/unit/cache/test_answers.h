// SPDX-License-Identifier: Apache-2.0
// Hand-built DNS answers for the cache tests: header + question + records, with the TTL
// offsets known. Independent of resolver/wire's .cpp functions on purpose (only the inline
// readU32/writeU32 helpers and constants are used).
#pragma once

#include <cctype>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "resolver/base/clock.h"
#include "resolver/cache/packet_cache.h"
#include "resolver/wire/message.h"

namespace steadfast::cache::test {

inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypeAaaa = 28;

/// A fixed base time; tests add durations to it and never sleep.
inline MonoTime baseTime() {
  return MonoTime{std::chrono::hours{1000}};
}

/// "www.Example.com" -> wire form, case kept.
inline std::vector<uint8_t> nameWire(std::string_view text) {
  std::vector<uint8_t> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t dot = text.find('.', start);
    if (dot == std::string_view::npos) {
      dot = text.size();
    }
    out.push_back(static_cast<uint8_t>(dot - start));
    for (size_t i = start; i < dot; ++i) {
      out.push_back(static_cast<uint8_t>(text[i]));
    }
    start = dot + 1;
  }
  out.push_back(0);
  return out;
}

inline std::vector<uint8_t> lowered(std::vector<uint8_t> name) {
  for (uint8_t& c : name) {
    c = static_cast<uint8_t>(std::tolower(c));
  }
  return name;
}

/// An answer in wire form plus where its TTLs are.
struct TestAnswer {
  std::vector<uint8_t> wire;
  std::vector<uint16_t> ttl_offsets;

  [[nodiscard]] CacheableAnswer view(uint32_t ttl, bool negative = false) const {
    return CacheableAnswer{wire, ttl_offsets, ttl, negative};
  }
  [[nodiscard]] uint32_t ttlAt(std::span<const uint8_t> msg, size_t i) const {
    return wire::readU32(msg.data() + ttl_offsets[i]);
  }
};

inline void put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(static_cast<uint8_t>(x >> 8U));
  v.push_back(static_cast<uint8_t>(x));
}
inline void put32(std::vector<uint8_t>& v, uint32_t x) {
  put16(v, static_cast<uint16_t>(x >> 16U));
  put16(v, static_cast<uint16_t>(x));
}

inline void putHeader(std::vector<uint8_t>& v, uint16_t id, uint16_t rcode, uint16_t an,
                      uint16_t ns) {
  put16(v, id);
  put16(v, static_cast<uint16_t>(wire::kFlagQr | wire::kFlagRd | wire::kFlagRa | rcode));
  put16(v, 1);
  put16(v, an);
  put16(v, ns);
  put16(v, 0);
}

/// NOERROR answer: one question, `records` A records (name = pointer to the qname) with the
/// given TTL and rdata address+i. The first TTL sits at 12 + qname length + 4 + 6.
inline TestAnswer makeA(std::string_view qname, uint32_t ttl, uint32_t address = 0x0A000001,
                        uint16_t id = 0x1234, uint16_t records = 1) {
  TestAnswer a;
  putHeader(a.wire, id, 0, records, 0);
  std::vector<uint8_t> name = nameWire(qname);
  a.wire.insert(a.wire.end(), name.begin(), name.end());
  put16(a.wire, kTypeA);
  put16(a.wire, wire::kClassIn);
  for (uint16_t i = 0; i < records; ++i) {
    put16(a.wire, 0xC00C);
    put16(a.wire, kTypeA);
    put16(a.wire, wire::kClassIn);
    a.ttl_offsets.push_back(static_cast<uint16_t>(a.wire.size()));
    put32(a.wire, ttl);
    put16(a.wire, 4);
    put32(a.wire, address + i);
  }
  return a;
}

/// NXDOMAIN with the zone's SOA in the authority section (RFC 2308 section 3).
inline TestAnswer makeNxDomain(std::string_view qname, uint32_t soa_ttl, uint32_t minimum) {
  TestAnswer a;
  putHeader(a.wire, 0x4321, static_cast<uint16_t>(wire::Rcode::NxDomain), 0, 1);
  std::vector<uint8_t> name = nameWire(qname);
  a.wire.insert(a.wire.end(), name.begin(), name.end());
  put16(a.wire, kTypeA);
  put16(a.wire, wire::kClassIn);
  put16(a.wire, 0xC00C);  // owner: the qname, good enough for the cache
  put16(a.wire, wire::kTypeSoa);
  put16(a.wire, wire::kClassIn);
  a.ttl_offsets.push_back(static_cast<uint16_t>(a.wire.size()));
  put32(a.wire, soa_ttl);
  put16(a.wire, 24);
  put16(a.wire, 0xC00C);  // mname
  put16(a.wire, 0xC00C);  // rname
  put32(a.wire, 2024010101);
  put32(a.wire, 3600);
  put32(a.wire, 600);
  put32(a.wire, 86400);
  put32(a.wire, minimum);
  return a;
}

inline CacheKey keyFor(std::string_view qname, uint16_t qtype = kTypeA, bool do_bit = false,
                       bool cd = false, uint16_t qclass = wire::kClassIn) {
  const std::vector<uint8_t> lower = lowered(nameWire(qname));
  return CacheKey::make(lower, qtype, qclass, do_bit, cd);
}

}  // namespace steadfast::cache::test
