// SPDX-License-Identifier: Apache-2.0
// Upstream responses: analyzeResponse checks a response against the query we sent
// (RFC 5452 section 9.1) and records what the cache needs (TTL offsets, RFC 2308 negative
// TTL, OPT position); copyWithoutOpt and adjustTtls prepare stored answers for reuse.
#include <algorithm>
#include <cstring>

#include "resolver/wire/message.h"
#include "resolver/wire/rr_reader.h"

namespace steadfast::wire {
namespace {

constexpr size_t kMaxMessage = 65535;     // ttl_offsets are 16-bit
constexpr uint32_t kMaxTtl = 0x7FFFFFFF;  // RFC 2181 section 8
constexpr size_t kSoaFixedSize = 20;      // SERIAL REFRESH RETRY EXPIRE MINIMUM
constexpr size_t kSoaMinimumOffset = 16;

// RFC 2181 section 8: a TTL with the top bit set is treated as zero.
uint32_t clampTtl(uint32_t ttl) noexcept {
  return ttl > kMaxTtl ? 0 : ttl;
}

uint8_t foldCase(uint8_t c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + ('a' - 'A')) : c;
}

bool sameName(std::span<const uint8_t> a, std::span<const uint8_t> b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (foldCase(a[i]) != foldCase(b[i])) {
      return false;
    }
  }
  return true;
}

// Reads SOA MINIMUM (RFC 1035 3.3.13); the two names must end inside the RDATA.
bool soaMinimum(std::span<const uint8_t> msg, const detail::RrHeader& rr,
                uint32_t& minimum) noexcept {
  size_t p = rr.rdata();
  if (!skipName(msg, p) || p > rr.end() || !skipName(msg, p) || p > rr.end() ||
      rr.end() - p != kSoaFixedSize) {
    return false;
  }
  minimum = readU32(msg.data() + p + kSoaMinimumOffset);
  return true;
}

void resetInfo(ResponseInfo& out) noexcept {
  out.flags = 0;
  out.rcode = 0;
  out.truncated = false;
  out.has_opt = false;
  out.opt_offset = 0;
  out.opt_len = 0;
  out.opt_is_last = false;
  out.ancount = 0;
  out.min_ttl = 0;
  out.has_soa = false;
  out.negative_ttl = 0;
  out.ttl_count = 0;
  out.too_many_rrs = false;
  out.ecs_scoped = false;
}

// True when the OPT carries an EDNS Client Subnet option whose SCOPE PREFIX-LENGTH is not 0
// (RFC 7871 7.3): the answer is for that subnet only and must not be cached for everyone.
bool hasScopedClientSubnet(std::span<const uint8_t> msg, const detail::RrHeader& rr) noexcept {
  for (size_t p = rr.rdata(); p + 4 <= rr.end();) {
    const uint16_t code = readU16(msg.data() + p);
    const size_t len = readU16(msg.data() + p + 2);
    if (rr.end() - p - 4 < len) {
      return false;
    }
    if (code == kOptionEcs && len >= 4 && msg[p + 4 + 3] != 0) {
      return true;
    }
    p += 4 + len;
  }
  return false;
}

enum class Section : uint8_t { Answer, Authority, Additional };

}  // namespace

