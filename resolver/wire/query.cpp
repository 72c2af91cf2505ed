// SPDX-License-Identifier: Apache-2.0
// parseQuery: the first thing a client packet meets after the socket. Checks the header,
// the single question and the EDNS0 OPT RR in place (RFC 1035 4.1, RFC 6891 6.1) and
// classifies anything else as Drop / FORMERR / NOTIMP / BADVERS without allocating.
#include <cstring>

#include "resolver/wire/message.h"
#include "resolver/wire/rr_reader.h"

namespace steadfast::wire {
namespace {

constexpr size_t kQuestionFixedSize = 4;  // QTYPE, QCLASS
constexpr uint16_t kMinUdpSize = 512;     // RFC 6891 6.2.3: values below 512 mean 512
constexpr uint32_t kOptDoBit = 0x8000;    // RFC 3225 section 3, low 16 bits of the OPT TTL

uint8_t opcodeOf(uint16_t flags) noexcept {
  return static_cast<uint8_t>((flags >> 11U) & 0xFU);
}

// RFC 7871 6 and 7.1.1: FAMILY 1 (IPv4) or 2 (IPv6), SOURCE PREFIX-LENGTH within the family,
// SCOPE 0 in a query, exactly ceil(SOURCE/8) address octets, bits past the prefix zero. A
// second ECS option is malformed too.
bool readClientSubnet(const uint8_t* p, size_t len, Query& out) noexcept {
  if (out.ecs_len != 0 || len < 4 || len > kMaxEcsData) {
    return false;
  }
  const uint16_t family = readU16(p);
  const uint8_t source = p[2];
  const uint8_t scope = p[3];
  const unsigned max_bits = family == 1 ? 32U : family == 2 ? 128U : 0U;
  if (max_bits == 0 || source > max_bits || scope != 0 || len - 4 != (source + 7U) / 8U) {
    return false;
  }
  if (source % 8 != 0) {
    const auto mask = static_cast<uint8_t>(0xFFU >> (source % 8));
    if ((p[len - 1] & mask) != 0) {
      return false;
    }
  }
  std::memcpy(out.ecs.data(), p, len);
  out.ecs_len = static_cast<uint8_t>(len);
  return true;
}

}  // namespace

QueryParse parseQuery(std::span<const uint8_t> msg, Query& out) noexcept {
  out.qname_len = 0;
  out.question_end = 0;
  out.has_edns = false;
  out.do_bit = false;
  out.edns_version = 0;
  out.udp_size = kMinUdpSize;
  out.ecs_len = 0;
  if (msg.size() < kHeaderSize) {
    return QueryParse::Drop;
  }
  const uint8_t* h = msg.data();
  out.id = readU16(h);
  out.flags = readU16(h + 2);
  if ((out.flags & kFlagQr) != 0) {
    return QueryParse::Drop;  // a response aimed at us: answering could start a loop
  }
  if (opcodeOf(out.flags) != 0) {
    return QueryParse::NotImp;
  }
  // RFC 9619: QDCOUNT must be 1 for QUERY.
  if (readU16(h + 4) != 1) {
    return QueryParse::FormErr;
  }
  const uint16_t ancount = readU16(h + 6);
  const uint16_t nscount = readU16(h + 8);
  const uint16_t arcount = readU16(h + 10);

  size_t pos = kHeaderSize;
  size_t name_len = 0;
  if (!readName(msg, pos, out.qname, name_len) || msg.size() - pos < kQuestionFixedSize) {
    return QueryParse::FormErr;
  }
  out.qname_len = static_cast<uint16_t>(name_len);
  lowerName(out.name(), out.qname_lower.data());
  out.qtype = readU16(h + pos);
  out.qclass = readU16(h + pos + 2);
  pos += kQuestionFixedSize;
  out.question_end = pos;

  // Answer and authority records are legal in a query (e.g. known answers); skip them but
  // check their bounds like everything else.
  const size_t skipped = size_t{ancount} + nscount;
  detail::RrHeader rr;
  for (size_t i = 0; i < skipped; ++i) {
    if (!detail::readRr(msg, pos, rr)) {
      return QueryParse::FormErr;
    }
  }
  for (size_t i = 0; i < arcount; ++i) {
    if (!detail::readRr(msg, pos, rr)) {
      return QueryParse::FormErr;
    }
    if (rr.type != kTypeOpt) {
      continue;
    }
    // RFC 6891 6.1.1: more than one OPT is FORMERR; the owner must be root.
    if (out.has_edns || !rr.ownerIsRoot() || msg[rr.owner] != 0) {
      return QueryParse::FormErr;
    }
    // RFC 6891 6.1.2: the RDATA is a sequence of {code, length, data} options that must
    // fill it exactly; an option running past the RDATA is FORMERR.
    for (size_t opt = rr.rdata(); opt < rr.end();) {
      if (rr.end() - opt < 4) {
        return QueryParse::FormErr;
      }
      const size_t len = readU16(h + opt + 2);
      if (rr.end() - opt - 4 < len) {
        return QueryParse::FormErr;
      }
      if (readU16(h + opt) == kOptionEcs && !readClientSubnet(h + opt + 4, len, out)) {
        return QueryParse::FormErr;  // RFC 7871 7.1.1
      }
      opt += 4 + len;
    }
    out.has_edns = true;
    out.udp_size = rr.rrclass < kMinUdpSize ? kMinUdpSize : rr.rrclass;
    out.edns_version = static_cast<uint8_t>(rr.ttl >> 16U);
    out.do_bit = (rr.ttl & kOptDoBit) != 0;
  }
  // Checked last so a malformed message stays FORMERR. RFC 6891 6.1.3.
  if (out.has_edns && out.edns_version > 0) {
    return QueryParse::BadVers;
  }
  return QueryParse::Ok;
}

}  // namespace steadfast::wire
