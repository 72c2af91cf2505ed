// SPDX-License-Identifier: Apache-2.0
// Zone transfer responses (built with ldns) through XfrParser and ZoneCopy: AXFR over several
// messages, IXFR diffs (deletions and additions, two diffs in a row), a lone SOA (up to date),
// a full zone in answer to IXFR, NOTIMP (fall back to AXFR), wrong ID/question/owner, limits,
// diff application errors leaving the copy unchanged, and the store's master-file round trip.
#include "threatfeed/fetch/xfr.h"

#include <stdbool.h>  // before ldns

#include <gtest/gtest.h>
#include <ldns/ldns.h>

namespace steadfast::fetch {
namespace {

constexpr uint16_t kId = 0x2222;

std::string soa(uint32_t serial) {
  return "rpz.example. 60 IN SOA ns.rpz.example. host.rpz.example. " + std::to_string(serial) +
         " 600 60 86400 60";
}

std::vector<uint8_t> response(const std::vector<std::string>& rrs, bool ixfr = false,
                              uint16_t id = kId, int rcode = 0, bool question = true) {
  ldns_pkt* p = nullptr;
  EXPECT_EQ(
      ldns_pkt_query_new_frm_str(&p, "rpz.example.", ixfr ? LDNS_RR_TYPE_IXFR : LDNS_RR_TYPE_AXFR,
                                 LDNS_RR_CLASS_IN, 0),
      LDNS_STATUS_OK);
  ldns_pkt_set_id(p, id);
  ldns_pkt_set_qr(p, true);
  ldns_pkt_set_rcode(p, static_cast<uint8_t>(rcode));
  if (!question) {
    ldns_rr_list_deep_free(ldns_pkt_question(p));
    ldns_pkt_set_question(p, ldns_rr_list_new());
    ldns_pkt_set_qdcount(p, 0);
  }
  for (const auto& t : rrs) {
    ldns_rr* rr = nullptr;
    EXPECT_EQ(ldns_rr_new_frm_str(&rr, t.c_str(), 0, nullptr, nullptr), LDNS_STATUS_OK) << t;
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

XfrRecord rec(const char* owner, const char* rdata = ".") {
  return XfrRecord{owner, 5, 60, rdata};
}

TEST(XfrParser, AxfrOverSeveralMessages) {
  XfrParser p("rpz.example", kId, std::nullopt, nullptr);
  ASSERT_TRUE(p.feed(response({soa(10), "a.rpz.example. 60 IN CNAME ."}), 0).ok());
  EXPECT_FALSE(p.done());
  ASSERT_TRUE(p.feed(response({"*.B.rpz.example. 60 IN CNAME *."}, false, kId, 0, false), 0).ok());
  ASSERT_TRUE(
      p.feed(response({"c.rpz.example. 60 IN A 192.0.2.1", soa(10)}, false, kId, 0, false), 0)
          .ok());
  ASSERT_TRUE(p.done());
  const auto& r = p.result();
  EXPECT_EQ(r.kind, XfrResult::Kind::Full);
  EXPECT_EQ(r.soa.serial, 10U);
  EXPECT_EQ(r.soa.refresh, 600U);
  EXPECT_EQ(r.soa.retry, 60U);
  ASSERT_EQ(r.records.size(), 3U);
  EXPECT_EQ(r.records[1].owner, "*.b.rpz.example.");  // lower-cased
  EXPECT_EQ(r.records[2].rdata, "192.0.2.1");
  // Anything after the end is an error.
  EXPECT_FALSE(p.feed(response({soa(10)}), 0).ok());
}

TEST(XfrParser, IxfrTwoDiffsApplied) {
  ZoneCopy z;
  XfrParser a("rpz.example.", kId, std::nullopt, nullptr);
  ASSERT_TRUE(
      a.feed(response({soa(10), "a.rpz.example. 60 IN CNAME .", "b.rpz.example. 60 IN CNAME ."},
                      false),
             0)
          .ok());
  ASSERT_TRUE(a.feed(response({soa(10)}, false, kId, 0, false), 0).ok());
  ASSERT_TRUE(z.apply(a.result()).ok());
  EXPECT_EQ(z.records.size(), 2U);

  XfrParser p("rpz.example.", kId, 10U, nullptr);
  ASSERT_TRUE(p.feed(response({soa(12), soa(10), "a.rpz.example. 60 IN CNAME .", soa(11),
                               "c.rpz.example. 60 IN CNAME ."},
                              true),
                     0)
                  .ok());
  EXPECT_FALSE(p.done());
  ASSERT_TRUE(p.feed(response({soa(11), "b.rpz.example. 60 IN CNAME .", soa(12),
                               "d.rpz.example. 60 IN CNAME *.", soa(12)},
                              true, kId, 0, false),
                     0)
                  .ok());
  ASSERT_TRUE(p.done());
  const auto& r = p.result();
  ASSERT_EQ(r.kind, XfrResult::Kind::Incremental);
  ASSERT_EQ(r.diffs.size(), 2U);
  EXPECT_EQ(r.diffs[0].from_serial, 10U);
  EXPECT_EQ(r.diffs[0].to_serial, 11U);
  EXPECT_EQ(r.diffs[1].to_serial, 12U);
  ASSERT_TRUE(z.apply(r).ok());
  EXPECT_EQ(*z.serial, 12U);
  const std::set<XfrRecord> want{rec("c.rpz.example."), rec("d.rpz.example.", "*.")};
  EXPECT_EQ(z.records, want);
  // Applying it again: the diff starts at 10, the zone is at 12 -> refused, copy unchanged.
  auto again = z.apply(r);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(z.records, want);
}

TEST(XfrParser, IxfrDeletingUnknownRecordLeavesCopy) {
  ZoneCopy z;
  z.serial = 10;
  z.records = {rec("a.rpz.example.")};
  XfrResult r;
  r.kind = XfrResult::Kind::Incremental;
  r.soa.serial = 11;
  r.diffs.push_back(IxfrDiff{10, 11, {rec("zz.rpz.example.")}, {rec("n.rpz.example.")}});
  auto st = z.apply(r);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().detail.find("does not have"), std::string::npos);
  EXPECT_EQ(*z.serial, 10U);
  EXPECT_EQ(z.records.size(), 1U);
}

TEST(XfrParser, LoneSoaIsUpToDate) {
  XfrParser p("rpz.example.", kId, 12U, nullptr);
  ASSERT_TRUE(p.feed(response({soa(12)}, true), 0).ok());
  ASSERT_TRUE(p.done());
  EXPECT_EQ(p.result().kind, XfrResult::Kind::UpToDate);
  XfrParser q("rpz.example.", kId, 12U, nullptr);
  EXPECT_FALSE(q.feed(response({soa(13)}, true), 0).ok());
  EXPECT_TRUE(q.ixfrUnsupported());
}

TEST(XfrParser, FullZoneAnsweringIxfr) {
  XfrParser p("rpz.example.", kId, 5U, nullptr);
  ASSERT_TRUE(p.feed(response({soa(9), "x.rpz.example. 60 IN CNAME .", soa(9)}, true), 0).ok());
  ASSERT_TRUE(p.done());
  EXPECT_EQ(p.result().kind, XfrResult::Kind::Full);
  ZoneCopy z;
  z.serial = 5;
  z.records = {rec("old.rpz.example.")};
  ASSERT_TRUE(z.apply(p.result()).ok());
  EXPECT_EQ(z.records, (std::set<XfrRecord>{rec("x.rpz.example.")}));
}

TEST(XfrParser, ErrorsAndFallback) {
  XfrParser notimp("rpz.example.", kId, 5U, nullptr);
  EXPECT_EQ(notimp.feed(response({}, true, kId, 4), 0).error().code, Errc::Refused);
  EXPECT_TRUE(notimp.ixfrUnsupported());
  XfrParser refused("rpz.example.", kId, std::nullopt, nullptr);
  EXPECT_EQ(refused.feed(response({}, false, kId, 5), 0).error().code, Errc::Refused);
  EXPECT_FALSE(refused.ixfrUnsupported());
  XfrParser id("rpz.example.", kId, std::nullopt, nullptr);
  EXPECT_EQ(id.feed(response({soa(1)}, false, 0x9999), 0).error().code, Errc::Mismatch);
  XfrParser qtype("rpz.example.", kId, std::nullopt, nullptr);
  EXPECT_EQ(qtype.feed(response({soa(1)}, true), 0).error().code, Errc::Mismatch);
  XfrParser other("other.example.", kId, std::nullopt, nullptr);
  EXPECT_EQ(other.feed(response({soa(1)}), 0).error().code, Errc::Mismatch);
  XfrParser nosoa("rpz.example.", kId, std::nullopt, nullptr);
  EXPECT_EQ(nosoa.feed(response({"a.rpz.example. 60 IN CNAME ."}), 0).error().code,
            Errc::Malformed);
  XfrParser serial("rpz.example.", kId, std::nullopt, nullptr);
  EXPECT_FALSE(serial.feed(response({soa(1), "a.rpz.example. 60 IN CNAME .", soa(2)}), 0).ok());
  XfrLimits lim;
  lim.max_records = 2;
  XfrParser big("rpz.example.", kId, std::nullopt, nullptr, lim);
  EXPECT_EQ(
      big.feed(response({soa(1), "a.rpz.example. 60 IN CNAME .", "b.rpz.example. 60 IN CNAME ."}),
               0)
          .error()
          .code,
      Errc::Truncated);
  XfrParser shorty("rpz.example.", kId, std::nullopt, nullptr);
  EXPECT_EQ(shorty.feed(std::vector<uint8_t>{1, 2}, 0).error().code, Errc::Malformed);
}

TEST(XfrParser, TsigEveryMessage) {
  auto key = parseTsigKey("key k { algorithm hmac-sha256; secret \"c2VjcmV0\"; };");
  ASSERT_TRUE(key.ok());
  auto q = buildXfrQuery("rpz.example.", kId, std::nullopt);
  const auto req_mac = tsigSign(q, *key, 1000);
  auto m1 = response({soa(3), "a.rpz.example. 60 IN CNAME ."});
  auto m2 = response({soa(3)}, false, kId, 0, false);
  const auto mac1 = tsigSign(m1, *key, 1000, req_mac);
  tsigSign(m2, *key, 1000, mac1, 300, 0, true);
  TsigStreamVerifier v(*key, req_mac);
  XfrParser p("rpz.example.", kId, std::nullopt, &v);
  ASSERT_TRUE(p.feed(m1, 1000).ok());
  ASSERT_TRUE(p.feed(m2, 1000).ok());
  EXPECT_TRUE(p.done());
  // An unsigned message in the stream is refused.
  TsigStreamVerifier v2(*key, req_mac);
  XfrParser p2("rpz.example.", kId, std::nullopt, &v2);
  ASSERT_TRUE(p2.feed(m1, 1000).ok());
  EXPECT_EQ(p2.feed(response({soa(3)}, false, kId, 0, false), 1000).error().code, Errc::Refused);
}

TEST(ZoneCopy, MasterFileRoundTrip) {
  XfrParser p("rpz.example.", kId, std::nullopt, nullptr);
  ASSERT_TRUE(p.feed(response({soa(77), "a.rpz.example. 60 IN CNAME .",
                               "t.rpz.example. 60 IN TXT \"hello world\"",
                               "c.rpz.example. 60 IN AAAA 2001:db8::1", soa(77)}),
                     0)
                  .ok());
  ZoneCopy z;
  ASSERT_TRUE(z.apply(p.result()).ok());
  const std::string text = z.toMasterFile();
  auto back = ZoneCopy::fromMasterFile(text);
  ASSERT_TRUE(back.ok()) << back.error().detail;
  EXPECT_EQ(*back->serial, 77U);
  EXPECT_EQ(back->soa.refresh, 600U);
  EXPECT_EQ(back->records, z.records);
  EXPECT_EQ(back->toMasterFile(), text);
  EXPECT_FALSE(ZoneCopy::fromMasterFile("a.rpz.example. 60 IN A not-an-address\n").ok());
}

TEST(AxfrUri, Parses) {
  auto t = parseAxfrUri("axfr://127.0.0.1:5300/RPZ.Example");
  ASSERT_TRUE(t.ok()) << t.error().detail;
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 5300);
  EXPECT_EQ(t->zone, "rpz.example.");
  auto v6 = parseAxfrUri("axfr://[::1]/rpz.example.");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->port, 53);
  EXPECT_FALSE(parseAxfrUri("http://127.0.0.1/x").ok());
  EXPECT_FALSE(parseAxfrUri("axfr://127.0.0.1:53/").ok());
  EXPECT_FALSE(parseAxfrUri("axfr://hub.example:53/rpz").ok());  // IP literals only
}

}  // namespace
}  // namespace steadfast::fetch
