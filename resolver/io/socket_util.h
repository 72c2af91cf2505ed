// SPDX-License-Identifier: Apache-2.0
// Socket creation for listeners and upstream queries, where libuv 1.44 lacks a knob
// (SO_REUSEPORT came to uv_tcp/uv_udp only in 1.49) or where we want the fd itself
// (recvmmsg/sendmmsg batches). Errors come back as Error values with errno text.
#pragma once

#include <cstdint>

#include "resolver/base/result.h"
#include "resolver/base/socket_address.h"

namespace steadfast::io {

/// A non-blocking, close-on-exec UDP socket bound to `addr` with SO_REUSEPORT (one per worker
/// thread, the kernel spreads clients across them) and large buffers.
Result<int> openUdpListener(const SocketAddress& addr);

/// A non-blocking TCP listening socket bound to `addr` with SO_REUSEPORT and SO_REUSEADDR.
Result<int> openTcpListener(const SocketAddress& addr, int backlog);

/// A non-blocking UDP socket for one upstream query (RFC 5452 section 9.2): bound to a
/// source port drawn from the CSPRNG in [1024, 65535] (a few tries, then the kernel's
/// random ephemeral port), and connect()ed to `upstream`, so the kernel delivers only
/// datagrams whose source address and port match the upstream.
Result<int> openUpstreamUdp(const SocketAddress& upstream);

/// Closes an fd, retrying on EINTR is wrong on Linux; this simply closes.
void closeFd(int fd) noexcept;

/// Local port of a bound socket (0 on error).
uint16_t localPort(int fd) noexcept;

}  // namespace steadfast::io
