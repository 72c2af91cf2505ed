// SPDX-License-Identifier: Apache-2.0
#include <string>

#include <gtest/gtest.h>

#include "threatfeed/core/lists.h"
#include "threatfeed/core/names.h"
#include "threatfeed/core/rpz.h"

namespace steadfast::threatfeed {
namespace {

const NameEntry* findName(const FeedEntries& f, const std::string& n, Match m) {
  for (const NameEntry& e : f.names) {
    if (e.name == n && e.match == m) {
      return &e;
    }
  }
  return nullptr;
}

TEST(Names, Canonical) {
  EXPECT_EQ(canonicalName("Evil.Example."), "evil.example");
  EXPECT_EQ(canonicalName("."), "");
  EXPECT_FALSE(canonicalName("a..b"));
  EXPECT_FALSE(canonicalName("a b"));
  EXPECT_FALSE(canonicalName(std::string(64, 'a') + ".com"));
  EXPECT_FALSE(canonicalName("a.*.b"));
  EXPECT_EQ(canonicalName("*.x.y"), "*.x.y");
  EXPECT_TRUE(isAtOrBelow("a.evil.example", "evil.example"));
  EXPECT_FALSE(isAtOrBelow("aevil.example", "evil.example"));
}

TEST(DomainList, GoodBadHostile) {
  const std::string text = std::string("\xEF\xBB\xBF") +
                           "# comment\r\nEvil.Example\r\n  bad..name\n\nfoo.test # tail\n" +
                           std::string(10000, 'x') + "\n.\ntwo words\n";
  FeedEntries f = parseDomainList(text);
  EXPECT_NE(findName(f, "evil.example", Match::Exact), nullptr);
  EXPECT_NE(findName(f, "evil.example", Match::Subdomains), nullptr);
  EXPECT_NE(findName(f, "foo.test", Match::Exact), nullptr);
  EXPECT_EQ(f.stats.lines, 6u);
  EXPECT_EQ(f.stats.malformed, 3u);                   // bad..name, huge line, two words
  EXPECT_NE(findName(f, "", Match::Exact), nullptr);  // "." parses; the guards reject it
}

TEST(HostsFile, GoodBadLocalhost) {
  FeedEntries f = parseHostsFile(
      "127.0.0.1 localhost\r\n::1 ip6-localhost\n0.0.0.0 ads.example tracker.example # x\n"
      "10.0.0.1 lan.example\n0.0.0.0 bad_name!\n0.0.0.0\n");
  EXPECT_NE(findName(f, "ads.example", Match::Exact), nullptr);
  EXPECT_NE(findName(f, "tracker.example", Match::Exact), nullptr);
  EXPECT_EQ(f.names.size(), 2u);
  EXPECT_EQ(f.stats.ignored, 2u);
  EXPECT_EQ(f.stats.malformed, 3u);
}

constexpr const char* kZone = R"(; test zone
$TTL 300
$ORIGIN rpz.test.
@ IN SOA ns.rpz.test. hostmaster.rpz.test. ( 42 3600
        600 86400 60 )
  IN NS ns
nx.example CNAME .
*.nx.example CNAME .
nodata.example 60 IN CNAME *.
pass.example CNAME rpz-passthru.
drop.example CNAME rpz-drop.
tcp.example CNAME rpz-tcp-only.
local.example A 192.0.2.1
local.example AAAA 2001:db8::1
local.example TXT "blocked" "by feed"
alias.example CNAME walled.garden.
32.1.2.0.192.rpz-ip CNAME .
48.zz.db8.2001.rpz-ip CNAME rpz-drop.
ns.bad.rpz-nsdname CNAME .
32.1.0.0.10.rpz-nsip CNAME .
weird.example TYPE999 \# 0
mx.example MX 10 mail
bad!owner CNAME .
)";

TEST(Rpz, ActionsAndTriggers) {
  RpzZone z = parseRpzZone(kZone);
  EXPECT_EQ(z.origin, "rpz.test");
  EXPECT_EQ(z.serial, 42u);
  const FeedEntries& f = z.entries;
  ASSERT_NE(findName(f, "nx.example", Match::Exact), nullptr);
  EXPECT_EQ(findName(f, "nx.example", Match::Exact)->action, Action::Nxdomain);
  EXPECT_EQ(findName(f, "nx.example", Match::Subdomains)->action, Action::Nxdomain);
  EXPECT_EQ(findName(f, "nodata.example", Match::Exact)->action, Action::Nodata);
  EXPECT_EQ(findName(f, "pass.example", Match::Exact)->action, Action::Passthru);
  EXPECT_EQ(findName(f, "drop.example", Match::Exact)->action, Action::Drop);
  EXPECT_EQ(findName(f, "tcp.example", Match::Exact)->action, Action::TcpOnly);
  const NameEntry* local = findName(f, "local.example", Match::Exact);
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(local->action, Action::LocalData);
  EXPECT_EQ(local->local.size(), 3u);
  EXPECT_EQ(findName(f, "alias.example", Match::Exact)->local.at(0).rdata, toWire("walled.garden"));
  ASSERT_EQ(f.ips.size(), 2u);
  EXPECT_EQ(f.stats.unsupported, 4u);  // nsdname, nsip, TYPE999, MX
  EXPECT_EQ(f.stats.malformed, 1u);    // bad!owner
  EXPECT_EQ(findName(f, "weird.example", Match::Exact), nullptr);
}

TEST(Rpz, HostileInput) {
  std::string text = "\xEF\xBB\xBF$ORIGIN rpz.test.\r\na.example CNAME .\r\n";
  text += std::string(20000, 'y') + " CNAME .\n";
  text += "$INCLUDE /etc/passwd\n";
  text += ". CNAME .\n";              // owner outside the zone
  text += "c.example A 999.1.1.1\n";  // bad rdata
  text += "d.example FOO bar\n";      // unknown mnemonic
  text += "@ CNAME .\n";              // apex trigger: ignored
  text += "b.example CNAME ( .\n";    // unbalanced: swallows the rest
  RpzZone z = parseRpzZone(text);
  EXPECT_NE(findName(z.entries, "a.example", Match::Exact), nullptr);
  EXPECT_EQ(z.entries.names.size(), 1u);
  EXPECT_GE(z.entries.stats.malformed, 6u);
}

TEST(RpzBuilder, RecordsAndIxfrDeletions) {
  RpzBuilder b("rpz.test");
  const std::string root = toWire("");
  auto rd = std::span(reinterpret_cast<const uint8_t*>(root.data()), root.size());
  EXPECT_TRUE(b.add("Evil.Example.rpz.test.", kTypeCname, rd));
  EXPECT_TRUE(b.add("gone.example.rpz.test", kTypeCname, rd));
  EXPECT_FALSE(b.add("outside.test", kTypeCname, rd));
  EXPECT_FALSE(b.add("x.rpz.test", kTypeA, rd));  // A with 1 byte
  EXPECT_EQ(b.records(), 2u);
  EXPECT_TRUE(b.remove("gone.example.rpz.test", kTypeCname, rd));
  EXPECT_FALSE(b.remove("gone.example.rpz.test", kTypeCname, rd));
  FeedEntries f = b.build();
  ASSERT_EQ(f.names.size(), 1u);
  EXPECT_EQ(f.names[0].name, "evil.example");
  EXPECT_EQ(f.stats.malformed, 3u);
}

}  // namespace
}  // namespace steadfast::threatfeed