ResponseCheck analyzeResponse(std::span<const uint8_t> msg, uint16_t expect_id, const Query& q,
                              ResponseInfo& out) noexcept {
  resetInfo(out);
  if (msg.size() < kHeaderSize) {
    return ResponseCheck::Mismatch;
  }
  const uint8_t* h = msg.data();
  const uint16_t flags = readU16(h + 2);
  if ((flags & kFlagQr) == 0 || readU16(h) != expect_id || readU16(h + 4) != 1) {
    return ResponseCheck::Mismatch;
  }
  if (msg.size() > kMaxMessage) {
    return ResponseCheck::Malformed;
  }
  out.flags = flags;
  out.rcode = headerRcode(flags);
  out.truncated = (flags & kFlagTc) != 0;
  out.ancount = readU16(h + 6);

  // RFC 5452 section 9.1: the question must match the one we asked.
  size_t pos = kHeaderSize;
  std::array<uint8_t, kMaxNameWire> qname{};
  size_t qname_len = 0;
  if (!readName(msg, pos, qname, qname_len) || msg.size() - pos < 4) {
    return ResponseCheck::Malformed;
  }
  if (!sameName({qname.data(), qname_len}, q.name()) || readU16(h + pos) != q.qtype ||
      readU16(h + pos + 2) != q.qclass) {
    return ResponseCheck::Mismatch;
  }
  pos += 4;

  const uint16_t counts[3] = {out.ancount, readU16(h + 8), readU16(h + 10)};
  size_t rr_index = 0;
  size_t opt_index = 0;
  bool any_ttl = false;
  for (uint8_t s = 0; s < 3; ++s) {
    const auto section = static_cast<Section>(s);
    for (size_t i = 0; i < counts[s]; ++i, ++rr_index) {
      detail::RrHeader rr;
      if (!detail::readRr(msg, pos, rr)) {
        // A TC response may stop anywhere (RFC 2181 9): keep what was read.
        return out.truncated ? ResponseCheck::Ok : ResponseCheck::Malformed;
      }
      if (rr.type == kTypeOpt) {
        // RFC 6891 6.1.1: one OPT, in the additional section, owned by the root.
        if (section != Section::Additional || out.has_opt || !rr.ownerIsRoot() ||
            msg[rr.owner] != 0) {
          return ResponseCheck::Malformed;
        }
        out.has_opt = true;
        out.opt_offset = rr.owner;
        out.opt_len = rr.end() - rr.owner;
        opt_index = rr_index;
        // RFC 6891 6.1.3: the OPT TTL's top byte holds the upper 8 bits of a 12-bit rcode.
        out.rcode = static_cast<uint16_t>(out.rcode | ((rr.ttl >> 24U) << 4U));
        out.ecs_scoped = hasScopedClientSubnet(msg, rr);
        continue;
      }
      const uint32_t ttl = clampTtl(rr.ttl);
      out.min_ttl = any_ttl ? std::min(out.min_ttl, ttl) : ttl;
      any_ttl = true;
      if (out.ttl_count < kMaxTtlOffsets) {
        out.ttl_offsets[out.ttl_count++] = static_cast<uint16_t>(rr.ttlOffset());
      } else {
        out.too_many_rrs = true;
      }
      if (section == Section::Authority && rr.type == kTypeSoa && !out.has_soa) {
        uint32_t minimum = 0;
        if (!soaMinimum(msg, rr, minimum)) {
          return ResponseCheck::Malformed;
        }
        out.has_soa = true;
        // RFC 2308 section 5: negative answers live min(SOA TTL, SOA MINIMUM).
        out.negative_ttl = std::min(ttl, clampTtl(minimum));
      }
    }
  }
  // Bytes after the last counted RR are not part of any section. Stored answers are reused
  // byte for byte and get our OPT appended, so junk there would corrupt every answer.
  if (pos != msg.size() && !out.truncated) {
    return ResponseCheck::Malformed;
  }
  out.opt_is_last = out.has_opt && opt_index + 1 == rr_index;
  return ResponseCheck::Ok;
}

size_t copyWithoutOpt(std::span<const uint8_t> msg, const ResponseInfo& info,
                      std::span<uint8_t> out) noexcept {
  if (msg.size() < kHeaderSize) {
    return 0;
  }
  const bool strip = info.has_opt && info.opt_is_last && info.opt_offset >= kHeaderSize &&
                     info.opt_offset <= msg.size();
  // Anything after a trailing OPT is dropped with it: it cannot be a record.
  const size_t len = strip ? info.opt_offset : msg.size();
  if (len > out.size()) {
    return 0;
  }
  std::memmove(out.data(), msg.data(), len);
  if (strip) {
    const uint16_t arcount = readU16(out.data() + 10);
    writeU16(out.data() + 10, arcount > 0 ? static_cast<uint16_t>(arcount - 1) : 0);
  }
  return len;
}

void adjustTtls(std::span<uint8_t> msg, std::span<const uint16_t> offsets, uint32_t elapsed,
                bool use_fixed, uint32_t fixed) noexcept {
  for (const uint16_t off : offsets) {
    if (off > msg.size() || msg.size() - off < 4) {
      continue;  // never write outside the message, whatever the offsets say
    }
    uint8_t* p = msg.data() + off;
    const uint32_t ttl = clampTtl(readU32(p));
    writeU32(p, use_fixed ? fixed : (ttl > elapsed ? ttl - elapsed : 0));
  }
}

}  // namespace steadfast::wire
