// SPDX-License-Identifier: Apache-2.0
// Unit tests for the message builders (upstream query, probe, error answers with EDNS0 and
// EDE, header-only errors). Outputs are cross-checked by parsing them with ldns, an
// independent decoder, and with our own parseQuery where that applies.
#include <stdbool.h>  // before ldns: its headers use bool without including it
#include <string>
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
using LdnsStr = CPtr<char, free>;

LdnsPkt ldnsParse(std::span<const uint8_t> wire) {
  ldns_pkt* pkt = nullptr;
  if (ldns_wire2pkt(&pkt, wire.data(), wire.size()) != LDNS_STATUS_OK) {
    return nullptr;
  }
  return LdnsPkt(pkt);
}

std::string questionOwner(const ldns_pkt* pkt) {
  const ldns_rr* rr = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
  LdnsStr s(ldns_rdf2str(ldns_rr_owner(rr)));
  return s ? std::string(s.get()) : std::string();
}

// The single EDE option of `pkt`, or code -1 when there is none.
struct EdeSeen {
  int code = -1;
  std::string text;
};
EdeSeen edeOf(ldns_pkt* pkt) {
  EdeSeen seen;
  ldns_edns_option_list* list = ldns_pkt_edns_get_option_list(pkt);
  if (list == nullptr) {
    return seen;
  }
  for (size_t i = 0; i < ldns_edns_option_list_get_count(list); ++i) {
    ldns_edns_option* o = ldns_edns_option_list_get_option(list, i);
    if (ldns_edns_get_code(o) != 15 || ldns_edns_get_size(o) < 2) {
      continue;
    }
    const uint8_t* d = ldns_edns_get_data(o);
    seen.code = readU16(d);
    seen.text.assign(reinterpret_cast<const char*>(d) + 2, ldns_edns_get_size(o) - 2);
  }
  return seen;
}

Query parsed(const Packet& p) {
  Query q;
  EXPECT_EQ(parse(p, q), QueryParse::Ok);
  return q;
}

TEST(WireBuilder, UpstreamQueryCarriesQuestionCdAndDo) {
  Packet client;
  client.header(0x1111, kFlagRd | kFlagCd, 1, 0, 0, 1).question("WwW.Example.COM.", 28);
  client.opt(4096, 0x8000);
  const Query q = parsed(client);
  std::array<uint8_t, 512> out{};
  const size_t n = buildUpstreamQuery(q, 0xABCD, 1232, out);
  ASSERT_EQ(n, 12 + 17 + 4 + kOptRrSize);

  LdnsPkt pkt = ldnsParse({out.data(), n});
  ASSERT_TRUE(pkt);
  EXPECT_EQ(ldns_pkt_id(pkt.get()), 0xABCD);
  EXPECT_FALSE(ldns_pkt_qr(pkt.get()));
  EXPECT_TRUE(ldns_pkt_rd(pkt.get()));
  EXPECT_TRUE(ldns_pkt_cd(pkt.get()));
  EXPECT_EQ(ldns_pkt_get_opcode(pkt.get()), LDNS_PACKET_QUERY);
  EXPECT_EQ(ldns_pkt_qdcount(pkt.get()), 1);
  EXPECT_EQ(questionOwner(pkt.get()), "WwW.Example.COM.");
  EXPECT_EQ(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_question(pkt.get()), 0)), LDNS_RR_TYPE_AAAA);
  EXPECT_TRUE(ldns_pkt_edns(pkt.get()));
  EXPECT_EQ(ldns_pkt_edns_udp_size(pkt.get()), 1232);
  EXPECT_TRUE(ldns_pkt_edns_do(pkt.get()));
  EXPECT_EQ(ldns_pkt_edns_version(pkt.get()), 0);

  // And it is a query we would accept ourselves.
  Query back;
  ASSERT_EQ(parseQuery({out.data(), n}, back), QueryParse::Ok);
  EXPECT_EQ(back.id, 0xABCD);
  EXPECT_TRUE(back.cd());
  EXPECT_TRUE(back.do_bit);
  EXPECT_EQ(back.udp_size, 1232);
}

