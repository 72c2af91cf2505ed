// SPDX-License-Identifier: Apache-2.0
// CIDR parsing and the client ACL (resolver/base/cidr.h): IPv4, IPv6, IPv4-mapped clients,
// prefix edge cases, and that matching never allocates.
#include "resolver/base/cidr.h"

#include <string>

#include <gtest/gtest.h>

#include "resolver/base/socket_address.h"
#include "tests/support/alloc_counter.h"

namespace steadfast {
namespace {

Cidr cidr(const char* text) {
  auto r = Cidr::parse(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().detail);
  return r.ok() ? *r : Cidr{};
}

std::string cidrError(const char* text) {
  auto r = Cidr::parse(text);
  EXPECT_FALSE(r.ok()) << text << " parsed as " << (r.ok() ? r->toString() : "");
  return r.ok() ? "" : r.error().detail;
}

SocketAddress addr(const char* text) {
  auto r = SocketAddress::parse(text, 53);
  EXPECT_TRUE(r.ok()) << text;
  return r.ok() ? *r : SocketAddress{};
}

bool contains(const char* prefix, const char* client) {
  return cidr(prefix).contains(addr(client).sockaddrPtr());
}

TEST(CidrTest, ParsesIpv4) {
  const Cidr c = cidr("127.0.0.0/8");
  EXPECT_EQ(c.family, AF_INET);
  EXPECT_EQ(c.prefix, 8);
  EXPECT_EQ(c.addr[0], 127);
  EXPECT_EQ(c.toString(), "127.0.0.0/8");
  EXPECT_EQ(cidr("192.0.2.1/32").toString(), "192.0.2.1/32");
  EXPECT_EQ(cidr("0.0.0.0/0").toString(), "0.0.0.0/0");
  EXPECT_EQ(cidr("10.1.2.128/25").toString(), "10.1.2.128/25");
}

TEST(CidrTest, ParsesIpv6) {
  const Cidr c = cidr("::1/128");
  EXPECT_EQ(c.family, AF_INET6);
  EXPECT_EQ(c.prefix, 128);
  EXPECT_EQ(c.addr[15], 1);
  EXPECT_EQ(cidr("2001:DB8::/32").toString(), "2001:db8::/32");
  EXPECT_EQ(cidr("::/0").toString(), "::/0");
  EXPECT_EQ(cidr("fe80::/10").toString(), "fe80::/10");
}

TEST(CidrTest, BareAddressIsHostPrefix) {
  EXPECT_EQ(cidr("192.0.2.7").toString(), "192.0.2.7/32");
  EXPECT_EQ(cidr("2001:db8::7").toString(), "2001:db8::7/128");
}

TEST(CidrTest, Errors) {
  EXPECT_NE(cidrError("10.0.0.1/8").find("host bits set (did you mean '10.0.0.0/8'?)"),
            std::string::npos);
  EXPECT_NE(cidrError("2001:db8::1/32").find("did you mean '2001:db8::/32'"), std::string::npos);
  EXPECT_NE(cidrError("10.0.0.128/24").find("host bits"), std::string::npos);
  EXPECT_NE(cidrError("10.0.0.0/33").find("bad prefix length"), std::string::npos);
  EXPECT_NE(cidrError("::/129").find("0..128"), std::string::npos);
  EXPECT_NE(cidrError("10.0.0.0/").find("bad prefix length"), std::string::npos);
  EXPECT_NE(cidrError("10.0.0.0/-1").find("bad prefix length"), std::string::npos);
  EXPECT_NE(cidrError("10.0.0.0/8x").find("bad prefix length"), std::string::npos);
  EXPECT_NE(cidrError("localhost/8").find("not an IPv4 or IPv6 address"), std::string::npos);
  EXPECT_NE(cidrError("").find("not an IPv4 or IPv6 address"), std::string::npos);
  EXPECT_NE(cidrError("10.0.0/8").find("not an IPv4 or IPv6 address"), std::string::npos);
  EXPECT_NE(cidrError("[::1]/128").find("not an IPv4 or IPv6 address"), std::string::npos);
}

TEST(CidrTest, ContainsIpv4) {
  EXPECT_TRUE(contains("127.0.0.0/8", "127.0.0.1"));
  EXPECT_TRUE(contains("127.0.0.0/8", "127.255.255.255"));
  EXPECT_FALSE(contains("127.0.0.0/8", "128.0.0.1"));
  EXPECT_TRUE(contains("10.1.2.128/25", "10.1.2.200"));
  EXPECT_FALSE(contains("10.1.2.128/25", "10.1.2.127"));
  EXPECT_TRUE(contains("192.0.2.1/32", "192.0.2.1"));
  EXPECT_FALSE(contains("192.0.2.1/32", "192.0.2.2"));
  EXPECT_TRUE(contains("0.0.0.0/0", "203.0.113.9"));
  EXPECT_FALSE(contains("0.0.0.0/0", "::1"));  // an IPv4 prefix never matches native IPv6
}

TEST(CidrTest, ContainsIpv6) {
  EXPECT_TRUE(contains("::1/128", "::1"));
  EXPECT_FALSE(contains("::1/128", "::2"));
  EXPECT_TRUE(contains("2001:db8::/32", "2001:db8:ffff::1"));
  EXPECT_FALSE(contains("2001:db8::/32", "2001:db9::1"));
  EXPECT_TRUE(contains("fe80::/10", "febf::1"));
  EXPECT_FALSE(contains("fe80::/10", "fec0::1"));
  EXPECT_TRUE(contains("::/0", "2001:db8::1"));
  EXPECT_FALSE(contains("::/0", "127.0.0.1"));
}

TEST(CidrTest, MappedIpv6ClientMatchesIpv4Prefix) {
  EXPECT_TRUE(contains("127.0.0.0/8", "::ffff:127.0.0.1"));
  EXPECT_TRUE(contains("192.0.2.1/32", "::ffff:192.0.2.1"));
  EXPECT_FALSE(contains("192.0.2.1/32", "::ffff:192.0.2.2"));
  EXPECT_TRUE(contains("0.0.0.0/0", "::ffff:8.8.8.8"));
  // Not mapped: the IPv4-compatible form and NAT64 addresses are IPv6.
  EXPECT_FALSE(contains("127.0.0.0/8", "::127.0.0.1"));
  EXPECT_FALSE(contains("0.0.0.0/0", "64:ff9b::808:808"));
}

TEST(CidrTest, NullAndUnknownFamily) {
  EXPECT_FALSE(cidr("0.0.0.0/0").contains(nullptr));
  sockaddr unix_sa{};
  unix_sa.sa_family = AF_UNIX;
  EXPECT_FALSE(cidr("0.0.0.0/0").contains(&unix_sa));
  EXPECT_FALSE(cidr("::/0").contains(&unix_sa));
}

TEST(AclTest, EmptyAllowsNobody) {
  const Acl acl;
  EXPECT_FALSE(acl.allows(addr("127.0.0.1").sockaddrPtr()));
  EXPECT_FALSE(acl.allows(addr("::1").sockaddrPtr()));
}

TEST(AclTest, DefaultLoopback) {
  const Acl acl({cidr("127.0.0.0/8"), cidr("::1/128")});
  EXPECT_EQ(acl.entries().size(), 2U);
  EXPECT_TRUE(acl.allows(addr("127.0.0.1").sockaddrPtr()));
  EXPECT_TRUE(acl.allows(addr("127.0.0.53").sockaddrPtr()));
  EXPECT_TRUE(acl.allows(addr("::1").sockaddrPtr()));
  EXPECT_TRUE(acl.allows(addr("::ffff:127.0.0.1").sockaddrPtr()));
  EXPECT_FALSE(acl.allows(addr("192.0.2.1").sockaddrPtr()));
  EXPECT_FALSE(acl.allows(addr("::2").sockaddrPtr()));
  EXPECT_FALSE(acl.allows(addr("::ffff:192.0.2.1").sockaddrPtr()));
}

TEST(AclTest, AllowsDoesNotAllocate) {
  const Acl acl({cidr("10.0.0.0/8"), cidr("192.168.0.0/16"), cidr("2001:db8::/32")});
  const SocketAddress v4 = addr("192.168.1.1");
  const SocketAddress v6 = addr("2001:db8::1");
  const SocketAddress mapped = addr("::ffff:10.0.0.1");
  const SocketAddress outside = addr("203.0.113.1");
  const test::AllocScope scope;
  bool all = true;
  for (int i = 0; i < 1000; ++i) {
    all = all && acl.allows(v4.sockaddrPtr()) && acl.allows(v6.sockaddrPtr()) &&
          acl.allows(mapped.sockaddrPtr()) && !acl.allows(outside.sockaddrPtr());
  }
  EXPECT_EQ(scope.allocations(), 0U);
  EXPECT_TRUE(all);
}

}  // namespace
}  // namespace steadfast
