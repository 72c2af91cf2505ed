// SPDX-License-Identifier: Apache-2.0
// Message builders into caller-provided buffers: upstream queries and probes, error
// answers (with EDNS0 and Extended DNS Errors, RFC 6891 / RFC 8914) and finishAnswer, which
// turns a stored answer into the reply for one client. No allocation; 0 means "no room".
#include <cstring>

#include "resolver/wire/message.h"

namespace steadfast::wire {
namespace {

constexpr uint16_t kOptionEde = 15;      // RFC 8914 section 2
constexpr size_t kEdeFixedSize = 2;      // INFO-CODE
constexpr size_t kOptionHeaderSize = 4;  // OPTION-CODE, OPTION-LENGTH
constexpr uint32_t kOptDoBit = 0x8000;   // RFC 3225 section 3
constexpr uint16_t kOpcodeMask = 0x7800;
constexpr size_t kQuestionFixedSize = 4;  // QTYPE, QCLASS

uint8_t foldCase(uint8_t c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + ('a' - 'A')) : c;
}

size_t optSize(const Ede* ede) noexcept {
  return kOptRrSize + (ede != nullptr ? kOptionHeaderSize + kEdeFixedSize + ede->text.size() : 0);
}

// Writes our OPT RR (RFC 6891 6.1.2) at `pos`: root owner, TYPE 41, CLASS = our UDP payload
// size, TTL = extended rcode << 24 | version 0 | DO, and the EDE option if any.
size_t writeOpt(std::span<uint8_t> out, size_t pos, uint16_t udp_size, uint8_t ext_rcode,
                bool do_bit, const Ede* ede) noexcept {
  const size_t need = optSize(ede);
  const size_t rdlen = need - kOptRrSize;
  if (rdlen > 0xFFFF || pos > out.size() || out.size() - pos < need) {
    return 0;
  }
  uint8_t* p = out.data() + pos;
  p[0] = 0;
  writeU16(p + 1, kTypeOpt);
  writeU16(p + 3, udp_size);
  writeU32(p + 5, (uint32_t{ext_rcode} << 24U) | (do_bit ? kOptDoBit : 0U));
  writeU16(p + 9, static_cast<uint16_t>(rdlen));
  if (ede != nullptr) {
    writeU16(p + 11, kOptionEde);
    writeU16(p + 13, static_cast<uint16_t>(rdlen - kOptionHeaderSize));
    writeU16(p + 15, static_cast<uint16_t>(ede->code));
    if (!ede->text.empty()) {
      std::memcpy(p + 17, ede->text.data(), ede->text.size());
    }
  }
  return need;
}

size_t writeQuestion(std::span<uint8_t> out, size_t pos, std::span<const uint8_t> qname,
                     uint16_t qtype, uint16_t qclass) noexcept {
  const size_t need = qname.size() + kQuestionFixedSize;
  if (pos > out.size() || out.size() - pos < need) {
    return 0;
  }
  uint8_t* p = out.data() + pos;
  if (!qname.empty()) {
    std::memcpy(p, qname.data(), qname.size());
  }
  writeU16(p + qname.size(), qtype);
  writeU16(p + qname.size() + 2, qclass);
  return need;
}

void writeHeader(uint8_t* p, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns,
                 uint16_t ar) noexcept {
  writeU16(p, id);
  writeU16(p + 2, flags);
  writeU16(p + 4, qd);
  writeU16(p + 6, an);
  writeU16(p + 8, ns);
  writeU16(p + 10, ar);
}

// Header + question + OPT with TC set (RFC 1035 4.2.1, RFC 6891 7): the client retries
// over TCP. Keeps the flags already in `buf`.
size_t writeTruncated(std::span<uint8_t> buf, const Query& q, uint16_t our_udp_size,
                      const Ede* ede) noexcept {
  const uint16_t flags = static_cast<uint16_t>(readU16(buf.data() + 2) | kFlagTc);
  const uint16_t qd = q.qname_len > 0 ? 1 : 0;
  size_t len = kHeaderSize;
  if (qd != 0) {
    const size_t n = writeQuestion(buf, len, q.name(), q.qtype, q.qclass);
    if (n == 0) {
      return 0;
    }
    len += n;
  }
  if (q.has_edns) {
    const size_t n = writeOpt(buf, len, our_udp_size, 0, q.do_bit, ede);
    if (n == 0) {
      return 0;
    }
    len += n;
  }
  writeHeader(buf.data(), q.id, flags, qd, 0, 0, q.has_edns ? 1 : 0);
  return len;
}

}  // namespace

