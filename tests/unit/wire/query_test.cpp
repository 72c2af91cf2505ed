// SPDX-License-Identifier: Apache-2.0
// Unit tests for parseQuery: header, question and OPT parsing, and a table of malformed
// queries with the QueryParse each must produce (Drop / FORMERR / NOTIMP / BADVERS).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "resolver/wire/message.h"
#include "tests/unit/wire/wire_test_util.h"

namespace steadfast::wire {
namespace {

using test::clientQuery;
using test::Packet;
using test::parse;
using test::wireName;

std::vector<uint8_t> toVector(std::span<const uint8_t> s) {
  return {s.begin(), s.end()};
}

TEST(WireQuery, ParsesPlainQuery) {
  Packet p = clientQuery(0x1234, "WWW.Example.com.", 28, false);
  Query q;
  ASSERT_EQ(parse(p, q), QueryParse::Ok);
  EXPECT_EQ(q.id, 0x1234);
  EXPECT_EQ(q.flags, kFlagRd);
  EXPECT_TRUE(q.rd());
  EXPECT_FALSE(q.cd());
  EXPECT_EQ(q.qtype, 28);
  EXPECT_EQ(q.qclass, kClassIn);
  EXPECT_EQ(toVector(q.name()), wireName("WWW.Example.com."));
  EXPECT_EQ(toVector(q.nameLower()), wireName("www.example.com."));
  EXPECT_EQ(q.qname_len, 17);
  EXPECT_EQ(q.question_end, p.size());
  EXPECT_FALSE(q.has_edns);
  EXPECT_FALSE(q.do_bit);
  EXPECT_EQ(q.udp_size, 512);
}

TEST(WireQuery, ParsesEdns) {
  Packet p = clientQuery(7, "example.com.", 1, true, 4096, true);
  Query q;
  ASSERT_EQ(parse(p, q), QueryParse::Ok);
  EXPECT_TRUE(q.has_edns);
  EXPECT_TRUE(q.do_bit);
  EXPECT_EQ(q.edns_version, 0);
  EXPECT_EQ(q.udp_size, 4096);
  EXPECT_EQ(q.question_end, p.size() - kOptRrSize);
}

TEST(WireQuery, SmallUdpSizeMeans512) {
  for (uint16_t size : {uint16_t{0}, uint16_t{1}, uint16_t{511}, uint16_t{512}}) {
    Query q;
    ASSERT_EQ(parse(clientQuery(7, "a.", 1, true, size), q), QueryParse::Ok);
    EXPECT_EQ(q.udp_size, 512) << size;
  }
}

TEST(WireQuery, DoBitIsBit15OfTtlLowWord) {
  // Extended-rcode byte and other Z bits must not be mistaken for DO (RFC 3225 3).
  struct Case {
    uint32_t ttl;
    bool want_do;
  };
  for (const Case& c : {Case{0x00008000U, true}, Case{0xFF00FFFFU, true}, Case{0x80000000U, false},
                        Case{0x00007FFFU, false}, Case{0x00800000U, false}}) {
    Packet p;
    p.header(1, 0, 1, 0, 0, 1).question("a.", 1).opt(1232, c.ttl);
    Query q;
    const QueryParse r = parse(p, q);
    ASSERT_EQ(r, (c.ttl & 0x00FF0000U) != 0 ? QueryParse::BadVers : QueryParse::Ok) << c.ttl;
    EXPECT_EQ(q.do_bit, c.want_do) << c.ttl;
  }
}

TEST(WireQuery, CopiesCdAndKeepsRawFlags) {
  Packet p;
  p.header(9, kFlagRd | kFlagCd | kFlagAd, 1).question("a.", 1);
  Query q;
  ASSERT_EQ(parse(p, q), QueryParse::Ok);
  EXPECT_TRUE(q.cd());
  EXPECT_EQ(q.flags, kFlagRd | kFlagCd | kFlagAd);
}

TEST(WireQuery, SkipsAnswerAndAuthorityRecordsAndFindsOptAnywhere) {
  Packet p;
  p.header(1, kFlagRd, 1, 1, 1, 3).question("example.com.", 1);
  p.pointer(12).rrTail(1, kClassIn, 60, std::vector<uint8_t>{1, 2, 3, 4});
  p.rr("com.", 2, 60, {0});
  p.rr("x.", 16, 0, {1, 'x'});
  p.opt(2048, 0x8000);
  p.rr("y.", 16, 0, {1, 'y'});
  Query q;
  ASSERT_EQ(parse(p, q), QueryParse::Ok);
  EXPECT_TRUE(q.has_edns);
  EXPECT_TRUE(q.do_bit);
  EXPECT_EQ(q.udp_size, 2048);
}

TEST(WireQuery, IgnoresTrailingBytes) {
  Packet p = clientQuery(1, "a.", 1, false);
  p.raw({1, 2, 3});
  Query q;
  EXPECT_EQ(parse(p, q), QueryParse::Ok);
}

TEST(WireQuery, RootAndMaximalNames) {
  Query q;
  ASSERT_EQ(parse(clientQuery(1, ".", 2, false), q), QueryParse::Ok);
  EXPECT_EQ(q.qname_len, 1);
  const std::string l63(63, 'A');
  const std::string longest = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'B') + ".";
  ASSERT_EQ(parse(clientQuery(1, longest, 1, true), q), QueryParse::Ok);
  EXPECT_EQ(q.qname_len, 255);
  EXPECT_EQ(q.qname_lower[1], 'a');
  EXPECT_EQ(q.qname[1], 'A');
}

TEST(WireQuery, BadVersStillFillsTheQuery) {
  Packet p;
  p.header(0x4242, kFlagRd, 1, 0, 0, 1).question("example.com.", 1).opt(4096, 0x00018000U);
  Query q;
  ASSERT_EQ(parse(p, q), QueryParse::BadVers);
  EXPECT_EQ(q.id, 0x4242);
  EXPECT_TRUE(q.has_edns);
  EXPECT_EQ(q.edns_version, 1);
  EXPECT_TRUE(q.do_bit);
  EXPECT_EQ(toVector(q.name()), wireName("example.com."));
}

TEST(WireQuery, ReusedQueryIsReset) {
  Query q;
  ASSERT_EQ(parse(clientQuery(1, "a.", 1, true, 4096, true), q), QueryParse::Ok);
  ASSERT_EQ(parse(clientQuery(2, "b.", 1, false), q), QueryParse::Ok);
  EXPECT_FALSE(q.has_edns);
  EXPECT_FALSE(q.do_bit);
  EXPECT_EQ(q.udp_size, 512);
}

// ---- table of malformed queries ---------------------------------------------------------

struct Malformed {
  const char* what;
  std::vector<uint8_t> bytes;
  QueryParse want;
};

std::vector<uint8_t> header(uint16_t flags, uint16_t qd, uint16_t an = 0, uint16_t ns = 0,
                            uint16_t ar = 0) {
  Packet p;
  p.header(0xBEEF, flags, qd, an, ns, ar);
  return p.bytes();
}

template <class F>
std::vector<uint8_t> make(F&& build) {
  Packet p;
  build(p);
  return p.bytes();
}

std::vector<Malformed> malformedQueries() {
  std::vector<Malformed> v;
  v.push_back({"empty", {}, QueryParse::Drop});
  v.push_back({"one byte", {0x12}, QueryParse::Drop});
  v.push_back({"eleven bytes", std::vector<uint8_t>(11, 0), QueryParse::Drop});
  v.push_back({"QR set",
               make([](Packet& p) { p.header(1, kFlagQr | kFlagRd, 1).question("a.", 1); }),
               QueryParse::Drop});
  v.push_back(
      {"QR set, header only, garbage counts", header(kFlagQr, 0xFFFF, 0xFFFF), QueryParse::Drop});
  v.push_back({"opcode 5 (UPDATE)",
               make([](Packet& p) { p.header(1, 5U << 11U, 1).question("a.", 6); }),
               QueryParse::NotImp});
  v.push_back({"opcode 2 (STATUS)", header(2U << 11U, 0), QueryParse::NotImp});
  v.push_back({"opcode 15, broken body", header(0x7800, 3), QueryParse::NotImp});
  v.push_back({"qdcount 0", header(kFlagRd, 0), QueryParse::FormErr});
  v.push_back({"qdcount 2",
               make([](Packet& p) { p.header(1, 0, 2).question("a.", 1).question("b.", 1); }),
               QueryParse::FormErr});
  v.push_back({"header only", header(kFlagRd, 1), QueryParse::FormErr});
  v.push_back({"truncated qname", make([](Packet& p) {
                 p.header(1, 0, 1).raw({7, 'e', 'x', 'a'});
               }),
               QueryParse::FormErr});
  v.push_back({"qname without root label", make([](Packet& p) {
                 p.header(1, 0, 1).raw({3, 'c', 'o', 'm'});
               }),
               QueryParse::FormErr});
  v.push_back({"label of 64 octets", make([](Packet& p) {
                 p.header(1, 0, 1).u8(64).raw(std::vector<uint8_t>(64, 'a')).u8(0).u16(1).u16(1);
               }),
               QueryParse::FormErr});
  v.push_back({"name of 256 octets", make([](Packet& p) {
                 p.header(1, 0, 1);
                 for (const char c : {'a', 'b', 'c'}) {
                   p.u8(63).raw(std::vector<uint8_t>(63, static_cast<uint8_t>(c)));
                 }
                 p.u8(62).raw(std::vector<uint8_t>(62, 'd')).u8(0).u16(1).u16(1);
               }),
               QueryParse::FormErr});
  v.push_back({"qname pointer to itself",
               make([](Packet& p) { p.header(1, 0, 1).pointer(12).u16(1).u16(1); }),
               QueryParse::FormErr});
  v.push_back({"qname compression loop", make([](Packet& p) {
                 p.header(1, 0, 1).raw({1, 'a'}).pointer(12).u16(1).u16(1);
               }),
               QueryParse::FormErr});
  v.push_back({"qname forward pointer",
               make([](Packet& p) { p.header(1, 0, 1).pointer(18).u16(1).u16(1).name("a."); }),
               QueryParse::FormErr});
  v.push_back({"qname pointer into header", make([](Packet& p) {
                 p.header(1, 0, 1).raw({1, 'a'}).pointer(2).u16(1).u16(1);
               }),
               QueryParse::FormErr});
  v.push_back({"qname pointer out of bounds", make([](Packet& p) {
                 p.header(1, 0, 1).raw({1, 'a'}).pointer(0x3FFF).u16(1).u16(1);
               }),
               QueryParse::FormErr});
  v.push_back({"label type 0x40", make([](Packet& p) {
                 p.header(1, 0, 1).raw({0x41, 'a', 0}).u16(1).u16(1);
               }),
               QueryParse::FormErr});
  v.push_back({"label type 0x80", make([](Packet& p) {
                 p.header(1, 0, 1).raw({0x81, 'a', 0}).u16(1).u16(1);
               }),
               QueryParse::FormErr});
  v.push_back({"missing qtype", make([](Packet& p) { p.header(1, 0, 1).name("a."); }),
               QueryParse::FormErr});
  v.push_back({"missing qclass", make([](Packet& p) { p.header(1, 0, 1).name("a.").u16(1); }),
               QueryParse::FormErr});
  v.push_back({"half a qclass", make([](Packet& p) { p.header(1, 0, 1).name("a.").u16(1).u8(0); }),
               QueryParse::FormErr});
  v.push_back({"arcount 1, no record",
               make([](Packet& p) { p.header(1, 0, 1, 0, 0, 1).question("a.", 1); }),
               QueryParse::FormErr});
  v.push_back({"truncated OPT", make([](Packet& p) {
                 p.header(1, 0, 1, 0, 0, 1).question("a.", 1).raw({0, 0, 41, 0x10, 0, 0});
               }),
               QueryParse::FormErr});
  v.push_back({"OPT rdlength beyond end", make([](Packet& p) {
                 p.header(1, 0, 1, 0, 0, 1).question("a.", 1).opt(1232, 0, {0, 15, 0, 2, 0});
                 p.bytes()[p.size() - 6] = 9;  // rdlength 9, only 5 bytes follow
               }),
               QueryParse::FormErr});
  v.push_back({"two OPTs", make([](Packet& p) {
                 p.header(1, 0, 1, 0, 0, 2).question("a.", 1).opt(1232).opt(1232);
               }),
               QueryParse::FormErr});
  v.push_back({"OPT with non-root owner", make([](Packet& p) {
                 p.header(1, 0, 1, 0, 0, 1).question("a.", 1).name("a.");
                 p.rrTail(kTypeOpt, 1232, 0, {});
               }),
               QueryParse::FormErr});
  v.push_back({"OPT owner is a pointer to the root", make([](Packet& p) {
                 p.header(1, 0, 1, 0, 0, 1).question(".", 1).pointer(12);
                 p.rrTail(kTypeOpt, 1232, 0, {});
               }),
               QueryParse::FormErr});
  v.push_back({"EDNS version 1", make([](Packet& p) {
                 p.header(1, 0, 1, 0, 0, 1).question("a.", 1).opt(1232, 0x00010000U);
               }),
               QueryParse::BadVers});
  v.push_back({"EDNS version 255", make([](Packet& p) {
                 p.header(1, 0, 1, 0, 0, 1).question("a.", 1).opt(1232, 0x00FF8000U);
               }),
               QueryParse::BadVers});
  v.push_back({"EDNS version 1 but a later RR truncated", make([](Packet& p) {
                 p.header(1, 0, 1, 0, 0, 2).question("a.", 1).opt(1232, 0x00010000U).u8(0);
               }),
               QueryParse::FormErr});
  v.push_back({"answer RR truncated in its fixed part", make([](Packet& p) {
                 p.header(1, 0, 1, 1, 0, 0).question("a.", 1).name("a.").u16(1).u16(1);
               }),
               QueryParse::FormErr});
  v.push_back({"authority RR rdlength beyond end", make([](Packet& p) {
                 p.header(1, 0, 1, 0, 1, 0).question("a.", 1).name("a.").u16(2).u16(1).u32(0);
                 p.u16(200).raw({1, 2, 3});
               }),
               QueryParse::FormErr});
  v.push_back({"answer owner compression loop", make([](Packet& p) {
                 p.header(1, 0, 1, 1, 0, 0).question("a.", 1);
                 const auto at = static_cast<uint16_t>(p.size());
                 p.raw({1, 'b'}).pointer(at).rrTail(1, 1, 0, {});
               }),
               QueryParse::FormErr});
  v.push_back({"additional owner points to itself", make([](Packet& p) {
                 p.header(1, 0, 1, 0, 0, 1).question("a.", 1);
                 p.pointer(static_cast<uint16_t>(p.size())).rrTail(1, 1, 0, {});
               }),
               QueryParse::FormErr});
  v.push_back({"arcount 2, one record",
               make([](Packet& p) { p.header(1, 0, 1, 0, 0, 2).question("a.", 1).opt(1232); }),
               QueryParse::FormErr});
  v.push_back({"ancount 65535 on a small packet", make([](Packet& p) {
                 p.header(1, 0, 1, 0xFFFF, 0, 0).question("a.", 1).rr("a.", 1, 0, {1, 2, 3, 4});
               }),
               QueryParse::FormErr});
  return v;
}

TEST(WireQuery, MalformedQueriesTable) {
  const std::vector<Malformed> cases = malformedQueries();
  ASSERT_GE(cases.size(), 20U);
  for (const Malformed& c : cases) {
    Query q;
    // Parse from an exactly sized heap copy so ASan catches any read past the end.
    std::vector<uint8_t> exact(c.bytes);
    exact.shrink_to_fit();
    EXPECT_EQ(parseQuery(exact, q), c.want) << c.what;
    // Every shorter prefix must be handled too (never Ok unless the full one was).
    for (size_t n = 0; n < exact.size(); ++n) {
      std::vector<uint8_t> prefix(exact.begin(), exact.begin() + static_cast<std::ptrdiff_t>(n));
      (void)parseQuery(prefix, q);
    }
  }
}

}  // namespace
}  // namespace steadfast::wire

