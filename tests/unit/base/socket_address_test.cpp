// SPDX-License-Identifier: Apache-2.0
// SocketAddress::parse and formatting (resolver/base/socket_address.h), as used for listen
// addresses and upstreams.
#include "resolver/base/socket_address.h"

#include <string>

#include <gtest/gtest.h>

namespace steadfast {
namespace {

std::string parseError(const char* text, int default_port = -1) {
  auto r = SocketAddress::parse(text, default_port);
  EXPECT_FALSE(r.ok()) << text << " parsed as " << (r.ok() ? r->toString() : "");
  return r.ok() ? "" : r.error().detail;
}

TEST(SocketAddressTest, Ipv4WithPort) {
  auto r = SocketAddress::parse("127.0.0.1:53");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->family(), AF_INET);
  EXPECT_EQ(r->port(), 53);
  EXPECT_EQ(r->toString(), "127.0.0.1:53");
  EXPECT_EQ(r->addressString(), "127.0.0.1");
  EXPECT_EQ(r->length(), sizeof(sockaddr_in));
}

TEST(SocketAddressTest, Ipv6WithPort) {
  auto r = SocketAddress::parse("[2001:DB8::1]:5353");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->family(), AF_INET6);
  EXPECT_EQ(r->port(), 5353);
  EXPECT_EQ(r->toString(), "[2001:db8::1]:5353");
  EXPECT_EQ(r->addressString(), "2001:db8::1");
  EXPECT_EQ(r->length(), sizeof(sockaddr_in6));
}

TEST(SocketAddressTest, DefaultPort) {
  EXPECT_EQ(SocketAddress::parse("192.0.2.1", 53)->toString(), "192.0.2.1:53");
  EXPECT_EQ(SocketAddress::parse("[::1]", 853)->toString(), "[::1]:853");
  EXPECT_EQ(SocketAddress::parse("::1", 853)->toString(), "[::1]:853");
  EXPECT_EQ(SocketAddress::parse("192.0.2.1:5353", 53)->port(), 5353);
  EXPECT_EQ(SocketAddress::parse("0.0.0.0:0")->port(), 0);
  EXPECT_EQ(SocketAddress::parse("1.2.3.4:65535")->port(), 65535);
}

TEST(SocketAddressTest, Errors) {
  EXPECT_NE(parseError("192.0.2.1").find("missing port"), std::string::npos);
  EXPECT_NE(parseError("192.0.2.1:65536").find("bad port"), std::string::npos);
  EXPECT_NE(parseError("192.0.2.1:").find("bad port"), std::string::npos);
  EXPECT_NE(parseError("192.0.2.1:5x").find("bad port"), std::string::npos);
  EXPECT_NE(parseError("192.0.2.1:-1").find("bad port"), std::string::npos);
  EXPECT_NE(parseError("[::1:53").find("missing ']'"), std::string::npos);
  EXPECT_NE(parseError("[::1]53").find("expected ':port'"), std::string::npos);
  EXPECT_NE(parseError("localhost:53").find("not an IPv4 or IPv6 address"), std::string::npos);
  EXPECT_NE(parseError("256.0.0.1:53").find("not an IPv4 or IPv6 address"), std::string::npos);
}

TEST(SocketAddressTest, Equality) {
  EXPECT_EQ(*SocketAddress::parse("[::1]:53"), *SocketAddress::parse("::1", 53));
  EXPECT_FALSE(*SocketAddress::parse("[::1]:53") == *SocketAddress::parse("[::1]:54"));
  EXPECT_FALSE(*SocketAddress::parse("127.0.0.1:53") == *SocketAddress::parse("[::1]:53"));
  EXPECT_FALSE(*SocketAddress::parse("127.0.0.1:53") == *SocketAddress::parse("127.0.0.2:53"));
}

TEST(SocketAddressTest, RoundTripThroughSockaddr) {
  const SocketAddress a = *SocketAddress::parse("[2001:db8::53]:853");
  const SocketAddress b(a.sockaddrPtr(), a.length());
  EXPECT_EQ(a, b);
  EXPECT_EQ(b.toString(), "[2001:db8::53]:853");
}

TEST(SocketAddressTest, EmbeddedNulIsRejected) {
  using namespace std::string_view_literals;
  EXPECT_FALSE(SocketAddress::parse("192.0.2.1\0junk"sv).ok());
  EXPECT_FALSE(SocketAddress::parse("192.0.2.1:53\0"sv).ok());
}

}  // namespace
}  // namespace steadfast
