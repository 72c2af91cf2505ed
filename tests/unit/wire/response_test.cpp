// SPDX-License-Identifier: Apache-2.0
// Unit tests for the response side: analyzeResponse (match checks, RR walk, TTL offsets,
// RFC 2308 negative TTL, extended rcode), copyWithoutOpt, finishAnswer and adjustTtls.
// Realistic, compressed responses come from ldns; broken ones are assembled by hand.
#include <cstdlib>
#include <stdbool.h>  // before ldns: its headers use bool without including it
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include "resolver/base/c_ptr.h"
#include "resolver/wire/message.h"
#include "tests/unit/wire/wire_test_util.h"

namespace steadfast::wire {
namespace {

using test::clientQuery;
using test::Packet;
using test::parse;
using test::wireName;
using LdnsPkt = CPtr<ldns_pkt, ldns_pkt_free>;

struct RrText {
  ldns_pkt_section section;
  std::string text;
};

struct ResponseSpec {
  uint16_t id = 0x2222;
  std::string qname = "example.com.";
  ldns_rr_type qtype = LDNS_RR_TYPE_A;
  ldns_pkt_rcode rcode = LDNS_RCODE_NOERROR;
  std::vector<RrText> rrs;
  bool edns = true;
  bool aa = false;
};

// Builds a response with ldns (names compressed the way real servers do).
std::vector<uint8_t> ldnsResponse(const ResponseSpec& spec) {
  LdnsPkt pkt(ldns_pkt_new());
  ldns_pkt_set_id(pkt.get(), spec.id);
  ldns_pkt_set_qr(pkt.get(), true);
  ldns_pkt_set_rd(pkt.get(), true);
  ldns_pkt_set_ra(pkt.get(), true);
  ldns_pkt_set_aa(pkt.get(), spec.aa);
  ldns_pkt_set_rcode(pkt.get(), static_cast<uint8_t>(spec.rcode));
  ldns_rr* question = ldns_rr_new();
  ldns_rdf* owner = nullptr;
  EXPECT_EQ(ldns_str2rdf_dname(&owner, spec.qname.c_str()), LDNS_STATUS_OK);
  ldns_rr_set_owner(question, owner);
  ldns_rr_set_type(question, spec.qtype);
  ldns_rr_set_class(question, LDNS_RR_CLASS_IN);
  ldns_rr_set_question(question, true);
  ldns_pkt_push_rr(pkt.get(), LDNS_SECTION_QUESTION, question);
  for (const RrText& r : spec.rrs) {
    ldns_rr* rr = nullptr;
    EXPECT_EQ(ldns_rr_new_frm_str(&rr, r.text.c_str(), 0, nullptr, nullptr), LDNS_STATUS_OK)
        << r.text;
    if (rr != nullptr) {
      ldns_pkt_push_rr(pkt.get(), r.section, rr);
    }
  }
  if (spec.edns) {
    ldns_pkt_set_edns_udp_size(pkt.get(), 1232);
  }
  uint8_t* wire = nullptr;
  size_t size = 0;
  EXPECT_EQ(ldns_pkt2wire(&wire, pkt.get(), &size), LDNS_STATUS_OK);
  std::vector<uint8_t> out(wire, wire + size);
  std::free(wire);
  return out;
}

LdnsPkt ldnsParse(std::span<const uint8_t> wire) {
  ldns_pkt* pkt = nullptr;
  if (ldns_wire2pkt(&pkt, wire.data(), wire.size()) != LDNS_STATUS_OK) {
    return nullptr;
  }
  return LdnsPkt(pkt);
}

Query queryFor(std::string_view qname, uint16_t qtype = 1, bool edns = true, uint16_t id = 0x2222) {
  Query q;
  EXPECT_EQ(parse(clientQuery(id, qname, qtype, edns, 1232), q), QueryParse::Ok);
  return q;
}

std::vector<uint32_t> ttlsAt(std::span<const uint8_t> msg, const ResponseInfo& info) {
  std::vector<uint32_t> ttls;
  for (size_t i = 0; i < info.ttl_count; ++i) {
    ttls.push_back(readU32(msg.data() + info.ttl_offsets[i]));
  }
  return ttls;
}

ResponseSpec typicalAnswer() {
  ResponseSpec spec;
  spec.rrs = {{LDNS_SECTION_ANSWER, "example.com. 300 IN A 192.0.2.1"},
              {LDNS_SECTION_ANSWER, "example.com. 100 IN A 192.0.2.2"},
              {LDNS_SECTION_AUTHORITY, "example.com. 3600 IN NS ns.example.com."},
              {LDNS_SECTION_ADDITIONAL, "ns.example.com. 50 IN A 192.0.2.53"}};
  return spec;
}

// ---- analyzeResponse --------------------------------------------------------------------

TEST(WireResponse, AnalyzesTypicalAnswer) {
  const std::vector<uint8_t> msg = ldnsResponse(typicalAnswer());
  const Query q = queryFor("EXAMPLE.com.");  // the question compare ignores ASCII case
  ResponseInfo info;
  ASSERT_EQ(analyzeResponse(msg, 0x2222, q, info), ResponseCheck::Ok);
  EXPECT_EQ(info.rcode, 0);
  EXPECT_FALSE(info.truncated);
  EXPECT_EQ(info.ancount, 2);
  EXPECT_EQ(info.min_ttl, 50U);
  EXPECT_FALSE(info.has_soa);
  EXPECT_FALSE(info.too_many_rrs);
  ASSERT_EQ(info.ttl_count, 4);
  EXPECT_EQ(ttlsAt(msg, info), (std::vector<uint32_t>{300, 100, 3600, 50}));
  EXPECT_TRUE(info.has_opt);
  EXPECT_TRUE(info.opt_is_last);
  EXPECT_EQ(info.opt_len, kOptRrSize);
  EXPECT_EQ(info.opt_offset + info.opt_len, msg.size());
  EXPECT_EQ(msg[info.opt_offset], 0);
  EXPECT_EQ(info.flags & (kFlagQr | kFlagRa), kFlagQr | kFlagRa);
}

TEST(WireResponse, NoRecordsMeansZeroMinTtl) {
  ResponseSpec spec;
  spec.edns = false;
  const std::vector<uint8_t> msg = ldnsResponse(spec);
  ResponseInfo info;
  ASSERT_EQ(analyzeResponse(msg, 0x2222, queryFor("example.com."), info), ResponseCheck::Ok);
  EXPECT_EQ(info.min_ttl, 0U);
  EXPECT_EQ(info.ttl_count, 0);
  EXPECT_FALSE(info.has_opt);
}

TEST(WireResponse, MismatchOnIdQrAndQuestion) {
  const std::vector<uint8_t> msg = ldnsResponse(typicalAnswer());
  ResponseInfo info;
  EXPECT_EQ(analyzeResponse(msg, 0x2223, queryFor("example.com."), info), ResponseCheck::Mismatch);
  EXPECT_EQ(analyzeResponse(msg, 0x2222, queryFor("example.org."), info), ResponseCheck::Mismatch);
  EXPECT_EQ(analyzeResponse(msg, 0x2222, queryFor("www.example.com."), info),
            ResponseCheck::Mismatch);
  EXPECT_EQ(analyzeResponse(msg, 0x2222, queryFor("example.com.", 28), info),
            ResponseCheck::Mismatch);
  Query other_class = queryFor("example.com.");
  other_class.qclass = 3;
  EXPECT_EQ(analyzeResponse(msg, 0x2222, other_class, info), ResponseCheck::Mismatch);

  std::vector<uint8_t> no_qr = msg;
  no_qr[2] &= 0x7F;
  EXPECT_EQ(analyzeResponse(no_qr, 0x2222, queryFor("example.com."), info),
            ResponseCheck::Mismatch);
  for (uint8_t qd : {uint8_t{0}, uint8_t{2}}) {
    std::vector<uint8_t> bad_qd = msg;
    bad_qd[5] = qd;
    EXPECT_EQ(analyzeResponse(bad_qd, 0x2222, queryFor("example.com."), info),
              ResponseCheck::Mismatch);
  }
  EXPECT_EQ(analyzeResponse(std::span(msg).first(11), 0x2222, queryFor("example.com."), info),
            ResponseCheck::Mismatch);
}

TEST(WireResponse, MalformedOnEveryTruncation) {
  const std::vector<uint8_t> msg = ldnsResponse(typicalAnswer());
  const Query q = queryFor("example.com.");
  const size_t question_end = 12 + q.qname_len + 4U;
  ResponseInfo info;
  for (size_t n = 12; n < msg.size(); ++n) {
    std::vector<uint8_t> cut(msg.begin(), msg.begin() + static_cast<std::ptrdiff_t>(n));
    // Cutting into the question makes it unreadable; cutting later leaves a truncated RR.
    EXPECT_EQ(analyzeResponse(cut, 0x2222, q, info), ResponseCheck::Malformed) << n;
    // With TC set, a partial record section is expected (RFC 2181 9).
    cut[2] |= static_cast<uint8_t>(kFlagTc >> 8U);
    const ResponseCheck tc = analyzeResponse(cut, 0x2222, q, info);
    EXPECT_EQ(tc, n >= question_end ? ResponseCheck::Ok : ResponseCheck::Malformed) << n;
    if (tc == ResponseCheck::Ok) {
      EXPECT_TRUE(info.truncated);
      EXPECT_FALSE(info.opt_is_last);
    }
  }
}

TEST(WireResponse, NegativeTtlFromSoa) {
  struct Case {
    const char* soa;
    uint32_t want;
  };
  for (const Case& c :
       {Case{"example.com. 3600 IN SOA ns.example.com. host.example.com. 1 7200 3600 1209600 300",
             300},
        Case{"example.com. 60 IN SOA ns.example.com. host.example.com. 1 7200 3600 1209600 300",
             60}}) {
    ResponseSpec spec;
    spec.qname = "nx.example.com.";
    spec.rcode = LDNS_RCODE_NXDOMAIN;
    spec.aa = true;
    spec.rrs = {{LDNS_SECTION_AUTHORITY, c.soa}};
    const std::vector<uint8_t> msg = ldnsResponse(spec);
    ResponseInfo info;
    ASSERT_EQ(analyzeResponse(msg, 0x2222, queryFor("nx.example.com."), info), ResponseCheck::Ok);
    EXPECT_EQ(info.rcode, 3);
    EXPECT_TRUE(info.has_soa);
    EXPECT_EQ(info.negative_ttl, c.want);
    EXPECT_EQ(info.ttl_count, 1);
  }
}

TEST(WireResponse, SoaOutsideAuthorityIsNotNegativeTtl) {
  ResponseSpec spec;
  spec.qtype = LDNS_RR_TYPE_SOA;
  spec.rrs = {
      {LDNS_SECTION_ANSWER, "example.com. 3600 IN SOA ns.example.com. h.example.com. 1 2 3 4 5"}};
  const std::vector<uint8_t> msg = ldnsResponse(spec);
  ResponseInfo info;
  ASSERT_EQ(analyzeResponse(msg, 0x2222, queryFor("example.com.", kTypeSoa), info),
            ResponseCheck::Ok);
  EXPECT_FALSE(info.has_soa);
  EXPECT_EQ(info.min_ttl, 3600U);
}

// A hand-made response header + question for "a." type A, id 1.
Packet handResponse(uint16_t flags, uint16_t an, uint16_t ns, uint16_t ar) {
  Packet p;
  p.header(1, static_cast<uint16_t>(kFlagQr | flags), 1, an, ns, ar).question("a.", 1);
  return p;
}

TEST(WireResponse, MalformedSoaRdata) {
  Packet p = handResponse(3, 0, 1, 0);
  p.rr("a.", kTypeSoa, 60, {0, 0, 0, 0, 0, 0, 0, 1});  // two root names, then 6 of 20 octets
  ResponseInfo info;
  EXPECT_EQ(analyzeResponse(p.span(), 1, queryFor("a.", 1, false, 1), info),
            ResponseCheck::Malformed);
}

TEST(WireResponse, ExtendedRcode) {
  Packet p = handResponse(0x0007, 0, 0, 1);  // header rcode 7
  p.opt(1232, 0x01000000U);                  // OPT upper rcode bits = 1
  ResponseInfo info;
  ASSERT_EQ(analyzeResponse(p.span(), 1, queryFor("a.", 1, true, 1), info), ResponseCheck::Ok);
  EXPECT_EQ(info.rcode, 0x17);  // 23 = BADCOOKIE (RFC 7873 8)
  EXPECT_TRUE(info.has_opt);
  EXPECT_EQ(info.min_ttl, 0U);
}

TEST(WireResponse, OptRules) {
  const Query q = queryFor("a.", 1, true, 1);
  ResponseInfo info;
  {
    Packet p = handResponse(0, 0, 0, 2);
    p.opt(1232).opt(1232);
    EXPECT_EQ(analyzeResponse(p.span(), 1, q, info), ResponseCheck::Malformed) << "two OPTs";
  }
  {
    Packet p = handResponse(0, 1, 0, 0);
    p.opt(1232);
    EXPECT_EQ(analyzeResponse(p.span(), 1, q, info), ResponseCheck::Malformed) << "in answer";
  }
  {
    Packet p = handResponse(0, 0, 0, 1);
    p.name("a.").rrTail(kTypeOpt, 1232, 0, {});
    EXPECT_EQ(analyzeResponse(p.span(), 1, q, info), ResponseCheck::Malformed) << "owner";
  }
  {
    Packet p = handResponse(0, 0, 0, 2);
    p.opt(1232).rr("a.", 1, 30, {1, 2, 3, 4});
    ASSERT_EQ(analyzeResponse(p.span(), 1, q, info), ResponseCheck::Ok);
    EXPECT_TRUE(info.has_opt);
    EXPECT_FALSE(info.opt_is_last);
    EXPECT_EQ(info.opt_offset, 12 + 3 + 4U);
  }
}

TEST(WireResponse, CompressionLoopInRecordIsMalformed) {
  Packet p = handResponse(0, 1, 0, 0);
  const auto at = static_cast<uint16_t>(p.size());
  p.raw({1, 'b'}).pointer(at).rrTail(1, 1, 0, std::vector<uint8_t>{1, 2, 3, 4});
  ResponseInfo info;
  EXPECT_EQ(analyzeResponse(p.span(), 1, queryFor("a.", 1, false, 1), info),
            ResponseCheck::Malformed);
}

TEST(WireResponse, TopBitTtlCountsAsZero) {
  Packet p = handResponse(0, 2, 0, 0);
  p.rr("a.", 1, 0x80000000U, {1, 2, 3, 4}).rr("a.", 1, 20, {1, 2, 3, 5});
  ResponseInfo info;
  ASSERT_EQ(analyzeResponse(p.span(), 1, queryFor("a.", 1, false, 1), info), ResponseCheck::Ok);
  EXPECT_EQ(info.min_ttl, 0U);  // RFC 2181 8
}

TEST(WireResponse, TooManyRecords) {
  const uint16_t n = kMaxTtlOffsets + 10;
  Packet p = handResponse(0, n, 0, 0);
  for (uint16_t i = 0; i < n; ++i) {
    p.pointer(12).rrTail(1, 1, 1000U - i, std::vector<uint8_t>{1, 2, 3, 4});
  }
  ResponseInfo info;
  ASSERT_EQ(analyzeResponse(p.span(), 1, queryFor("a.", 1, false, 1), info), ResponseCheck::Ok);
  EXPECT_TRUE(info.too_many_rrs);
  EXPECT_EQ(info.ttl_count, kMaxTtlOffsets);
  EXPECT_EQ(info.min_ttl, 1000U - (n - 1U));  // still over all records
}

TEST(WireResponse, TrailingBytesAreMalformedUnlessTruncated) {
  const Query q = queryFor("a.", 1, true, 1);
  ResponseInfo info;
  Packet p = handResponse(0, 1, 0, 1);
  p.rr("a.", 1, 30, {1, 2, 3, 4}).opt(1232).raw({0, 0});
  EXPECT_EQ(analyzeResponse(p.span(), 1, q, info), ResponseCheck::Malformed);
  Packet tc = handResponse(kFlagTc, 1, 0, 1);
  tc.rr("a.", 1, 30, {1, 2, 3, 4}).opt(1232).raw({0, 0});
  ASSERT_EQ(analyzeResponse(tc.span(), 1, q, info), ResponseCheck::Ok);
  EXPECT_TRUE(info.truncated);
}

// ---- copyWithoutOpt ---------------------------------------------------------------------

TEST(WireResponse, CopyWithoutOptStripsTrailingOpt) {
  const std::vector<uint8_t> msg = ldnsResponse(typicalAnswer());
  const Query q = queryFor("example.com.");
  ResponseInfo info;
  ASSERT_EQ(analyzeResponse(msg, 0x2222, q, info), ResponseCheck::Ok);
  std::vector<uint8_t> out(msg.size());
  const size_t n = copyWithoutOpt(msg, info, out);
  ASSERT_EQ(n, msg.size() - kOptRrSize);
  LdnsPkt pkt = ldnsParse({out.data(), n});
  ASSERT_TRUE(pkt);
  EXPECT_FALSE(ldns_pkt_edns(pkt.get()));
  EXPECT_EQ(ldns_pkt_arcount(pkt.get()), 1);
  EXPECT_EQ(ttlsAt({out.data(), n}, info), (std::vector<uint32_t>{300, 100, 3600, 50}));
  EXPECT_EQ(copyWithoutOpt(msg, info, {out.data(), n - 1}), 0U);
}

TEST(WireResponse, CopyWithoutOptKeepsOptThatIsNotLast) {
  Packet p = handResponse(0, 0, 0, 2);
  p.opt(1232).rr("a.", 1, 30, {1, 2, 3, 4});
  ResponseInfo info;
  ASSERT_EQ(analyzeResponse(p.span(), 1, queryFor("a.", 1, true, 1), info), ResponseCheck::Ok);
  std::vector<uint8_t> out(p.size());
  ASSERT_EQ(copyWithoutOpt(p.span(), info, out), p.size());
  EXPECT_EQ(out, p.bytes());
}

// ---- finishAnswer -----------------------------------------------------------------------

// The stored form of `spec`'s response: analyzed against a lower-case query, OPT stripped.
std::vector<uint8_t> storedAnswer(const ResponseSpec& spec, ResponseInfo& info) {
  const std::vector<uint8_t> msg = ldnsResponse(spec);
  const Query q = queryFor(spec.qname, static_cast<uint16_t>(spec.qtype), true, spec.id);
  EXPECT_EQ(analyzeResponse(msg, spec.id, q, info), ResponseCheck::Ok);
  std::vector<uint8_t> stored(msg.size());
  stored.resize(copyWithoutOpt(msg, info, stored));
  return stored;
}

std::string ldnsOwner(const ldns_rr* rr) {
  char* s = ldns_rdf2str(ldns_rr_owner(rr));
  std::string out = s != nullptr ? s : "";
  std::free(s);
  return out;
}

TEST(WireResponse, FinishAnswerForEdnsClient) {
  ResponseSpec spec = typicalAnswer();
  spec.aa = true;
  ResponseInfo info;
  const std::vector<uint8_t> stored = storedAnswer(spec, info);

  Packet client;
  client.header(0x9999, kFlagCd, 1, 0, 0, 1).question("ExAmPle.COM.", 1).opt(4096, 0x8000);
  Query q;
  ASSERT_EQ(parse(client, q), QueryParse::Ok);
  std::vector<uint8_t> buf(4096);
  std::copy(stored.begin(), stored.end(), buf.begin());
  const Ede ede{EdeCode::StaleAnswer, "stale"};
  const size_t n = finishAnswer(buf, stored.size(), q, 1232, q.udp_size, &ede);
  ASSERT_EQ(n, stored.size() + kOptRrSize + 4 + 2 + 5);

  LdnsPkt pkt = ldnsParse({buf.data(), n});
  ASSERT_TRUE(pkt);
  EXPECT_EQ(ldns_pkt_id(pkt.get()), 0x9999);
  EXPECT_FALSE(ldns_pkt_rd(pkt.get()));  // client's RD (clear)
  EXPECT_TRUE(ldns_pkt_cd(pkt.get()));   // client's CD
  EXPECT_TRUE(ldns_pkt_aa(pkt.get()));   // the answer's own flags stay
  EXPECT_TRUE(ldns_pkt_ra(pkt.get()));
  EXPECT_FALSE(ldns_pkt_tc(pkt.get()));
  EXPECT_EQ(ldnsOwner(ldns_rr_list_rr(ldns_pkt_question(pkt.get()), 0)), "ExAmPle.COM.");
  EXPECT_EQ(ldns_pkt_ancount(pkt.get()), 2);
  EXPECT_EQ(ldns_pkt_nscount(pkt.get()), 1);
  EXPECT_EQ(readU16(buf.data() + 10), 2);  // glue A + our OPT (ldns does not count the OPT)
  EXPECT_TRUE(ldns_pkt_edns(pkt.get()));
  EXPECT_TRUE(ldns_pkt_edns_do(pkt.get()));
  EXPECT_EQ(ldns_pkt_edns_udp_size(pkt.get()), 1232);
  ldns_edns_option_list* list = ldns_pkt_edns_get_option_list(pkt.get());
  ASSERT_NE(list, nullptr);
  ASSERT_EQ(ldns_edns_option_list_get_count(list), 1U);
  ldns_edns_option* o = ldns_edns_option_list_get_option(list, 0);
  EXPECT_EQ(ldns_edns_get_code(o), 15);
  ASSERT_EQ(ldns_edns_get_size(o), 7U);
  EXPECT_EQ(readU16(ldns_edns_get_data(o)), 3);

  ResponseInfo again;
  EXPECT_EQ(analyzeResponse({buf.data(), n}, 0x9999, q, again), ResponseCheck::Ok);
}

TEST(WireResponse, FinishAnswerKeepsRcodeAndSkipsOptForPlainClient) {
  ResponseSpec spec;
  spec.qname = "nx.example.com.";
  spec.rcode = LDNS_RCODE_NXDOMAIN;
  spec.rrs = {{LDNS_SECTION_AUTHORITY, "example.com. 60 IN SOA ns. h. 1 2 3 4 5"}};
  ResponseInfo info;
  const std::vector<uint8_t> stored = storedAnswer(spec, info);
  const Query q = queryFor("NX.example.com.", 1, false, 0x0101);
  std::vector<uint8_t> buf(stored);
  const size_t n = finishAnswer(buf, buf.size(), q, 1232, 512, nullptr);
  ASSERT_EQ(n, stored.size());
  LdnsPkt pkt = ldnsParse({buf.data(), n});
  ASSERT_TRUE(pkt);
  EXPECT_EQ(ldns_pkt_id(pkt.get()), 0x0101);
  EXPECT_TRUE(ldns_pkt_rd(pkt.get()));
  EXPECT_EQ(ldns_pkt_get_rcode(pkt.get()), LDNS_RCODE_NXDOMAIN);
  EXPECT_FALSE(ldns_pkt_edns(pkt.get()));
  EXPECT_EQ(ldnsOwner(ldns_rr_list_rr(ldns_pkt_question(pkt.get()), 0)), "NX.example.com.");
}

ResponseSpec bigAnswer() {
  ResponseSpec spec;
  spec.qtype = LDNS_RR_TYPE_TXT;
  for (int i = 0; i < 20; ++i) {
    spec.rrs.push_back(
        {LDNS_SECTION_ANSWER,
         "example.com. 300 IN TXT \"" + std::string(40, static_cast<char>('a' + i)) + "\""});
  }
  return spec;
}

TEST(WireResponse, FinishAnswerTruncatesTo512ForPlainClient) {
  ResponseInfo info;
  const std::vector<uint8_t> stored = storedAnswer(bigAnswer(), info);
  ASSERT_GT(stored.size(), 512U);
  const Query q = queryFor("Example.com.", 16, false, 0x3333);
  std::vector<uint8_t> buf(stored);
  const size_t n = finishAnswer(buf, buf.size(), q, 1232, 512, nullptr);
  ASSERT_EQ(n, 12 + q.qname_len + 4U);
  LdnsPkt pkt = ldnsParse({buf.data(), n});
  ASSERT_TRUE(pkt);
  EXPECT_EQ(ldns_pkt_id(pkt.get()), 0x3333);
  EXPECT_TRUE(ldns_pkt_tc(pkt.get()));
  EXPECT_TRUE(ldns_pkt_qr(pkt.get()));
  EXPECT_TRUE(ldns_pkt_rd(pkt.get()));
  EXPECT_EQ(ldns_pkt_qdcount(pkt.get()), 1);
  EXPECT_EQ(ldns_pkt_ancount(pkt.get()), 0);
  EXPECT_EQ(ldns_pkt_nscount(pkt.get()), 0);
  EXPECT_EQ(ldns_pkt_arcount(pkt.get()), 0);
  EXPECT_EQ(ldnsOwner(ldns_rr_list_rr(ldns_pkt_question(pkt.get()), 0)), "Example.com.");
  ResponseInfo again;
  ASSERT_EQ(analyzeResponse({buf.data(), n}, 0x3333, q, again), ResponseCheck::Ok);
  EXPECT_TRUE(again.truncated);
}

TEST(WireResponse, FinishAnswerTruncatesWithOptForEdnsClient) {
  ResponseInfo info;
  const std::vector<uint8_t> stored = storedAnswer(bigAnswer(), info);
  Query q;
  ASSERT_EQ(parse(clientQuery(4, "example.com.", 16, true, 600, true), q), QueryParse::Ok);
  std::vector<uint8_t> buf(stored);
  buf.resize(4096);
  const size_t n = finishAnswer(buf, stored.size(), q, 1232, q.udp_size, nullptr);
  ASSERT_EQ(n, 12 + q.qname_len + 4 + kOptRrSize);
  LdnsPkt pkt = ldnsParse({buf.data(), n});
  ASSERT_TRUE(pkt);
  EXPECT_TRUE(ldns_pkt_tc(pkt.get()));
  EXPECT_EQ(readU16(buf.data() + 6), 0);
  EXPECT_EQ(readU16(buf.data() + 10), 1);  // just our OPT
  EXPECT_TRUE(ldns_pkt_edns(pkt.get()));
  EXPECT_TRUE(ldns_pkt_edns_do(pkt.get()));

  // Over TCP (65535) the same answer goes out whole.
  std::copy(stored.begin(), stored.end(), buf.begin());
  EXPECT_EQ(finishAnswer(buf, stored.size(), q, 1232, 65535, nullptr), stored.size() + kOptRrSize);
}

TEST(WireResponse, FinishAnswerGivesStoredTcAnswerTheCleanForm) {
  // A TC answer whose record section breaks off mid-record (RFC 2181 9).
  Packet p = handResponse(kFlagTc | kFlagRa, 3, 0, 0);
  p.rr("a.", 1, 30, {1, 2, 3, 4}).raw({0xC0, 0x0C, 0});
  const Query q = queryFor("A.", 1, true, 0x0505);
  ResponseInfo info;
  ASSERT_EQ(analyzeResponse(p.span(), 1, q, info), ResponseCheck::Ok);
  ASSERT_TRUE(info.truncated);
  std::vector<uint8_t> buf(p.bytes());
  buf.resize(512);
  const size_t n = finishAnswer(buf, p.size(), q, 1232, 65535, nullptr);
  ASSERT_EQ(n, 12 + q.qname_len + 4 + kOptRrSize);
  EXPECT_EQ(readU16(buf.data() + 6), 0);
  EXPECT_NE(messageFlags(buf) & kFlagTc, 0);
  EXPECT_NE(messageFlags(buf) & kFlagRa, 0);
  EXPECT_EQ(buf[13], 'A');  // the client's case
  ResponseInfo again;
  ASSERT_EQ(analyzeResponse({buf.data(), n}, 0x0505, q, again), ResponseCheck::Ok);
  EXPECT_TRUE(again.has_opt);
  EXPECT_TRUE(again.opt_is_last);
}

TEST(WireResponse, FinishAnswerBufferLimits) {
  ResponseInfo info;
  const std::vector<uint8_t> stored = storedAnswer(typicalAnswer(), info);
  const Query q = queryFor("example.com.", 1, true, 5);
  // No room for the OPT: falls back to the truncated form, which fits.
  std::vector<uint8_t> buf(stored);
  const size_t n = finishAnswer(buf, buf.size(), q, 1232, 65535, nullptr);
  EXPECT_EQ(n, 12 + q.qname_len + 4 + kOptRrSize);
  EXPECT_NE(messageFlags(buf) & kFlagTc, 0);
  // Not even the truncated form fits.
  std::vector<uint8_t> tiny(stored.begin(), stored.begin() + 20);
  EXPECT_EQ(finishAnswer(tiny, tiny.size(), q, 1232, 65535, nullptr), 0U);
  // Length beyond the buffer, or shorter than a header.
  EXPECT_EQ(finishAnswer(buf, buf.size() + 1, q, 1232, 65535, nullptr), 0U);
  EXPECT_EQ(finishAnswer(buf, 11, q, 1232, 65535, nullptr), 0U);
}

// ---- adjustTtls -------------------------------------------------------------------------

TEST(WireResponse, AdjustTtlsCountsDownWithFloorAndFixed) {
  ResponseInfo info;
  std::vector<uint8_t> msg = storedAnswer(typicalAnswer(), info);
  const std::span<const uint16_t> offsets(info.ttl_offsets.data(), info.ttl_count);
  adjustTtls(msg, offsets, 80, false, 0);
  EXPECT_EQ(ttlsAt(msg, info), (std::vector<uint32_t>{220, 20, 3520, 0}));
  adjustTtls(msg, offsets, 20, false, 0);
  EXPECT_EQ(ttlsAt(msg, info), (std::vector<uint32_t>{200, 0, 3500, 0}));
  adjustTtls(msg, offsets, 100000, true, 30);  // serve-stale, RFC 8767 4
  EXPECT_EQ(ttlsAt(msg, info), (std::vector<uint32_t>{30, 30, 30, 30}));
  LdnsPkt pkt = ldnsParse(msg);
  ASSERT_TRUE(pkt);
  EXPECT_EQ(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(pkt.get()), 0)), 30U);
}