namespace steadfast::wire {
namespace {

// RFC 6891 6.1.2: options must fill the OPT RDATA exactly.
TEST(ParseQueryEdnsOptions, OptionLengthPastRdataIsFormErr) {
  std::array<uint8_t, kMaxNameWire> qname{};
  size_t qlen = 0;
  ASSERT_TRUE(nameFromText("example.test.", qname, qlen));
  std::vector<uint8_t> buf(512);
  size_t n = buildQuery(std::span<const uint8_t>(qname.data(), qlen), 1, 42, 1232, false, buf);
  ASSERT_GT(n, kOptRrSize);
  buf.resize(n);
  Query q;
  ASSERT_EQ(parseQuery(buf, q), QueryParse::Ok);
  // Append option 10 (COOKIE) claiming 8 bytes of data, with none present: rdlength 4.
  const std::array<uint8_t, 4> bad_option = {0, 10, 0, 8};
  buf.insert(buf.end(), bad_option.begin(), bad_option.end());
  writeU16(buf.data() + n - 2, 4);  // the OPT's RDLENGTH, the last field before its RDATA
  EXPECT_EQ(parseQuery(buf, q), QueryParse::FormErr);
  // The same option with its 8 bytes present is fine.
  const std::array<uint8_t, 8> cookie = {1, 2, 3, 4, 5, 6, 7, 8};
  buf.insert(buf.end(), cookie.begin(), cookie.end());
  writeU16(buf.data() + n - 2, 12);
  EXPECT_EQ(parseQuery(buf, q), QueryParse::Ok);
}

// RFC 7871: the client's EDNS Client Subnet option is read and kept for the tiers that may
// receive it; a malformed one is FORMERR (7.1.1).
Packet ecsQuery(std::initializer_list<uint8_t> option_data) {
  std::vector<uint8_t> rdata = {0, 8, 0, static_cast<uint8_t>(option_data.size())};
  rdata.insert(rdata.end(), option_data.begin(), option_data.end());
  Packet p;
  p.header(1, kFlagRd, 1, 0, 0, 1).question("a.", 1);
  p.u8(0).rrTail(kTypeOpt, 1232, 0, rdata);
  return p;
}

TEST(WireQueryEcs, KeepsAValidClientSubnet) {
  Query q;
  ASSERT_EQ(parse(ecsQuery({0, 1, 24, 0, 198, 51, 100}), q), QueryParse::Ok);
  EXPECT_EQ(toVector(q.clientSubnet()), (std::vector<uint8_t>{0, 1, 24, 0, 198, 51, 100}));
  ASSERT_EQ(parse(ecsQuery({0, 2, 56, 0, 0x20, 1, 0x0d, 0xb8, 0, 0, 0}), q), QueryParse::Ok);
  EXPECT_EQ(q.ecs_len, 11);
  ASSERT_EQ(parse(ecsQuery({0, 1, 0, 0}), q), QueryParse::Ok);  // /0: "do not use my subnet"
  EXPECT_EQ(q.ecs_len, 4);
  // Reused Query: a query without the option leaves none behind.
  ASSERT_EQ(parse(clientQuery(7, "a.", 1, true), q), QueryParse::Ok);
  EXPECT_EQ(q.ecs_len, 0);
}

TEST(WireQueryEcs, MalformedClientSubnetIsFormErr) {
  Query q;
  EXPECT_EQ(parse(ecsQuery({0, 1, 24}), q), QueryParse::FormErr);                    // too short
  EXPECT_EQ(parse(ecsQuery({0, 3, 8, 0, 10}), q), QueryParse::FormErr);              // family 3
  EXPECT_EQ(parse(ecsQuery({0, 1, 33, 0, 1, 2, 3, 4, 5}), q), QueryParse::FormErr);  // > /32
  EXPECT_EQ(parse(ecsQuery({0, 1, 24, 8, 10, 0, 0}), q), QueryParse::FormErr);       // scope != 0
  EXPECT_EQ(parse(ecsQuery({0, 1, 24, 0, 10, 0}), q), QueryParse::FormErr);        // 2 of 3 octets
  EXPECT_EQ(parse(ecsQuery({0, 1, 24, 0, 10, 0, 0, 0}), q), QueryParse::FormErr);  // 4 of 3
  EXPECT_EQ(parse(ecsQuery({0, 1, 20, 0, 10, 0, 0x1F}), q), QueryParse::FormErr);  // bits past /20
  // Two ECS options in one OPT.
  Packet p;
  p.header(1, kFlagRd, 1, 0, 0, 1).question("a.", 1);
  p.u8(0).rrTail(kTypeOpt, 1232, 0,
                 std::vector<uint8_t>{0, 8, 0, 4, 0, 1, 0, 0, 0, 8, 0, 4, 0, 1, 0, 0});
  EXPECT_EQ(parse(p, q), QueryParse::FormErr);
}

}  // namespace
}  // namespace steadfast::wire