TEST(WireBuilder, UpstreamQueryWithoutClientEdnsHasOptWithoutDo) {
  const Query q = parsed(clientQuery(1, "example.com.", 1, false));
  std::array<uint8_t, 512> out{};
  const size_t n = buildUpstreamQuery(q, 2, 1400, out);
  LdnsPkt pkt = ldnsParse({out.data(), n});
  ASSERT_TRUE(pkt);
  EXPECT_TRUE(ldns_pkt_edns(pkt.get()));
  EXPECT_FALSE(ldns_pkt_edns_do(pkt.get()));
  EXPECT_FALSE(ldns_pkt_cd(pkt.get()));
  EXPECT_EQ(ldns_pkt_edns_udp_size(pkt.get()), 1400);
}

TEST(WireBuilder, UpstreamQueryNeedsRoom) {
  const Query q = parsed(clientQuery(1, "example.com.", 1, true));
  std::array<uint8_t, 512> out{};
  const size_t full = buildUpstreamQuery(q, 2, 1232, out);
  ASSERT_GT(full, 0U);
  for (size_t n = 0; n < full; ++n) {
    EXPECT_EQ(buildUpstreamQuery(q, 2, 1232, {out.data(), n}), 0U) << n;
  }
  EXPECT_EQ(buildUpstreamQuery(Query{}, 2, 1232, out), 0U);  // no question
}

TEST(WireBuilder, ClientSubnetGoesOutOnlyWhenAsked) {
  Packet client;
  client.header(1, kFlagRd, 1, 0, 0, 1).question("example.com.", 1);
  client.u8(0).rrTail(kTypeOpt, 1232, 0,
                      std::vector<uint8_t>{0, 8,  0, 7, 0, 1, 24, 0, 198, 51, 100,       // ECS
                                           0, 10, 0, 8, 1, 2, 3,  4, 5,   6,  7,   8});  // COOKIE
  const Query q = parsed(client);
  ASSERT_EQ(q.ecs_len, 7);
  std::array<uint8_t, 512> out{};
  // Default: no client option at all goes upstream (neither ECS nor the cookie).
  size_t n = buildUpstreamQuery(q, 2, 1232, out);
  ASSERT_EQ(n, 12 + 13 + 4 + kOptRrSize);
  Query back;
  ASSERT_EQ(parseQuery({out.data(), n}, back), QueryParse::Ok);
  EXPECT_EQ(back.ecs_len, 0);
  // send_client_subnet: exactly the client's ECS option, and still nothing else.
  n = buildUpstreamQuery(q, 2, 1232, out, true);
  ASSERT_EQ(n, 12 + 13 + 4 + kOptRrSize + 4 + 7);
  ASSERT_EQ(parseQuery({out.data(), n}, back), QueryParse::Ok);
  EXPECT_EQ(std::vector<uint8_t>(back.clientSubnet().begin(), back.clientSubnet().end()),
            (std::vector<uint8_t>{0, 1, 24, 0, 198, 51, 100}));
  LdnsPkt pkt = ldnsParse({out.data(), n});
  ASSERT_TRUE(pkt);
  EXPECT_TRUE(ldns_pkt_edns(pkt.get()));
  for (size_t cut = n - 4 - 7; cut < n; ++cut) {
    EXPECT_EQ(buildUpstreamQuery(q, 2, 1232, {out.data(), cut}, true), 0U) << cut;
  }
  // A client without ECS: send_client_subnet adds nothing.
  const Query plain = parsed(clientQuery(1, "example.com.", 1, true));
  EXPECT_EQ(buildUpstreamQuery(plain, 2, 1232, out, true), 12 + 13 + 4 + kOptRrSize);
}

