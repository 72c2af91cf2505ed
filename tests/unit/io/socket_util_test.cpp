// SPDX-License-Identifier: Apache-2.0
// RFC 5452 defences at the socket level: upstream sockets get unpredictable source ports, and
// a connected upstream socket only receives datagrams from the upstream's address and port.
#include "resolver/io/socket_util.h"

#include <cerrno>
#include <set>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

namespace steadfast::io {
namespace {

/// A plain UDP socket on 127.0.0.1 with a kernel-chosen port, standing in for an upstream.
struct LoopbackUdp {
  LoopbackUdp() {
    auto listener = openUdpListener(*SocketAddress::parse("127.0.0.1:0"));
    EXPECT_TRUE(listener.ok());
    fd = *listener;
    addr = *SocketAddress::parse("127.0.0.1:0");
    addr.setPort(localPort(fd));
  }
  ~LoopbackUdp() { closeFd(fd); }
  LoopbackUdp(const LoopbackUdp&) = delete;
  LoopbackUdp& operator=(const LoopbackUdp&) = delete;
  int fd = -1;
  SocketAddress addr;
};

TEST(SocketUtilTest, UpstreamSocketsGetSpreadRandomSourcePorts) {
  LoopbackUdp upstream;
  std::set<uint16_t> ports;
  uint16_t lowest = 65535;
  uint16_t highest = 0;
  for (int i = 0; i < 200; ++i) {
    auto fd = openUpstreamUdp(upstream.addr);
    ASSERT_TRUE(fd.ok()) << fd.error().detail;
    const uint16_t port = localPort(*fd);
    ports.insert(port);
    lowest = std::min(lowest, port);
    highest = std::max(highest, port);
    closeFd(*fd);
  }
  // 200 draws from 64512 ports: a repeat or two is possible, a sequence is not.
  EXPECT_GE(ports.size(), 195U);
  EXPECT_GE(lowest, 1024);
  // Spread over the range, not clustered like a sequential ephemeral allocator.
  EXPECT_GT(highest - lowest, 40000);
}

TEST(SocketUtilTest, ConnectedUpstreamSocketIgnoresOtherSources) {
  LoopbackUdp upstream;
  LoopbackUdp spoofer;  // same address, different port: an off-path sender
  auto fd = openUpstreamUdp(upstream.addr);
  ASSERT_TRUE(fd.ok());
  auto local = *SocketAddress::parse("127.0.0.1:0");
  local.setPort(localPort(*fd));

  const char fake[] = "spoofed";
  ASSERT_EQ(::sendto(spoofer.fd, fake, sizeof fake, 0, local.sockaddrPtr(), local.length()),
            static_cast<ssize_t>(sizeof fake));
  const char real[] = "answer";
  ASSERT_EQ(::sendto(upstream.fd, real, sizeof real, 0, local.sockaddrPtr(), local.length()),
            static_cast<ssize_t>(sizeof real));

  char buf[64] = {};
  // The socket is non-blocking; give loopback delivery a moment, bounded.
  ssize_t n = -1;
  for (int i = 0; i < 100 && n < 0; ++i) {
    n = ::recv(*fd, buf, sizeof buf, 0);
    if (n < 0) {
      ASSERT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK);
      usleep(1000);
    }
  }
  ASSERT_EQ(n, static_cast<ssize_t>(sizeof real));
  EXPECT_STREQ(buf, "answer");
  // Nothing else is queued: the spoofed datagram was dropped by the kernel.
  EXPECT_LT(::recv(*fd, buf, sizeof buf, 0), 0);
  closeFd(*fd);
}

TEST(SocketUtilTest, ListenerOnAnAddressInUseNamesIt) {
  LoopbackUdp taken;
  // SO_REUSEPORT sockets of the same user may share a port; a TCP listener on a port another
  // non-reuseport socket holds fails with a message that names the address.
  int plain = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(plain, 0);
  auto addr = *SocketAddress::parse("127.0.0.1:0");
  ASSERT_EQ(::bind(plain, addr.sockaddrPtr(), addr.length()), 0);
  ASSERT_EQ(::listen(plain, 1), 0);
  addr.setPort(localPort(plain));
  auto second = openTcpListener(addr, 16);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().detail.find(addr.toString()), std::string::npos)
      << second.error().detail;
  ::close(plain);
}

}  // namespace
}  // namespace steadfast::io
