// SPDX-License-Identifier: Apache-2.0
// Upstream URIs, policy names and the built-in DNS4EU profiles (failover/plan_config.h).
#include "failover/plan_config.h"

#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

namespace steadfast::failover {
namespace {

UpstreamUri uri(const char* text) {
  auto r = UpstreamUri::parse(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().detail);
  return r.ok() ? *r : UpstreamUri{};
}

std::string uriError(const char* text) {
  auto r = UpstreamUri::parse(text);
  EXPECT_FALSE(r.ok()) << text << " parsed as " << (r.ok() ? r->text : "");
  return r.ok() ? "" : r.error().detail;
}

TEST(UpstreamUriTest, PlainDns) {
  const UpstreamUri u = uri("dns://192.0.2.1");
  EXPECT_EQ(u.transport, UpstreamTransport::Dns);
  EXPECT_EQ(u.address.toString(), "192.0.2.1:53");
  EXPECT_EQ(u.text, "dns://192.0.2.1:53");
  EXPECT_TRUE(u.tls_name.empty());
  EXPECT_TRUE(u.spki_pin.empty());
  EXPECT_EQ(uri("dns://192.0.2.1:5353").text, "dns://192.0.2.1:5353");
  EXPECT_EQ(uri("dns://[2001:DB8::1]:5353").text, "dns://[2001:db8::1]:5353");
  EXPECT_EQ(uri("dns://[2001:db8::1]").text, "dns://[2001:db8::1]:53");
}

TEST(UpstreamUriTest, Tcp) {
  const UpstreamUri u = uri("tcp://192.0.2.1");
  EXPECT_EQ(u.transport, UpstreamTransport::Tcp);
  EXPECT_EQ(u.address.port(), 53);
  EXPECT_EQ(u.text, "tcp://192.0.2.1:53");
  EXPECT_EQ(uri("tcp://[::1]:54").text, "tcp://[::1]:54");
}

TEST(UpstreamUriTest, Tls) {
  const UpstreamUri u = uri("tls://192.0.2.2#Resolver.Example.NET");
  EXPECT_EQ(u.transport, UpstreamTransport::Tls);
  EXPECT_EQ(u.address.port(), 853);
  EXPECT_EQ(u.tls_name, "resolver.example.net");
  EXPECT_EQ(u.text, "tls://192.0.2.2:853#resolver.example.net");
  EXPECT_EQ(uri("tls://[2001:db8::2]:8853#dot.example").text,
            "tls://[2001:db8::2]:8853#dot.example");
}

TEST(UpstreamUriTest, TlsWithPin) {
  const std::string pin = "pOXrpUt9kgPgbWxBFFcBTbRH2heo2wHwXp1fd4AEVXI=";
  const UpstreamUri u = uri(("tls://192.0.2.2#dot.example?pin=sha256/" + pin).c_str());
  EXPECT_EQ(u.spki_pin, pin);
  EXPECT_EQ(u.text, "tls://192.0.2.2:853#dot.example?pin=sha256/" + pin);
}

TEST(UpstreamUriTest, Errors) {
  EXPECT_NE(uriError("192.0.2.1").find("expected dns://ADDR"), std::string::npos);
  EXPECT_NE(uriError("udp://192.0.2.1").find("expected dns://ADDR"), std::string::npos);
  EXPECT_NE(uriError("https://dns.example/dns-query").find("not supported"), std::string::npos);
  EXPECT_NE(uriError("dns://").find("missing address"), std::string::npos);
  EXPECT_NE(uriError("dns://resolver.example.net").find("never depends on DNS to reach DNS"),
            std::string::npos);
  EXPECT_NE(uriError("tls://dns.example#dns.example").find("put the name after '#'"),
            std::string::npos);
  EXPECT_NE(uriError("dns://2001:db8::1").find("must be in brackets"), std::string::npos);
  EXPECT_NE(uriError("dns://[2001:db8::1").find("missing ']'"), std::string::npos);
  EXPECT_NE(uriError("dns://192.0.2.1:99999").find("bad port"), std::string::npos);
  EXPECT_NE(uriError("dns://192.0.2.1:0").find("port 0"), std::string::npos);
  EXPECT_NE(uriError("dns://192.0.2.1#name").find("only for tls://"), std::string::npos);
  EXPECT_NE(uriError("dns://192.0.2.1/path").find("only ADDR[:PORT]"), std::string::npos);
  EXPECT_NE(uriError("tls://192.0.2.1").find("needs the server's certificate name"),
            std::string::npos);
  EXPECT_NE(uriError("tls://192.0.2.1#").find("needs the server's certificate name"),
            std::string::npos);
  EXPECT_NE(uriError("tls://192.0.2.1#bad name").find("not a valid TLS server name"),
            std::string::npos);
  EXPECT_NE(uriError("tls://192.0.2.1#-bad.example").find("not a valid TLS server name"),
            std::string::npos);
  EXPECT_NE(uriError("tls://192.0.2.1#a..example").find("not a valid TLS server name"),
            std::string::npos);
  EXPECT_NE(uriError("tls://192.0.2.1#dot.example?pin=sha1/AAAA").find("the only parameter"),
            std::string::npos);
  EXPECT_NE(uriError("tls://192.0.2.1#dot.example?pin=sha256/short=").find("44 characters"),
            std::string::npos);
  EXPECT_NE(uriError("tls://192.0.2.1#dot.example?pin=sha256/"
                     "pOXrpUt9kgPgbWxBFFcBTbRH2heo2wHwXp1fd4AEV!I=")
                .find("44 characters"),
            std::string::npos);
  // Every message names the URI.
  EXPECT_EQ(uriError("dns://x").rfind("bad upstream 'dns://x': ", 0), 0U);
}

TEST(PolicyNameTest, Names) {
  EXPECT_EQ(policyName(SelectionPolicyKind::Ordered), "ordered");
  EXPECT_EQ(policyName(SelectionPolicyKind::Fastest), "fastest");
  EXPECT_EQ(policyName(SelectionPolicyKind::RoundRobin), "round-robin");
}

std::vector<std::string> texts(const std::vector<UpstreamUri>& v) {
  std::vector<std::string> out;
  for (const auto& u : v) {
    out.push_back(u.text);
  }
  return out;
}

TEST(ProfileTest, ProtectiveTls) {
  std::vector<UpstreamUri> out;
  ASSERT_TRUE(expandProfile("dns4eu-protective", "tls", out));
  EXPECT_EQ(texts(out), (std::vector<std::string>{
                            "tls://86.54.11.1:853#protective.joindns4.eu",
                            "tls://86.54.11.201:853#protective.joindns4.eu",
                            "tls://[2a13:1001::86:54:11:1]:853#protective.joindns4.eu",
                            "tls://[2a13:1001::86:54:11:201]:853#protective.joindns4.eu",
                        }));
  for (const auto& u : out) {
    EXPECT_EQ(u.transport, UpstreamTransport::Tls);
    EXPECT_EQ(u.tls_name, "protective.joindns4.eu");
  }
}

TEST(ProfileTest, UnfilteredDns) {
  std::vector<UpstreamUri> out;
  ASSERT_TRUE(expandProfile("dns4eu-unfiltered", "dns", out));
  EXPECT_EQ(texts(out), (std::vector<std::string>{
                            "dns://86.54.11.100:53",
                            "dns://86.54.11.200:53",
                            "dns://[2a13:1001::86:54:11:100]:53",
                            "dns://[2a13:1001::86:54:11:200]:53",
                        }));
}

TEST(ProfileTest, EveryProfileExpands) {
  // research/features.md section 1.1: profile -> (first IPv4 address, DoT name).
  const std::vector<std::tuple<std::string, std::string, std::string>> expected = {
      {"dns4eu-protective", "86.54.11.1", "protective.joindns4.eu"},
      {"dns4eu-protective-child", "86.54.11.12", "child.joindns4.eu"},
      {"dns4eu-protective-ad", "86.54.11.13", "noads.joindns4.eu"},
      {"dns4eu-protective-child-ad", "86.54.11.11", "child-noads.joindns4.eu"},
      {"dns4eu-unfiltered", "86.54.11.100", "unfiltered.joindns4.eu"},
  };
  const auto names = profileNames();
  ASSERT_EQ(names.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& [name, first, tls_name] = expected[i];
    EXPECT_EQ(names[i], name);
    for (const char* transport : {"tls", "dns"}) {
      std::vector<UpstreamUri> out{UpstreamUri{}};  // replaced, not appended to
      ASSERT_TRUE(expandProfile(name, transport, out)) << name << " " << transport;
      ASSERT_EQ(out.size(), 4U) << name;
      EXPECT_EQ(out[0].address.addressString(), first);
      EXPECT_EQ(out[2].address.family(), AF_INET6);
      EXPECT_EQ(out[0].tls_name, std::string(transport) == "tls" ? tls_name : "");
    }
  }
}

TEST(ProfileTest, Unknown) {
  std::vector<UpstreamUri> out;
  EXPECT_FALSE(expandProfile("quad9", "tls", out));
  EXPECT_FALSE(expandProfile("dns4eu-protective", "https", out));
  EXPECT_FALSE(expandProfile("", "dns", out));
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace steadfast::failover