TEST(WireBuilder, ProbeQuery) {
  const std::vector<uint8_t> name = wireName("probe.example.");
  std::array<uint8_t, 512> out{};
  const size_t n = buildQuery(name, 2, 77, 1232, true, out);
  LdnsPkt pkt = ldnsParse({out.data(), n});
  ASSERT_TRUE(pkt);
  EXPECT_EQ(ldns_pkt_id(pkt.get()), 77);
  EXPECT_TRUE(ldns_pkt_rd(pkt.get()));
  EXPECT_EQ(questionOwner(pkt.get()), "probe.example.");
  const ldns_rr* question = ldns_rr_list_rr(ldns_pkt_question(pkt.get()), 0);
  EXPECT_EQ(ldns_rr_get_type(question), LDNS_RR_TYPE_NS);
  EXPECT_EQ(ldns_rr_get_class(question), LDNS_RR_CLASS_IN);
  EXPECT_TRUE(ldns_pkt_edns_do(pkt.get()));
  EXPECT_EQ(ldns_pkt_edns_udp_size(pkt.get()), 1232);

  EXPECT_EQ(buildQuery({}, 1, 1, 1232, false, out), 0U);
  const std::vector<uint8_t> no_root{3, 'c', 'o', 'm'};
  EXPECT_EQ(buildQuery(no_root, 1, 1, 1232, false, out), 0U);
  const std::vector<uint8_t> pointer{0xC0, 12};
  EXPECT_EQ(buildQuery(pointer, 1, 1, 1232, false, out), 0U);
  EXPECT_EQ(buildQuery(name, 1, 1, 1232, false, {out.data(), 20}), 0U);
}

TEST(WireBuilder, ErrorResponseWithEde) {
  Packet client;
  client.header(0x5151, kFlagRd | kFlagCd, 1, 0, 0, 1).question("Blocked.Example.", 1);
  client.opt(4096, 0x8000);
  const Query q = parsed(client);
  const Ede ede{EdeCode::Blocked, "policy"};
  std::array<uint8_t, 512> out{};
  const size_t n = buildErrorResponse(q, static_cast<uint16_t>(Rcode::Refused), out, 1232, &ede);
  ASSERT_EQ(n, 12 + q.qname_len + 4 + kOptRrSize + 4 + 2 + 6U);

  LdnsPkt pkt = ldnsParse({out.data(), n});
  ASSERT_TRUE(pkt);
  EXPECT_EQ(ldns_pkt_id(pkt.get()), 0x5151);
  EXPECT_TRUE(ldns_pkt_qr(pkt.get()));
  EXPECT_TRUE(ldns_pkt_rd(pkt.get()));
  EXPECT_TRUE(ldns_pkt_cd(pkt.get()));
  EXPECT_TRUE(ldns_pkt_ra(pkt.get()));
  EXPECT_FALSE(ldns_pkt_aa(pkt.get()));
  EXPECT_FALSE(ldns_pkt_tc(pkt.get()));
  EXPECT_EQ(ldns_pkt_get_rcode(pkt.get()), LDNS_RCODE_REFUSED);
  EXPECT_EQ(questionOwner(pkt.get()), "Blocked.Example.");
  EXPECT_EQ(ldns_pkt_ancount(pkt.get()), 0);
  EXPECT_EQ(ldns_pkt_nscount(pkt.get()), 0);
  EXPECT_TRUE(ldns_pkt_edns(pkt.get()));
  EXPECT_EQ(ldns_pkt_edns_udp_size(pkt.get()), 1232);
  EXPECT_TRUE(ldns_pkt_edns_do(pkt.get()));
  EXPECT_EQ(ldns_pkt_edns_extended_rcode(pkt.get()), 0);
  const EdeSeen seen = edeOf(pkt.get());
  EXPECT_EQ(seen.code, 15);
  EXPECT_EQ(seen.text, "policy");
}

TEST(WireBuilder, ErrorResponseEdeWithoutText) {
  const Query q = parsed(clientQuery(3, "a.", 1, true));
  const Ede ede{EdeCode::NetworkError, {}};
  std::array<uint8_t, 512> out{};
  const size_t n = buildErrorResponse(q, static_cast<uint16_t>(Rcode::ServFail), out, 1232, &ede);
  LdnsPkt pkt = ldnsParse({out.data(), n});
  ASSERT_TRUE(pkt);
  EXPECT_EQ(ldns_pkt_get_rcode(pkt.get()), LDNS_RCODE_SERVFAIL);
  const EdeSeen seen = edeOf(pkt.get());
  EXPECT_EQ(seen.code, 23);
  EXPECT_EQ(seen.text, "");
}

