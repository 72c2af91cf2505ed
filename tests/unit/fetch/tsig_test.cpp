// SPDX-License-Identifier: Apache-2.0
// TSIG: the BIND key file (good, bad, each error at its LINE:COL), and signatures checked
// against an independent implementation (ldns) in both directions, for a request, a response
// and a stream of messages (timers only after the first), plus tampering, wrong key, wrong
// time and a misplaced TSIG record.
#include "threatfeed/fetch/tsig.h"

#include <ctime>
#include <memory>
#include <stdbool.h>  // before ldns (DESIGN.md)

#include <gtest/gtest.h>
#include <ldns/ldns.h>

namespace steadfast::fetch {
namespace {

constexpr const char* kSecret = "c2VjcmV0LWtleS1mb3ItdGhlLXRlc3RzLW9mLXN0ZWFkZmFzdA==";
constexpr const char* kKeyFile = R"(// made by tsig-keygen
key "xfr-key." {
	algorithm hmac-sha256;
	secret "c2VjcmV0LWtleS1mb3ItdGhlLXRlc3RzLW9mLXN0ZWFkZmFzdA==";
};
)";

TsigKey testKey() {
  auto k = parseTsigKey(kKeyFile);
  EXPECT_TRUE(k.ok()) << k.error().detail;
  return *k;
}

std::vector<uint8_t> queryWire(uint16_t id, const char* name, ldns_rr_type type) {
  ldns_pkt* p = nullptr;
  EXPECT_EQ(ldns_pkt_query_new_frm_str(&p, name, type, LDNS_RR_CLASS_IN, 0), LDNS_STATUS_OK);
  ldns_pkt_set_id(p, id);
  uint8_t* buf = nullptr;
  size_t len = 0;
  EXPECT_EQ(ldns_pkt2wire(&buf, p, &len), LDNS_STATUS_OK);
  std::vector<uint8_t> out(buf, buf + len);
  free(buf);  // NOLINT: ldns allocates with malloc
  ldns_pkt_free(p);
  return out;
}

struct PktDeleter {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using Pkt = std::unique_ptr<ldns_pkt, PktDeleter>;

Pkt fromWire(const std::vector<uint8_t>& w) {
  ldns_pkt* p = nullptr;
  EXPECT_EQ(ldns_wire2pkt(&p, w.data(), w.size()), LDNS_STATUS_OK);
  return Pkt(p);
}

uint64_t now() {
  return static_cast<uint64_t>(std::time(nullptr));
}

TEST(TsigKeyFile, ParsesBindSyntax) {
  const TsigKey k = testKey();
  EXPECT_EQ(k.algorithm, TsigAlgorithm::HmacSha256);
  EXPECT_EQ(std::string(k.secret.begin(), k.secret.end()), "secret-key-for-the-tests-of-steadfast");
  const std::vector<uint8_t> name{7, 'x', 'f', 'r', '-', 'k', 'e', 'y', 0};
  EXPECT_EQ(k.name, name);
}

TEST(TsigKeyFile, UnquotedNameCommentsAndCase) {
  auto k = parseTsigKey(
      "# c\n/* block\ncomment */ key XFR-Key { secret \"YWJj\"; algorithm HMAC-SHA512; };\n");
  ASSERT_TRUE(k.ok()) << k.error().detail;
  EXPECT_EQ(k->algorithm, TsigAlgorithm::HmacSha512);
  EXPECT_EQ(k->name[1], 'x');  // lower-cased
  EXPECT_EQ(k->secret.size(), 3U);
}

TEST(TsigKeyFile, ErrorsNamePosition) {
  struct Case {
    const char* text;
    const char* where;
  };
  const Case cases[] = {
      {"", "1:1: expected 'key'"},
      {"key \"k\" {\n  algorithm hmac-md5;\n  secret \"YWJj\";\n};", "2:13: unsupported algorithm"},
      {"key \"k\" {\n  algorithm hmac-sha256;\n  secret \"@@@@\";\n};", "3:10: secret must be"},
      {"key \"k\" {\n  algorithm hmac-sha256;\n  secret YWJj;\n};", "3:10: secret must be"},
      {"key \"k\" { algorithm hmac-sha256; };", "1:5: key needs both"},
      {"key \"k\" { secret \"YWJj\"; algorithm hmac-sha256 }", "1:48: expected ;"},
      {"key \"k\" { secret \"YWJj\"; algorithm hmac-sha256; }", "1:50: expected ;, found end"},
      {"key \"k\" { color blue; };", "1:11: unknown key option 'color'"},
      {"key \"k\" { secret \"YWJj", "1:18: unterminated string"},
      {"key \"k\" { secret \"YWJj\"; algorithm hmac-sha256; };\nkey \"j\" {};", "2:1: one key"},
      {"key \"a..b\" {};", "1:5: invalid key name"},
      {"/* never closed", "1:1: unterminated comment"},
  };
  for (const auto& c : cases) {
    auto k = parseTsigKey(c.text);
    ASSERT_FALSE(k.ok()) << c.text;
    EXPECT_NE(k.error().detail.find(c.where), std::string::npos)
        << c.text << " -> " << k.error().detail;
  }
}

TEST(TsigKeyFile, LoadNamesFile) {
  auto k = loadTsigKeyFile("/nonexistent/key.conf");
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.error().detail.find("/nonexistent/key.conf"), std::string::npos);
}

TEST(Tsig, OurRequestVerifiesWithLdns) {
  const TsigKey key = testKey();
  auto msg = queryWire(0x1234, "rpz.example.", LDNS_RR_TYPE_AXFR);
  const auto mac = tsigSign(msg, key, now(), {});
  EXPECT_EQ(mac.size(), 32U);
  Pkt p = fromWire(msg);
  EXPECT_TRUE(ldns_pkt_tsig_verify(p.get(), msg.data(), msg.size(), "xfr-key.", kSecret, nullptr));
  // And with ours.
  auto back = tsigVerifyRequest(msg, key, now());
  ASSERT_TRUE(back.ok()) << back.error().detail;
  EXPECT_EQ(*back, mac);
}

TEST(Tsig, LdnsRequestVerifiesWithOursAndTamperingFails) {
  const TsigKey key = testKey();
  auto plain = queryWire(0x4321, "rpz.example.", LDNS_RR_TYPE_SOA);
  Pkt p = fromWire(plain);
  ASSERT_EQ(ldns_pkt_tsig_sign(p.get(), "xfr-key.", kSecret, 300, "hmac-sha256.", nullptr),
            LDNS_STATUS_OK);
  uint8_t* buf = nullptr;
  size_t len = 0;
  ASSERT_EQ(ldns_pkt2wire(&buf, p.get(), &len), LDNS_STATUS_OK);
  std::vector<uint8_t> msg(buf, buf + len);
  free(buf);  // NOLINT
  EXPECT_TRUE(tsigVerifyRequest(msg, key, now()).ok());
  // Time outside the fudge.
  auto late = tsigVerifyRequest(msg, key, now() + 301);
  ASSERT_FALSE(late.ok());
  EXPECT_NE(late.error().detail.find("BADTIME"), std::string::npos);
  // A flipped bit in the question.
  auto bad = msg;
  bad[14] ^= 0x20U;
  auto r = tsigVerifyRequest(bad, key, now());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().detail.find("BADSIG"), std::string::npos);
  // Another secret under the same name.
  TsigKey other = key;
  other.secret[0] ^= 1U;
  EXPECT_EQ(tsigVerifyRequest(msg, other, now()).error().code, Errc::Refused);
  // Another key name.
  TsigKey renamed = key;
  renamed.name[1] = 'y';
  EXPECT_NE(tsigVerifyRequest(msg, renamed, now()).error().detail.find("key name"),
            std::string::npos);
  // Unsigned.
  EXPECT_NE(tsigVerifyRequest(plain, key, now()).error().detail.find("not TSIG-signed"),
            std::string::npos);
}