size_t buildUpstreamQuery(const Query& q, uint16_t id, uint16_t udp_size, std::span<uint8_t> out,
                          bool send_ecs) noexcept {
  if (q.qname_len == 0 || out.size() < kHeaderSize) {
    return 0;
  }
  size_t len = kHeaderSize;
  size_t n = writeQuestion(out, len, q.name(), q.qtype, q.qclass);
  if (n == 0) {
    return 0;
  }
  len += n;
  n = writeOpt(out, len, udp_size, 0, q.do_bit, nullptr);
  if (n == 0) {
    return 0;
  }
  const size_t opt_pos = len;
  len += n;
  if (send_ecs && q.ecs_len != 0) {
    const size_t option = kOptionHeaderSize + q.ecs_len;
    if (out.size() - len < option) {
      return 0;
    }
    uint8_t* p = out.data() + len;
    writeU16(p, kOptionEcs);
    writeU16(p + 2, q.ecs_len);
    std::memcpy(p + 4, q.ecs.data(), q.ecs_len);
    writeU16(out.data() + opt_pos + 9, static_cast<uint16_t>(option));  // OPT RDLENGTH
    len += option;
  }
  // CD is the client's call (RFC 4035 3.2.2); we always want recursion.
  writeHeader(out.data(), id, static_cast<uint16_t>(kFlagRd | (q.flags & kFlagCd)), 1, 0, 0, 1);
  return len;
}

size_t buildQuery(std::span<const uint8_t> qname, uint16_t qtype, uint16_t id, uint16_t udp_size,
                  bool do_bit, std::span<uint8_t> out) noexcept {
  if (!validWireName(qname) || out.size() < kHeaderSize) {
    return 0;
  }
  size_t len = kHeaderSize;
  size_t n = writeQuestion(out, len, qname, qtype, kClassIn);
  if (n == 0) {
    return 0;
  }
  len += n;
  n = writeOpt(out, len, udp_size, 0, do_bit, nullptr);
  if (n == 0) {
    return 0;
  }
  len += n;
  writeHeader(out.data(), id, kFlagRd, 1, 0, 0, 1);
  return len;
}

size_t buildErrorResponse(const Query& q, uint16_t rcode, std::span<uint8_t> out,
                          uint16_t our_udp_size, const Ede* ede) noexcept {
  if (out.size() < kHeaderSize) {
    return 0;
  }
  const uint16_t qd = q.qname_len > 0 ? 1 : 0;
  size_t len = kHeaderSize;
  if (qd != 0) {
    const size_t n = writeQuestion(out, len, q.name(), q.qtype, q.qclass);
    if (n == 0) {
      return 0;
    }
    len += n;
  }
  if (q.has_edns) {
    // RFC 6891 6.1.3: rcode bits above the header's four go in the OPT TTL.
    const size_t n =
        writeOpt(out, len, our_udp_size, static_cast<uint8_t>(rcode >> 4U), q.do_bit, ede);
    if (n == 0) {
      return 0;
    }
    len += n;
  }
  const auto flags = static_cast<uint16_t>(kFlagQr | (q.flags & (kOpcodeMask | kFlagRd | kFlagCd)) |
                                           kFlagRa | (rcode & 0xFU));
  writeHeader(out.data(), q.id, flags, qd, 0, 0, q.has_edns ? 1 : 0);
  return len;
}

size_t buildHeaderOnlyError(std::span<const uint8_t> query, Rcode rcode,
                            std::span<uint8_t> out) noexcept {
  if (query.size() < kHeaderSize || out.size() < kHeaderSize) {
    return 0;
  }
  const uint16_t qflags = readU16(query.data() + 2);
  const auto flags = static_cast<uint16_t>(kFlagQr | (qflags & (kOpcodeMask | kFlagRd)) |
                                           (static_cast<uint16_t>(rcode) & 0xFU));
  writeHeader(out.data(), readU16(query.data()), flags, 0, 0, 0, 0);
  return kHeaderSize;
}

size_t finishAnswer(std::span<uint8_t> buf, size_t len, const Query& q, uint16_t our_udp_size,
                    size_t max_size, const Ede* ede) noexcept {
  if (len < kHeaderSize || len > buf.size()) {
    return 0;
  }
  uint8_t* h = buf.data();
  writeU16(h, q.id);
  // The answer keeps its own flags and rcode; RD and CD are echoed from this client.
  const uint16_t keep = readU16(h + 2) & static_cast<uint16_t>(~(kFlagRd | kFlagCd));
  writeU16(h + 2, static_cast<uint16_t>(keep | (q.flags & (kFlagRd | kFlagCd))));

  // Restore the client's qname case (the cache is keyed case-insensitively; RFC 4343 4.1
  // wants the question echoed as sent). Only when the stored question is that name.
  const size_t qlen = q.qname_len;
  if (readU16(h + 4) >= 1 && qlen > 0 && len - kHeaderSize >= qlen) {
    bool same = true;
    for (size_t i = 0; i < qlen && same; ++i) {
      same = foldCase(h[kHeaderSize + i]) == foldCase(q.qname[i]);
    }
    if (same) {
      std::memcpy(h + kHeaderSize, q.qname.data(), qlen);
    }
  }

  // A stored TC answer may end in a partial record (RFC 2181 9); appending to it would
  // hide our OPT, so it always takes the clean header+question form.
  const bool stored_tc = (readU16(h + 2) & kFlagTc) != 0;
  const size_t full = len + (q.has_edns ? optSize(ede) : 0);
  if (!stored_tc && full <= max_size && full <= buf.size()) {
    if (q.has_edns) {
      if (writeOpt(buf, len, our_udp_size, 0, q.do_bit, ede) == 0) {
        return 0;
      }
      writeU16(h + 10, static_cast<uint16_t>(readU16(h + 10) + 1));
    }
    return full;
  }
  return writeTruncated(buf, q, our_udp_size, ede);
}

}  // namespace steadfast::wire
