// SPDX-License-Identifier: Apache-2.0
// NOTIFY judge: accepted from the configured primary (any source port, v4-mapped too), with
// TSIG when configured (answer signed); refused from anyone else, for an unknown zone, for a
// non-SOA type, unsigned or wrongly signed when a key is configured; FORMERR for garbage;
// silence for responses and short messages.
#include "threatfeed/fetch/notify.h"

#include <array>
#include <stdbool.h>  // before ldns

#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include "resolver/wire/message.h"

namespace steadfast::fetch {
namespace {

std::vector<uint8_t> notifyWire(const char* zone, ldns_rr_type type = LDNS_RR_TYPE_SOA,
                                bool with_soa = true) {
  ldns_pkt* p = nullptr;
  EXPECT_EQ(ldns_pkt_query_new_frm_str(&p, zone, type, LDNS_RR_CLASS_IN, LDNS_AA), LDNS_STATUS_OK);
  ldns_pkt_set_opcode(p, LDNS_PACKET_NOTIFY);
  ldns_pkt_set_id(p, 0x77);
  if (with_soa) {
    ldns_rr* rr = nullptr;
    const std::string txt = std::string(zone) + " 60 IN SOA ns. host. 2026120207 600 60 86400 60";
    EXPECT_EQ(ldns_rr_new_frm_str(&rr, txt.c_str(), 0, nullptr, nullptr), LDNS_STATUS_OK);
    ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
  }
  uint8_t* buf = nullptr;
  size_t len = 0;
  EXPECT_EQ(ldns_pkt2wire(&buf, p, &len), LDNS_STATUS_OK);
  std::vector<uint8_t> out(buf, buf + len);
  free(buf);  // NOLINT
  ldns_pkt_free(p);
  return out;
}

std::vector<uint8_t> zoneWire(const char* z) {
  std::array<uint8_t, wire::kMaxNameWire> b{};
  size_t n = 0;
  EXPECT_TRUE(wire::nameFromText(z, b, n));
  return {b.begin(), b.begin() + static_cast<ptrdiff_t>(n)};
}

uint8_t rcodeOf(const std::vector<uint8_t>& r) {
  return r.size() >= 4 ? (r[3] & 0xFU) : 0xFF;
}

SocketAddress addr(const char* s) {
  return *SocketAddress::parse(s);
}

constexpr uint64_t kNow = 1795000000;

TEST(NotifyJudge, AcceptsConfiguredPrimaryFromAnyPort) {
  std::vector<NotifyPeer> peers{{zoneWire("other.example."), {"127.0.0.9"}, nullptr, 0},
                                {zoneWire("rpz.example."), {"127.0.0.1", "::1"}, nullptr, 1}};
  for (const char* from :
       {"127.0.0.1:40000", "127.0.0.1:53", "[::1]:5353", "[::ffff:127.0.0.1]:1234"}) {
    auto d = judgeNotify(notifyWire("RPZ.Example."), addr(from), peers, kNow);
    EXPECT_EQ(d.verdict, NotifyVerdict::Accept) << from << " " << d.reason;
    EXPECT_EQ(d.feed, 1U);
    ASSERT_TRUE(d.serial.has_value());
    EXPECT_EQ(*d.serial, 2026120207U);
    EXPECT_EQ(rcodeOf(d.response), 0);
    EXPECT_EQ(d.response[0], 0);
    EXPECT_EQ(d.response[1], 0x77);
    EXPECT_NE(d.response[2] & 0x80U, 0);         // QR
    EXPECT_EQ((d.response[2] >> 3U) & 0xFU, 4);  // opcode NOTIFY
  }
}

TEST(NotifyJudge, RefusesOthers) {
  std::vector<NotifyPeer> peers{{zoneWire("rpz.example."), {"127.0.0.1"}, nullptr, 0}};
  auto stranger = judgeNotify(notifyWire("rpz.example."), addr("127.0.0.2:53"), peers, kNow);
  EXPECT_EQ(stranger.verdict, NotifyVerdict::Refuse);
  EXPECT_EQ(rcodeOf(stranger.response), 5);
  EXPECT_NE(stranger.reason.find("127.0.0.2"), std::string::npos);
  auto unknown = judgeNotify(notifyWire("nope.example."), addr("127.0.0.1:53"), peers, kNow);
  EXPECT_EQ(unknown.verdict, NotifyVerdict::Refuse);
  EXPECT_NE(unknown.reason.find("not a zone we transfer"), std::string::npos);
  auto a = judgeNotify(notifyWire("rpz.example.", LDNS_RR_TYPE_A, false), addr("127.0.0.1:53"),
                       peers, kNow);
  EXPECT_EQ(a.verdict, NotifyVerdict::Refuse);
}

TEST(NotifyJudge, TsigRequiredWhenConfigured) {
  auto key = parseTsigKey("key \"notify-key\" { algorithm hmac-sha256; secret \"c2VjcmV0\"; };");
  ASSERT_TRUE(key.ok());
  std::vector<NotifyPeer> peers{{zoneWire("rpz.example."), {"127.0.0.1"}, &*key, 0}};
  auto plain = notifyWire("rpz.example.");
  auto unsigned_d = judgeNotify(plain, addr("127.0.0.1:53"), peers, kNow);
  EXPECT_EQ(unsigned_d.verdict, NotifyVerdict::Refuse);
  EXPECT_NE(unsigned_d.reason.find("not TSIG-signed"), std::string::npos);

  auto signed_msg = plain;
  const auto mac = tsigSign(signed_msg, *key, kNow);
  auto ok = judgeNotify(signed_msg, addr("127.0.0.1:53"), peers, kNow + 10);
  ASSERT_EQ(ok.verdict, NotifyVerdict::Accept) << ok.reason;
  // The answer is signed with the request's MAC.
  TsigStreamVerifier v(*key, mac);
  EXPECT_TRUE(v.verify(ok.response, kNow + 10).ok());

  TsigKey wrong = *key;
  wrong.secret[0] ^= 1U;
  auto bad_msg = plain;
  tsigSign(bad_msg, wrong, kNow);
  auto bad = judgeNotify(bad_msg, addr("127.0.0.1:53"), peers, kNow);
  EXPECT_EQ(bad.verdict, NotifyVerdict::Refuse);
  EXPECT_NE(bad.reason.find("BADSIG"), std::string::npos);
  // Right key, wrong address.
  EXPECT_EQ(judgeNotify(signed_msg, addr("127.0.0.3:53"), peers, kNow).verdict,
            NotifyVerdict::Refuse);
}

TEST(NotifyJudge, GarbageAndResponses) {
  std::vector<NotifyPeer> peers{{zoneWire("rpz.example."), {"127.0.0.1"}, nullptr, 0}};
  const std::vector<uint8_t> shorty{1, 2, 3};
  auto s = judgeNotify(shorty, addr("127.0.0.1:53"), peers, kNow);
  EXPECT_EQ(s.verdict, NotifyVerdict::Malformed);
  EXPECT_TRUE(s.response.empty());
  auto resp = notifyWire("rpz.example.");
  resp[2] |= 0x80U;
  EXPECT_TRUE(judgeNotify(resp, addr("127.0.0.1:53"), peers, kNow).response.empty());
  auto query = notifyWire("rpz.example.");
  query[2] = static_cast<uint8_t>(query[2] & 0x87U);  // opcode QUERY
  auto q = judgeNotify(query, addr("127.0.0.1:53"), peers, kNow);
  EXPECT_EQ(q.verdict, NotifyVerdict::Malformed);
  EXPECT_EQ(rcodeOf(q.response), 1);
  auto cut = notifyWire("rpz.example.");
  cut.resize(20);
  EXPECT_EQ(judgeNotify(cut, addr("127.0.0.1:53"), peers, kNow).verdict, NotifyVerdict::Malformed);
}

}  // namespace
}  // namespace steadfast::fetch