TEST(Tsig, ResponseStreamBothWays) {
  const TsigKey key = testKey();
  auto req = queryWire(7, "rpz.example.", LDNS_RR_TYPE_AXFR);
  const auto req_mac = tsigSign(req, key, now(), {});

  // Three response messages signed by ldns: the first with the request MAC, then timers only.
  std::vector<std::vector<uint8_t>> stream;
  ldns_rdf* prior = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, 0, nullptr);
  {
    std::vector<uint8_t> m(req_mac.size() + 2);
    m[0] = 0;
    m[1] = static_cast<uint8_t>(req_mac.size());
    std::copy(req_mac.begin(), req_mac.end(), m.begin() + 2);
    ldns_rdf_deep_free(prior);
    prior = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, m.size(), m.data());
  }
  for (int i = 0; i < 3; ++i) {
    auto w = queryWire(7, "rpz.example.", LDNS_RR_TYPE_AXFR);
    Pkt p = fromWire(w);
    ldns_pkt_set_qr(p.get(), true);
    ldns_rr* rr = nullptr;
    const std::string txt = "n" + std::to_string(i) + ".rpz.example. 60 IN CNAME .";
    ASSERT_EQ(ldns_rr_new_frm_str(&rr, txt.c_str(), 0, nullptr, nullptr), LDNS_STATUS_OK);
    ldns_pkt_push_rr(p.get(), LDNS_SECTION_ANSWER, rr);
    ASSERT_EQ(ldns_pkt_tsig_sign_next(p.get(), "xfr-key.", kSecret, 300, "hmac-sha256.", prior,
                                      i > 0 ? 1 : 0),
              LDNS_STATUS_OK);
    ldns_rdf_deep_free(prior);
    prior = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(p.get()), 3));
    uint8_t* buf = nullptr;
    size_t len = 0;
    ASSERT_EQ(ldns_pkt2wire(&buf, p.get(), &len), LDNS_STATUS_OK);
    stream.emplace_back(buf, buf + len);
    free(buf);  // NOLINT
  }
  ldns_rdf_deep_free(prior);

  TsigStreamVerifier v(key, req_mac);
  for (const auto& m : stream) {
    auto st = v.verify(m, now());
    ASSERT_TRUE(st.ok()) << st.error().detail;
  }
  EXPECT_EQ(v.verified(), 3U);

  // Out of order: the second message first fails (its MAC chains to the first's).
  TsigStreamVerifier reordered(key, req_mac);
  EXPECT_FALSE(reordered.verify(stream[1], now()).ok());

  // Our signer for a stream, checked by our verifier (ldns has no stream verifier to compare).
  std::vector<uint8_t> prev = req_mac;
  TsigStreamVerifier ours(key, req_mac);
  for (int i = 0; i < 3; ++i) {
    auto m = queryWire(7, "rpz.example.", LDNS_RR_TYPE_AXFR);
    prev = tsigSign(m, key, now(), prev, 300, 0, i > 0);
    ASSERT_TRUE(ours.verify(m, now()).ok());
  }
}

TEST(Tsig, MisplacedOrMissingTsigRecord) {
  const TsigKey key = testKey();
  auto msg = queryWire(1, "rpz.example.", LDNS_RR_TYPE_SOA);
  tsigSign(msg, key, now(), {});
  // Claim one more additional record than there is: the TSIG is no longer last (and the
  // message is short).
  auto bad = msg;
  bad[11] = static_cast<uint8_t>(bad[11] + 1);
  EXPECT_EQ(findTsig(bad).error().code, Errc::Malformed);
  // A response stream message without TSIG is refused.
  TsigStreamVerifier v(key, {1, 2, 3});
  auto plain = queryWire(1, "rpz.example.", LDNS_RR_TYPE_SOA);
  EXPECT_EQ(v.verify(plain, now()).error().code, Errc::Refused);
  auto lookup = findTsig(msg);
  ASSERT_TRUE(lookup.ok());
  EXPECT_TRUE(lookup->found);
  EXPECT_EQ(lookup->record.fudge, 300);
}

}  // namespace
}  // namespace steadfast::fetch