TEST(WireResponse, AdjustTtlsIgnoresOffsetsOutsideMessage) {
  std::vector<uint8_t> msg(16, 0);
  writeU32(msg.data() + 12, 100);
  const std::vector<uint16_t> offsets{12, 13, 16, 0xFFFF};
  adjustTtls(msg, offsets, 1, false, 0);
  EXPECT_EQ(readU32(msg.data() + 12), 99U);  // only offset 12 has four bytes to rewrite
  EXPECT_EQ(msg.size(), 16U);
}

TEST(WireResponse, ScopedClientSubnetIsNotForEveryone) {
  struct Case {
    std::vector<uint8_t> rdata;
    bool scoped;
  };
  const std::vector<Case> cases = {
      {{0, 8, 0, 7, 0, 1, 24, 24, 198, 51, 100}, true},     // scope /24
      {{0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100}, false},     // scope 0: valid for all
      {{0, 10, 0, 2, 1, 2, 0, 8, 0, 4, 0, 1, 0, 9}, true},  // after another option
      {{}, false},
  };
  for (const Case& c : cases) {
    Packet p = handResponse(0, 1, 0, 1);
    p.rr("a.", 1, 60, {1, 2, 3, 4});
    p.u8(0).rrTail(kTypeOpt, 1232, 0, c.rdata);
    ResponseInfo info;
    ASSERT_EQ(analyzeResponse(p.span(), 1, queryFor("a.", 1, true, 1), info), ResponseCheck::Ok);
    EXPECT_EQ(info.ecs_scoped, c.scoped) << c.rdata.size();
  }
}

}  // namespace
}  // namespace steadfast::wire
