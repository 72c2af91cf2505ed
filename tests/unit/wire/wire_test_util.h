// SPDX-License-Identifier: Apache-2.0
// Test helper for tests/unit/wire: assembles DNS messages byte by byte, including broken
// ones, so each test states exactly which octets it feeds the parser. No ldns here (the
// tests that cross-check with ldns include it in their .cpp files).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>
#include <vector>

#include "resolver/wire/message.h"

namespace steadfast::wire::test {

class Packet {
 public:
  Packet& u8(uint8_t v) {
    bytes_.push_back(v);
    return *this;
  }
  Packet& u16(uint16_t v) {
    bytes_.push_back(static_cast<uint8_t>(v >> 8U));
    bytes_.push_back(static_cast<uint8_t>(v));
    return *this;
  }
  Packet& u32(uint32_t v) {
    u16(static_cast<uint16_t>(v >> 16U));
    return u16(static_cast<uint16_t>(v));
  }
  Packet& raw(std::initializer_list<uint8_t> v) {
    bytes_.insert(bytes_.end(), v.begin(), v.end());
    return *this;
  }
  Packet& raw(std::span<const uint8_t> v) {
    bytes_.insert(bytes_.end(), v.begin(), v.end());
    return *this;
  }
  Packet& header(uint16_t id, uint16_t flags, uint16_t qd, uint16_t an = 0, uint16_t ns = 0,
                 uint16_t ar = 0) {
    return u16(id).u16(flags).u16(qd).u16(an).u16(ns).u16(ar);
  }
  /// Appends a name given as text ("www.example.com.") in uncompressed wire form.
  Packet& name(std::string_view text) {
    std::array<uint8_t, kMaxNameWire> wire{};
    size_t len = 0;
    if (!nameFromText(text, wire, len)) {
      len = 0;
    }
    return raw(std::span<const uint8_t>(wire.data(), len));
  }
  /// Appends a compression pointer to `offset`.
  Packet& pointer(uint16_t offset) { return u16(static_cast<uint16_t>(0xC000U | offset)); }
  Packet& question(std::string_view qname, uint16_t qtype, uint16_t qclass = kClassIn) {
    return name(qname).u16(qtype).u16(qclass);
  }
  /// The fixed part of an RR after its owner name, then `rdata`.
  Packet& rrTail(uint16_t type, uint16_t rrclass, uint32_t ttl, std::span<const uint8_t> rdata) {
    u16(type).u16(rrclass).u32(ttl).u16(static_cast<uint16_t>(rdata.size()));
    return raw(rdata);
  }
  Packet& rr(std::string_view owner, uint16_t type, uint32_t ttl,
             std::initializer_list<uint8_t> rdata) {
    name(owner);
    return rrTail(type, kClassIn, ttl, std::span<const uint8_t>(rdata.begin(), rdata.size()));
  }
  /// An OPT RR (RFC 6891 6.1.2): root owner, CLASS = payload size, TTL = ext rcode,
  /// version and flags.
  Packet& opt(uint16_t udp_size, uint32_t ttl = 0, std::initializer_list<uint8_t> rdata = {}) {
    u8(0);
    return rrTail(kTypeOpt, udp_size, ttl, std::span<const uint8_t>(rdata.begin(), rdata.size()));
  }

  [[nodiscard]] std::span<const uint8_t> span() const { return bytes_; }
  [[nodiscard]] const std::vector<uint8_t>& bytes() const { return bytes_; }
  [[nodiscard]] std::vector<uint8_t>& bytes() { return bytes_; }
  [[nodiscard]] size_t size() const { return bytes_.size(); }

 private:
  std::vector<uint8_t> bytes_;
};

/// Wire form of a text name, for expectations.
inline std::vector<uint8_t> wireName(std::string_view text) {
  std::array<uint8_t, kMaxNameWire> wire{};
  size_t len = 0;
  if (!nameFromText(text, wire, len)) {
    return {};
  }
  return {wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(len)};
}

/// A standard client query: id, RD, one question, optional OPT.
inline Packet clientQuery(uint16_t id, std::string_view qname, uint16_t qtype, bool edns,
                          uint16_t udp = 1232, bool do_bit = false) {
  Packet p;
  p.header(id, kFlagRd, 1, 0, 0, edns ? 1 : 0).question(qname, qtype);
  if (edns) {
    p.opt(udp, do_bit ? 0x8000U : 0U);
  }
  return p;
}

/// Parses `p` into `q` and returns the outcome.
inline QueryParse parse(const Packet& p, Query& q) {
  return parseQuery(p.span(), q);
}

}  // namespace steadfast::wire::test
