// SPDX-License-Identifier: Apache-2.0
#include "resolver/io/socket_util.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <system_error>
#include <unistd.h>

#include "resolver/base/random.h"

namespace steadfast::io {
namespace {

Error sysError(const std::string& what, const SocketAddress& addr) {
  // std::generic_category().message() is thread-safe; strerror() is not (workers may fail
  // concurrently).
  return Error{Errc::Io,
               what + " " + addr.toString() + ": " + std::generic_category().message(errno)};
}

void setIntOption(int fd, int level, int name, int value) noexcept {
  // Best effort: a buffer size the kernel caps is not an error.
  (void)setsockopt(fd, level, name, &value, sizeof value);
}

}  // namespace

void closeFd(int fd) noexcept {
  if (fd >= 0) {
    (void)::close(fd);
  }
}

uint16_t localPort(int fd) noexcept {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return 0;
  }
  return SocketAddress(reinterpret_cast<sockaddr*>(&ss), len).port();
}

/// A non-blocking listening socket of `type` with SO_REUSEPORT (one per worker), IPv6-only
/// for IPv6 addresses, not yet bound.
static Result<int> openReusePortSocket(const SocketAddress& addr, int type, const char* what) {
  int fd = ::socket(addr.family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return Unexpected<Error>{sysError(std::string("cannot create ") + what + " socket for", addr)};
  }
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    auto e = sysError("cannot set SO_REUSEPORT on", addr);
    closeFd(fd);
    return Unexpected<Error>{e};
  }
  if (addr.family() == AF_INET6) {
    setIntOption(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
  }
  return fd;
}

Result<int> openUdpListener(const SocketAddress& addr) {
  auto fd = openReusePortSocket(addr, SOCK_DGRAM, "UDP");
  if (!fd) {
    return fd;
  }
  setIntOption(*fd, SOL_SOCKET, SO_RCVBUF, 4 << 20);
  setIntOption(*fd, SOL_SOCKET, SO_SNDBUF, 4 << 20);
  if (::bind(*fd, addr.sockaddrPtr(), addr.length()) != 0) {
    auto e = sysError("cannot listen on udp", addr);
    closeFd(*fd);
    return Unexpected<Error>{e};
  }
  return fd;
}

Result<int> openTcpListener(const SocketAddress& addr, int backlog) {
  auto fd = openReusePortSocket(addr, SOCK_STREAM, "TCP");
  if (!fd) {
    return fd;
  }
  int one = 1;
  (void)setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(*fd, addr.sockaddrPtr(), addr.length()) != 0 || ::listen(*fd, backlog) != 0) {
    auto e = sysError("cannot listen on tcp", addr);
    closeFd(*fd);
    return Unexpected<Error>{e};
  }
  return fd;
}

Result<int> openUpstreamUdp(const SocketAddress& upstream) {
  int fd = ::socket(upstream.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return Unexpected<Error>{sysError("cannot create UDP socket for", upstream)};
  }
  SocketAddress local;
  if (upstream.family() == AF_INET) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    local = SocketAddress(reinterpret_cast<sockaddr*>(&sin), sizeof sin);
  } else {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    local = SocketAddress(reinterpret_cast<sockaddr*>(&sin6), sizeof sin6);
  }
  // RFC 5452 9.2: the source port must be unpredictable. Draw from the CSPRNG; a port in use
  // is retried, and after a few collisions the kernel's own random ephemeral port is used.
  bool bound = false;
  for (int attempt = 0; attempt < 8 && !bound; ++attempt) {
    local.setPort(static_cast<uint16_t>(1024 + threadRandom().uniform(65536 - 1024)));
    bound = ::bind(fd, local.sockaddrPtr(), local.length()) == 0;
  }
  if (!bound) {
    local.setPort(0);
    if (::bind(fd, local.sockaddrPtr(), local.length()) != 0) {
      auto e = sysError("cannot bind a source port for", upstream);
      closeFd(fd);
      return Unexpected<Error>{e};
    }
  }
  if (::connect(fd, upstream.sockaddrPtr(), upstream.length()) != 0) {
    auto e = sysError("cannot connect to", upstream);
    closeFd(fd);
    return Unexpected<Error>{e};
  }
  return fd;
}

}  // namespace steadfast::io
