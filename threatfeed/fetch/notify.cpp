// SPDX-License-Identifier: Apache-2.0
#include "threatfeed/fetch/notify.h"

#include <array>

#include "resolver/wire/message.h"

namespace steadfast::fetch {
namespace {

constexpr uint16_t kOpcodeNotify = 4;
constexpr uint16_t kTypeSoa = 6;
constexpr uint8_t kRcodeFormErr = 1;
constexpr uint8_t kRcodeRefused = 5;

/// Header + the question as it sits in the request (uncompressed: it starts at offset 12).
std::vector<uint8_t> answer(std::span<const uint8_t> msg, size_t question_end, uint8_t rcode) {
  std::vector<uint8_t> out(msg.begin(), msg.begin() + static_cast<ptrdiff_t>(question_end));
  const uint16_t flags = wire::readU16(msg.data() + 2);
  // QR, the request's opcode, AA; RD copied; rcode.
  const uint16_t opcode = (flags >> 11U) & 0xFU;
  const uint16_t rd = flags & 0x0100U;
  const auto f = static_cast<uint16_t>(0x8000U | (opcode << 11U) | 0x0400U | rd | rcode);
  wire::writeU16(out.data() + 2, f);
  wire::writeU16(out.data() + 4, question_end > 12 ? 1 : 0);
  wire::writeU16(out.data() + 6, 0);
  wire::writeU16(out.data() + 8, 0);
  wire::writeU16(out.data() + 10, 0);
  return out;
}

NotifyDecision refuse(std::span<const uint8_t> msg, size_t qend, std::string why) {
  NotifyDecision d;
  d.verdict = NotifyVerdict::Refuse;
  d.reason = std::move(why);
  d.response = answer(msg, qend, kRcodeRefused);
  return d;
}

}  // namespace

std::string canonicalAddress(const SocketAddress& a) {
  std::string s = a.addressString();
  if (s.rfind("::ffff:", 0) == 0 && s.find('.') != std::string::npos) {
    s.erase(0, 7);
  }
  return s;
}

NotifyDecision judgeNotify(std::span<const uint8_t> msg, const SocketAddress& from,
                           std::span<const NotifyPeer> peers, uint64_t now_unix) {
  NotifyDecision d;
  if (msg.size() < 12) {
    d.reason = "shorter than a DNS header";
    return d;
  }
  const uint16_t flags = wire::readU16(msg.data() + 2);
  if ((flags & 0x8000U) != 0) {
    d.reason = "a response, not a query";
    return d;  // never answer a response
  }
  const uint16_t opcode = (flags >> 11U) & 0xFU;
  if (opcode != kOpcodeNotify || wire::readU16(msg.data() + 4) != 1) {
    d.reason = "not a NOTIFY with one question";
    d.response = answer(msg, 12, kRcodeFormErr);
    return d;
  }
  size_t pos = 12;
  std::array<uint8_t, wire::kMaxNameWire> name{};
  size_t name_len = 0;
  if (!wire::readName(msg, pos, name, name_len) || msg.size() - pos < 4) {
    d.reason = "bad question";
    d.response = answer(msg, 12, kRcodeFormErr);
    return d;
  }
  const uint16_t qtype = wire::readU16(msg.data() + pos);
  pos += 4;
  const size_t qend = pos;
  if (qtype != kTypeSoa) {
    return refuse(msg, qend, "NOTIFY for a type other than SOA");
  }
  std::vector<uint8_t> zone(name_len);
  wire::lowerName(std::span<const uint8_t>(name.data(), name_len), zone.data());
  const std::string src = canonicalAddress(from);
  const std::string zone_text = wire::nameToText(zone);

  const NotifyPeer* match = nullptr;
  bool zone_known = false;
  for (const auto& p : peers) {
    if (p.zone != zone) {
      continue;
    }
    zone_known = true;
    for (const auto& a : p.allowed_from) {
      if (a == src) {
        match = &p;
        break;
      }
    }
    if (match != nullptr) {
      break;
    }
  }
  if (!zone_known) {
    return refuse(msg, qend,
                  "NOTIFY for " + zone_text + " from " + src + ": not a zone we transfer");
  }
  if (match == nullptr) {
    return refuse(msg, qend,
                  "NOTIFY for " + zone_text + " from " + src + ": not a primary of the zone");
  }
  std::vector<uint8_t> request_mac;
  if (match->key != nullptr) {
    auto v = tsigVerifyRequest(msg, *match->key, now_unix);
    if (!v) {
      return refuse(msg, qend,
                    "NOTIFY for " + zone_text + " from " + src + ": " + v.error().detail);
    }
    request_mac = std::move(*v);
  } else {
    // No key configured: the message must still be well formed.
    auto t = findTsig(msg);
    if (!t) {
      NotifyDecision bad;
      bad.reason = "NOTIFY from " + src + ": " + t.error().detail;
      bad.response = answer(msg, qend, kRcodeFormErr);
      return bad;
    }
  }
  // The serial of an SOA in the answer section (RFC 1996 3.7), a hint only.
  if (wire::readU16(msg.data() + 6) >= 1) {
    size_t p = qend;
    if (wire::skipName(msg, p) && msg.size() - p >= 10 &&
        wire::readU16(msg.data() + p) == kTypeSoa) {
      const uint16_t rdlen = wire::readU16(msg.data() + p + 8);
      size_t r = p + 10;
      const size_t rend = r + rdlen;
      if (rend <= msg.size() && wire::skipName(msg.first(rend), r) &&
          wire::skipName(msg.first(rend), r) && rend - r == 20) {
        d.serial = wire::readU32(msg.data() + r);
      }
    }
  }
  d.verdict = NotifyVerdict::Accept;
  d.feed = match->feed;
  d.response = answer(msg, qend, 0);
  if (match->key != nullptr) {
    tsigSign(d.response, *match->key, now_unix, request_mac);
  }
  return d;
}

}  // namespace steadfast::fetch
