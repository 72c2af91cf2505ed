// SPDX-License-Identifier: Apache-2.0
// The block stage's answers: buildErrorResponse lays out header, question and OPT (with the
// EDE), then the records go between the question and the OPT. Records are owned by the
// question name through a compression pointer to offset 12.
#include "resolver/wire/block_answer.h"

#include <cstring>

#include "resolver/wire/rr_reader.h"

namespace steadfast::wire {
namespace {

constexpr size_t kRrFixedSize = 10;  // TYPE, CLASS, TTL, RDLENGTH
constexpr size_t kPointerSize = 2;
constexpr uint16_t kQnamePointer = 0xC000U | kHeaderSize;
constexpr size_t kMaxOptCopy = 512;

// The synthetic SOA's MNAME and RNAME: .invalid is reserved (RFC 6761 6.4), so the SOA
// points at no real server.
constexpr std::array<uint8_t, 19> kSoaMname = {9, 's', 't', 'e', 'a', 'd', 'f', 'a', 's', 't',
                                               7, 'i', 'n', 'v', 'a', 'l', 'i', 'd', 0};
constexpr std::array<uint8_t, 11> kSoaRnameLabel = {10,  'h', 'o', 's', 't', 'm',
                                                    'a', 's', 't', 'e', 'r'};
constexpr uint32_t kSoaSerial = 1;
constexpr uint32_t kSoaRefresh = 3600;
constexpr uint32_t kSoaRetry = 600;
constexpr uint32_t kSoaExpire = 86400;

bool txtRdataValid(std::span<const uint8_t> rdata) noexcept {
  if (rdata.empty() || rdata.size() > 0xFFFF) {
    return false;
  }
  size_t pos = 0;
  while (pos < rdata.size()) {
    pos += size_t{1} + rdata[pos];
  }
  return pos == rdata.size();
}

bool recordUsable(const LocalRecord& r) noexcept {
  switch (r.type) {
    case kTypeA:
      return r.rdata.size() == 4;
    case kTypeAaaa:
      return r.rdata.size() == 16;
    case kTypeCname:
      return validWireName(r.rdata);
    case kTypeTxt:
      return txtRdataValid(r.rdata);
    default:
      return false;
  }
}

// Writes an RR owned by the question name. Returns its size, 0 when it does not fit.
size_t writeRecord(std::span<uint8_t> out, size_t pos, uint16_t type, uint32_t ttl,
                   std::span<const uint8_t> rdata) noexcept {
  const size_t need = kPointerSize + kRrFixedSize + rdata.size();
  if (pos > out.size() || out.size() - pos < need) {
    return 0;
  }
  uint8_t* p = out.data() + pos;
  writeU16(p, kQnamePointer);
  writeU16(p + 2, type);
  writeU16(p + 4, kClassIn);
  writeU32(p + 6, ttl);
  writeU16(p + 10, static_cast<uint16_t>(rdata.size()));
  if (!rdata.empty()) {
    std::memcpy(p + 12, rdata.data(), rdata.size());
  }
  return need;
}

size_t writeSoa(std::span<uint8_t> out, size_t pos, uint32_t ttl) noexcept {
  const size_t rdlen = kSoaMname.size() + kSoaRnameLabel.size() + kPointerSize + 5 * 4;
  const size_t need = kPointerSize + kRrFixedSize + rdlen;
  if (pos > out.size() || out.size() - pos < need) {
    return 0;
  }
  uint8_t* p = out.data() + pos;
  writeU16(p, kQnamePointer);
  writeU16(p + 2, kTypeSoa);
  writeU16(p + 4, kClassIn);
  writeU32(p + 6, ttl);
  writeU16(p + 10, static_cast<uint16_t>(rdlen));
  uint8_t* r = p + 12;
  const size_t mname_offset = pos + 12;
  std::memcpy(r, kSoaMname.data(), kSoaMname.size());
  r += kSoaMname.size();
  std::memcpy(r, kSoaRnameLabel.data(), kSoaRnameLabel.size());
  r += kSoaRnameLabel.size();
  if (mname_offset > 0x3FFF) {
    return 0;  // cannot point at it (never for a message under 16 KiB)
  }
  writeU16(r, static_cast<uint16_t>(0xC000U | mname_offset));
  r += kPointerSize;
  for (const uint32_t v : {kSoaSerial, kSoaRefresh, kSoaRetry, kSoaExpire, ttl}) {
    writeU32(r, v);
    r += 4;
  }
  return need;
}

struct Section {
  uint16_t answer = 0;
  uint16_t authority = 0;
};

}  // namespace

BlockAnswer buildBlockAnswer(const Query& q, const BlockAnswerParams& params,
                             std::span<uint8_t> out) noexcept {
  BlockAnswer result;
  switch (params.action) {
    case BlockAction::Drop:
      result.outcome = BlockOutcome::Drop;
      return result;
    case BlockAction::Passthru:
      result.outcome = BlockOutcome::Resolve;
      return result;
    case BlockAction::TcpOnly:
      if (!params.udp) {
        result.outcome = BlockOutcome::Resolve;
        return result;
      }
      break;
    default:
      break;
  }

  const bool filtered =
      params.action == BlockAction::Sinkhole || params.action == BlockAction::LocalData;
  const Ede ede{filtered ? EdeCode::Filtered : EdeCode::Blocked, params.ede_text};
  const bool nxdomain = params.action == BlockAction::NxDomain;
  const uint16_t rcode = static_cast<uint16_t>(nxdomain ? Rcode::NxDomain : Rcode::NoError);
  // TCP-only carries no EDE: it is no block, the client only has to come back over TCP.
  const Ede* ede_ptr = params.action == BlockAction::TcpOnly ? nullptr : &ede;
  const size_t base = buildErrorResponse(q, rcode, out, params.our_udp_size, ede_ptr);
  if (base == 0 || q.qname_len == 0) {
    return result;
  }
  result.rcode = rcode;
  const size_t question_end = kHeaderSize + q.qname_len + 4;
  const size_t opt_len = base - question_end;
  if (opt_len > kMaxOptCopy) {
    return result;
  }
  std::array<uint8_t, kMaxOptCopy> opt{};
  if (opt_len > 0) {
    std::memcpy(opt.data(), out.data() + question_end, opt_len);
  }

  if (params.action == BlockAction::TcpOnly) {
    writeU16(out.data() + 2, static_cast<uint16_t>(readU16(out.data() + 2) | kFlagTc));
    result.outcome = BlockOutcome::Answered;
    result.length = base;
    result.truncated = true;
    return result;
  }

  size_t len = question_end;
  Section counts;
  bool fits = true;
  auto add = [&](uint16_t type, std::span<const uint8_t> rdata) {
    const size_t n = fits ? writeRecord(out, len, type, params.ttl, rdata) : 0;
    fits = n != 0;
    len += n;
    counts.answer = static_cast<uint16_t>(counts.answer + (fits ? 1 : 0));
  };
  const uint16_t qt = q.qtype;
  if (params.action == BlockAction::Sinkhole) {
    if (qt == kTypeA || qt == kTypeAny) {
      add(kTypeA, params.sinkhole_ipv4);
    }
    if (qt == kTypeAaaa || qt == kTypeAny) {
      add(kTypeAaaa, params.sinkhole_ipv6);
    }
  } else if (params.action == BlockAction::LocalData) {
    bool has_cname = false;
    for (const LocalRecord& r : params.local) {
      has_cname = has_cname || (r.type == kTypeCname && recordUsable(r));
    }
    for (const LocalRecord& r : params.local) {
      if (!recordUsable(r)) {
        continue;
      }
      // A CNAME owner has no other data (RFC 1034 3.6.2): it answers every type alone.
      const bool wanted = has_cname ? r.type == kTypeCname : (r.type == qt || qt == kTypeAny);
      if (wanted) {
        add(r.type, r.rdata);
      }
    }
  }
  if (fits && counts.answer == 0) {
    // NXDOMAIN, NODATA, or nothing of the asked type: the negative answer's SOA.
    const size_t n = writeSoa(out, len, params.ttl);
    fits = n != 0;
    len += n;
    counts.authority = fits ? 1 : 0;
  }
  if (fits && opt_len > 0) {
    fits = out.size() - len >= opt_len;
    if (fits) {
      std::memcpy(out.data() + len, opt.data(), opt_len);
      len += opt_len;
    }
  }
  if (!fits || len > params.max_size) {
    // Header, question and OPT with TC=1 (RFC 1035 4.2.1): the client asks again over TCP.
    std::memcpy(out.data() + question_end, opt.data(), opt_len);
    writeU16(out.data() + 2, static_cast<uint16_t>(readU16(out.data() + 2) | kFlagTc));
    writeU16(out.data() + 6, 0);
    writeU16(out.data() + 8, 0);
    result.outcome = BlockOutcome::Answered;
    result.length = base;
    result.truncated = true;
    return result;
  }
  writeU16(out.data() + 6, counts.answer);
  writeU16(out.data() + 8, counts.authority);
  result.outcome = BlockOutcome::Answered;
  result.length = len;
  return result;
}

bool anyAnswerAddress(std::span<const uint8_t> msg, AddressMatcher match,
                      const void* ctx) noexcept {
  if (msg.size() < kHeaderSize) {
    return false;
  }
  const uint16_t qd = readU16(msg.data() + 4);
  const uint16_t an = readU16(msg.data() + 6);
  size_t pos = kHeaderSize;
  for (uint16_t i = 0; i < qd; ++i) {
    if (!skipName(msg, pos) || msg.size() - pos < 4) {
      return false;
    }
    pos += 4;
  }
  for (uint16_t i = 0; i < an; ++i) {
    detail::RrHeader rr;
    if (!detail::readRr(msg, pos, rr)) {
      return false;
    }
    if (rr.rrclass != kClassIn) {
      continue;
    }
    const bool addr =
        (rr.type == kTypeA && rr.rdlength == 4) || (rr.type == kTypeAaaa && rr.rdlength == 16);
    if (addr && match(ctx, msg.subspan(rr.rdata(), rr.rdlength))) {
      return true;
    }
  }
  return false;
}

}  // namespace steadfast::wire