TEST(WireBuilder, ErrorResponseWithoutEdnsHasNoOpt) {
  const Query q = parsed(clientQuery(9, "a.example.", 1, false));
  const Ede ede{EdeCode::Blocked, "x"};
  std::array<uint8_t, 512> out{};
  const size_t n = buildErrorResponse(q, static_cast<uint16_t>(Rcode::NxDomain), out, 1232, &ede);
  ASSERT_EQ(n, 12 + q.qname_len + 4U);
  LdnsPkt pkt = ldnsParse({out.data(), n});
  ASSERT_TRUE(pkt);
  EXPECT_EQ(ldns_pkt_get_rcode(pkt.get()), LDNS_RCODE_NXDOMAIN);
  EXPECT_FALSE(ldns_pkt_edns(pkt.get()));
  EXPECT_EQ(ldns_pkt_arcount(pkt.get()), 0);
}

TEST(WireBuilder, BadVersPutsUpperRcodeBitsInOpt) {
  Packet client;
  client.header(4, kFlagRd, 1, 0, 0, 1).question("a.", 1).opt(4096, 0x00010000U);
  Query q;
  ASSERT_EQ(parse(client, q), QueryParse::BadVers);
  std::array<uint8_t, 512> out{};
  const size_t n = buildErrorResponse(q, 16, out, 1232, nullptr);  // BADVERS, RFC 6891 9
  ASSERT_GT(n, 0U);
  LdnsPkt pkt = ldnsParse({out.data(), n});
  ASSERT_TRUE(pkt);
  EXPECT_EQ(ldns_pkt_get_rcode(pkt.get()), 0);
  EXPECT_EQ(ldns_pkt_edns_extended_rcode(pkt.get()), 1);
  EXPECT_EQ(ldns_pkt_edns_version(pkt.get()), 0);  // we answer with the version we speak
  // Our own analyzer sees the full 12-bit rcode.
  ResponseInfo info;
  ASSERT_EQ(analyzeResponse({out.data(), n}, 4, q, info), ResponseCheck::Ok);
  EXPECT_EQ(info.rcode, 16);
}

TEST(WireBuilder, ErrorResponseNeedsRoom) {
  const Query q = parsed(clientQuery(3, "example.com.", 1, true));
  const Ede ede{EdeCode::Other, "text"};
  std::array<uint8_t, 512> out{};
  const size_t full = buildErrorResponse(q, 2, out, 1232, &ede);
  ASSERT_GT(full, 0U);
  for (size_t n = 0; n < full; ++n) {
    EXPECT_EQ(buildErrorResponse(q, 2, {out.data(), n}, 1232, &ede), 0U) << n;
  }
}

TEST(WireBuilder, HeaderOnlyError) {
  Packet client;
  client.header(0x7777, kFlagRd | kFlagCd | (5U << 11U), 3).raw({0xFF, 0xFF});
  std::array<uint8_t, 64> out{};
  out.fill(0xEE);
  ASSERT_EQ(buildHeaderOnlyError(client.span(), Rcode::NotImp, out), 12U);
  LdnsPkt pkt = ldnsParse({out.data(), 12});
  ASSERT_TRUE(pkt);
  EXPECT_EQ(ldns_pkt_id(pkt.get()), 0x7777);
  EXPECT_TRUE(ldns_pkt_qr(pkt.get()));
  EXPECT_TRUE(ldns_pkt_rd(pkt.get()));
  EXPECT_EQ(ldns_pkt_get_opcode(pkt.get()), LDNS_PACKET_UPDATE);
  EXPECT_EQ(ldns_pkt_get_rcode(pkt.get()), LDNS_RCODE_NOTIMPL);
  EXPECT_EQ(ldns_pkt_qdcount(pkt.get()), 0);
  EXPECT_EQ(ldns_pkt_ancount(pkt.get()), 0);
  EXPECT_EQ(ldns_pkt_nscount(pkt.get()), 0);
  EXPECT_EQ(ldns_pkt_arcount(pkt.get()), 0);
  EXPECT_EQ(out[12], 0xEE);  // nothing written past the header

  ASSERT_EQ(buildHeaderOnlyError(client.span(), Rcode::FormErr, out), 12U);
  EXPECT_EQ(headerRcode(messageFlags(out)), 1);
  EXPECT_EQ(buildHeaderOnlyError(client.span().first(11), Rcode::FormErr, out), 0U);
  EXPECT_EQ(buildHeaderOnlyError(client.span(), Rcode::FormErr, {out.data(), 11}), 0U);
}

}  // namespace
}  // namespace steadfast::wire
