// SPDX-License-Identifier: Apache-2.0
// Unit tests for the block stage's answers (buildBlockAnswer): every action, EDE code and
// text, the synthetic SOA, sinkhole per type, local data selection, TC=1 when the answer does
// not fit, and the outcomes that send nothing. Answers are decoded with ldns (an independent
// parser) and checked with our own analyzeResponse, the check every upstream answer passes.
#include "resolver/wire/block_answer.h"

#include <array>
#include <stdbool.h>  // before ldns: its headers use bool without including it
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include "resolver/base/c_ptr.h"
#include "tests/unit/wire/wire_test_util.h"

namespace steadfast::wire {
namespace {

using test::clientQuery;
using test::wireName;
using LdnsPkt = CPtr<ldns_pkt, ldns_pkt_free>;
using LdnsStr = CPtr<char, free>;

struct Decoded {
  LdnsPkt pkt;
  int ede_code = -1;
  std::string ede_text;
};

Decoded decode(std::span<const uint8_t> wire) {
  Decoded d;
  ldns_pkt* pkt = nullptr;
  if (ldns_wire2pkt(&pkt, wire.data(), wire.size()) != LDNS_STATUS_OK) {
    return d;
  }
  d.pkt = LdnsPkt(pkt);
  ldns_edns_option_list* list = ldns_pkt_edns_get_option_list(pkt);
  if (list != nullptr) {
    for (size_t i = 0; i < ldns_edns_option_list_get_count(list); ++i) {
      ldns_edns_option* o = ldns_edns_option_list_get_option(list, i);
      if (ldns_edns_get_code(o) == 15 && ldns_edns_get_size(o) >= 2) {
        const uint8_t* data = ldns_edns_get_data(o);
        d.ede_code = readU16(data);
        d.ede_text.assign(reinterpret_cast<const char*>(data) + 2, ldns_edns_get_size(o) - 2);
      }
    }
  }
  return d;
}

std::string rrText(const ldns_rr* rr) {
  LdnsStr s(ldns_rr2str(rr));
  std::string t = s ? std::string(s.get()) : std::string();
  while (!t.empty() && (t.back() == '\n')) {
    t.pop_back();
  }
  return t;
}

std::vector<std::string> section(const ldns_rr_list* list) {
  std::vector<std::string> out;
  for (size_t i = 0; i < ldns_rr_list_rr_count(list); ++i) {
    out.push_back(rrText(ldns_rr_list_rr(list, i)));
  }
  return out;
}

struct Case {
  Query q;
  std::array<uint8_t, 4096> out{};
  BlockAnswer a;
};

Query query(std::string_view name, uint16_t type, bool edns = true, uint16_t udp = 1232) {
  Query q;
  EXPECT_EQ(test::parse(clientQuery(0x4242, name, type, edns, udp), q), QueryParse::Ok);
  return q;
}

BlockAnswerParams params(BlockAction action) {
  BlockAnswerParams p;
  p.action = action;
  p.ede_text = "blocked by feed urlhaus";
  p.sinkhole_ipv4 = {192, 0, 2, 1};
  p.sinkhole_ipv6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  p.ttl = 300;
  return p;
}

// Our own response check: the answer is well formed and answers `q`.
void checkOwn(const Query& q, std::span<const uint8_t> wire, uint16_t rcode) {
  ResponseInfo info;
  ASSERT_EQ(analyzeResponse(wire, q.id, q, info), ResponseCheck::Ok);
  EXPECT_EQ(info.rcode, rcode);
}

TEST(BlockAnswer, NxDomainHasSoaAndBlockedEde) {
  const Query q = query("Evil.Example.", kTypeA);
  std::array<uint8_t, 1024> out{};
  const auto a = buildBlockAnswer(q, params(BlockAction::NxDomain), out);
  ASSERT_EQ(a.outcome, BlockOutcome::Answered);
  EXPECT_EQ(a.rcode, 3);
  checkOwn(q, {out.data(), a.length}, 3);
  auto d = decode({out.data(), a.length});
  ASSERT_TRUE(d.pkt);
  EXPECT_EQ(ldns_pkt_get_rcode(d.pkt.get()), LDNS_RCODE_NXDOMAIN);
  EXPECT_EQ(ldns_pkt_id(d.pkt.get()), 0x4242);
  EXPECT_TRUE(ldns_pkt_qr(d.pkt.get()));
  EXPECT_TRUE(ldns_pkt_rd(d.pkt.get()));
  EXPECT_TRUE(ldns_pkt_ra(d.pkt.get()));
  EXPECT_FALSE(ldns_pkt_tc(d.pkt.get()));
  EXPECT_EQ(ldns_pkt_ancount(d.pkt.get()), 0);
  const auto auth = section(ldns_pkt_authority(d.pkt.get()));
  ASSERT_EQ(auth.size(), 1U);
  EXPECT_EQ(auth[0],
            "Evil.Example.\t300\tIN\tSOA\tsteadfast.invalid. hostmaster.steadfast.invalid. 1 "
            "3600 600 86400 300");
  EXPECT_EQ(d.ede_code, 15);
  EXPECT_EQ(d.ede_text, "blocked by feed urlhaus");
}

TEST(BlockAnswer, NoDataIsNoErrorWithSoa) {
  const Query q = query("evil.example.", kTypeAaaa);
  std::array<uint8_t, 1024> out{};
  const auto a = buildBlockAnswer(q, params(BlockAction::NoData), out);
  ASSERT_EQ(a.outcome, BlockOutcome::Answered);
  checkOwn(q, {out.data(), a.length}, 0);
  auto d = decode({out.data(), a.length});
  ASSERT_TRUE(d.pkt);
  EXPECT_EQ(ldns_pkt_get_rcode(d.pkt.get()), LDNS_RCODE_NOERROR);
  EXPECT_EQ(ldns_pkt_ancount(d.pkt.get()), 0);
  EXPECT_EQ(ldns_pkt_nscount(d.pkt.get()), 1);
  EXPECT_EQ(d.ede_code, 15);
}

TEST(BlockAnswer, WithoutEdnsNoOptAndNoEde) {
  const Query q = query("evil.example.", kTypeA, /*edns=*/false);
  std::array<uint8_t, 1024> out{};
  const auto a = buildBlockAnswer(q, params(BlockAction::NxDomain), out);
  ASSERT_EQ(a.outcome, BlockOutcome::Answered);
  auto d = decode({out.data(), a.length});
  ASSERT_TRUE(d.pkt);
  EXPECT_EQ(ldns_pkt_arcount(d.pkt.get()), 0);
  EXPECT_EQ(d.ede_code, -1);
  EXPECT_EQ(ldns_pkt_nscount(d.pkt.get()), 1);
}

TEST(BlockAnswer, SinkholePerTypeAndFilteredEde) {
  std::array<uint8_t, 1024> out{};
  {
    const Query q = query("evil.example.", kTypeA);
    const auto a = buildBlockAnswer(q, params(BlockAction::Sinkhole), out);
    ASSERT_EQ(a.outcome, BlockOutcome::Answered);
    checkOwn(q, {out.data(), a.length}, 0);
    auto d = decode({out.data(), a.length});
    ASSERT_TRUE(d.pkt);
    EXPECT_EQ(section(ldns_pkt_answer(d.pkt.get())),
              std::vector<std::string>{"evil.example.\t300\tIN\tA\t192.0.2.1"});
    EXPECT_EQ(d.ede_code, 17);
    EXPECT_EQ(d.ede_text, "blocked by feed urlhaus");
  }
  {
    const Query q = query("evil.example.", kTypeAaaa);
    const auto a = buildBlockAnswer(q, params(BlockAction::Sinkhole), out);
    auto d = decode({out.data(), a.length});
    ASSERT_TRUE(d.pkt);
    EXPECT_EQ(section(ldns_pkt_answer(d.pkt.get())),
              std::vector<std::string>{"evil.example.\t300\tIN\tAAAA\t2001:db8::1"});
  }
  {
    // MX: NODATA (with the SOA), still Filtered.
    const Query q = query("evil.example.", 15);
    const auto a = buildBlockAnswer(q, params(BlockAction::Sinkhole), out);
    auto d = decode({out.data(), a.length});
    ASSERT_TRUE(d.pkt);
    EXPECT_EQ(ldns_pkt_get_rcode(d.pkt.get()), LDNS_RCODE_NOERROR);
    EXPECT_EQ(ldns_pkt_ancount(d.pkt.get()), 0);
    EXPECT_EQ(ldns_pkt_nscount(d.pkt.get()), 1);
    EXPECT_EQ(d.ede_code, 17);
  }
}

TEST(BlockAnswer, LocalDataAnswersTheAskedType) {
  const std::array<uint8_t, 4> a1{198, 51, 100, 7};
  const std::array<uint8_t, 4> a2{198, 51, 100, 8};
  const std::array<uint8_t, 6> txt{5, 'h', 'e', 'l', 'l', 'o'};
  const std::array<uint8_t, 3> bad_a{1, 2, 3};  // wrong length: skipped
  const std::array<LocalRecord, 4> recs{LocalRecord{kTypeA, a1}, LocalRecord{kTypeTxt, txt},
                                        LocalRecord{kTypeA, bad_a}, LocalRecord{kTypeA, a2}};
  auto p = params(BlockAction::LocalData);
  p.local = recs;
  std::array<uint8_t, 1024> out{};
  {
    const Query q = query("evil.example.", kTypeA);
    const auto a = buildBlockAnswer(q, p, out);
    ASSERT_EQ(a.outcome, BlockOutcome::Answered);
    checkOwn(q, {out.data(), a.length}, 0);
    auto d = decode({out.data(), a.length});
    ASSERT_TRUE(d.pkt);
    EXPECT_EQ(section(ldns_pkt_answer(d.pkt.get())),
              (std::vector<std::string>{"evil.example.\t300\tIN\tA\t198.51.100.7",
                                        "evil.example.\t300\tIN\tA\t198.51.100.8"}));
    EXPECT_EQ(d.ede_code, 17);
  }
  {
    const Query q = query("evil.example.", kTypeTxt);
    const auto a = buildBlockAnswer(q, p, out);
    auto d = decode({out.data(), a.length});
    ASSERT_TRUE(d.pkt);
    EXPECT_EQ(section(ldns_pkt_answer(d.pkt.get())),
              std::vector<std::string>{"evil.example.\t300\tIN\tTXT\t\"hello\""});
  }
  {
    // No AAAA among the local data: NODATA with the SOA.
    const Query q = query("evil.example.", kTypeAaaa);
    const auto a = buildBlockAnswer(q, p, out);
    auto d = decode({out.data(), a.length});
    ASSERT_TRUE(d.pkt);
    EXPECT_EQ(ldns_pkt_ancount(d.pkt.get()), 0);
    EXPECT_EQ(ldns_pkt_nscount(d.pkt.get()), 1);
  }
}

TEST(BlockAnswer, LocalCnameAnswersEveryType) {
  const auto target = wireName("walled.garden.example.");
  const std::array<uint8_t, 4> a1{198, 51, 100, 7};
  const std::array<LocalRecord, 2> recs{LocalRecord{kTypeA, a1}, LocalRecord{kTypeCname, target}};
  auto p = params(BlockAction::LocalData);
  p.local = recs;
  std::array<uint8_t, 1024> out{};
  const Query q = query("evil.example.", kTypeAaaa);
  const auto a = buildBlockAnswer(q, p, out);
  ASSERT_EQ(a.outcome, BlockOutcome::Answered);
  checkOwn(q, {out.data(), a.length}, 0);
  auto d = decode({out.data(), a.length});
  ASSERT_TRUE(d.pkt);
  EXPECT_EQ(section(ldns_pkt_answer(d.pkt.get())),
            std::vector<std::string>{"evil.example.\t300\tIN\tCNAME\twalled.garden.example."});
}

TEST(BlockAnswer, TcpOnlyTruncatesOverUdpAndResolvesOverTcp) {
  const Query q = query("evil.example.", kTypeA);
  std::array<uint8_t, 1024> out{};
  auto p = params(BlockAction::TcpOnly);
  auto a = buildBlockAnswer(q, p, out);
  ASSERT_EQ(a.outcome, BlockOutcome::Answered);
  EXPECT_TRUE(a.truncated);
  auto d = decode({out.data(), a.length});
  ASSERT_TRUE(d.pkt);
  EXPECT_TRUE(ldns_pkt_tc(d.pkt.get()));
  EXPECT_EQ(ldns_pkt_ancount(d.pkt.get()), 0);
  EXPECT_EQ(d.ede_code, -1);
  p.udp = false;
  a = buildBlockAnswer(q, p, out);
  EXPECT_EQ(a.outcome, BlockOutcome::Resolve);
}

TEST(BlockAnswer, DropAndPassthruSendNothing) {
  const Query q = query("evil.example.", kTypeA);
  std::array<uint8_t, 1024> out{};
  EXPECT_EQ(buildBlockAnswer(q, params(BlockAction::Drop), out).outcome, BlockOutcome::Drop);
  EXPECT_EQ(buildBlockAnswer(q, params(BlockAction::Passthru), out).outcome, BlockOutcome::Resolve);
}

TEST(BlockAnswer, OverTheClientLimitTruncates) {
  // 20 TXT records of 200 octets: far over 512 without EDNS.
  std::array<uint8_t, 201> big{};
  big[0] = 200;
  std::vector<LocalRecord> recs(20, LocalRecord{kTypeTxt, big});
  auto p = params(BlockAction::LocalData);
  p.local = recs;
  p.max_size = 512;
  const Query q = query("evil.example.", kTypeTxt, /*edns=*/false);
  std::array<uint8_t, 8192> out{};
  const auto a = buildBlockAnswer(q, p, out);
  ASSERT_EQ(a.outcome, BlockOutcome::Answered);
  EXPECT_TRUE(a.truncated);
  EXPECT_LE(a.length, 512U);
  auto d = decode({out.data(), a.length});
  ASSERT_TRUE(d.pkt);
  EXPECT_TRUE(ldns_pkt_tc(d.pkt.get()));
  EXPECT_EQ(ldns_pkt_ancount(d.pkt.get()), 0);
}

TEST(BlockAnswer, BufferTooSmallIsNoRoomOrTruncated) {
  const Query q = query("evil.example.", kTypeA);
  std::array<uint8_t, 8> tiny{};
  EXPECT_EQ(buildBlockAnswer(q, params(BlockAction::NxDomain), tiny).outcome, BlockOutcome::NoRoom);
  // Room for header, question and OPT but not the SOA: TC=1.
  std::array<uint8_t, 12 + 18 + 4 + 11 + 4 + 2 + 23> small{};
  const auto a = buildBlockAnswer(q, params(BlockAction::NxDomain), small);
  ASSERT_EQ(a.outcome, BlockOutcome::Answered);
  EXPECT_TRUE(a.truncated);
  auto d = decode({small.data(), a.length});
  ASSERT_TRUE(d.pkt);
  EXPECT_TRUE(ldns_pkt_tc(d.pkt.get()));
  EXPECT_EQ(d.ede_code, 15);
}

}  // namespace
}  // namespace steadfast::wire
