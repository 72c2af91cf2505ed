// SPDX-License-Identifier: Apache-2.0
// SocketAddress: an IPv4 or IPv6 address with port, as used by listeners, upstreams and the
// ACL. Parses "127.0.0.1:53", "[::1]:53", and bare addresses with a default port.
#pragma once

#include <cstdint>
#include <netinet/in.h>
#include <string>
#include <string_view>
#include <sys/socket.h>

#include "resolver/base/result.h"

namespace steadfast {

class SocketAddress {
 public:
  SocketAddress() noexcept;
  /// Copies `len` bytes of a sockaddr_in or sockaddr_in6.
  SocketAddress(const sockaddr* sa, socklen_t len) noexcept;

  /// "1.2.3.4:53", "[2001:db8::1]:53"; with `default_port` > 0 also "1.2.3.4" and "2001:db8::1".
  static Result<SocketAddress> parse(std::string_view text, int default_port = -1);

  [[nodiscard]] int family() const noexcept { return storage_.ss_family; }
  [[nodiscard]] uint16_t port() const noexcept;
  void setPort(uint16_t port) noexcept;
  [[nodiscard]] const sockaddr* sockaddrPtr() const noexcept {
    return reinterpret_cast<const sockaddr*>(&storage_);
  }
  [[nodiscard]] sockaddr* sockaddrPtr() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
  [[nodiscard]] socklen_t length() const noexcept;
  /// "1.2.3.4:53" or "[::1]:53".
  [[nodiscard]] std::string toString() const;
  /// Address only, without port: "1.2.3.4" or "::1".
  [[nodiscard]] std::string addressString() const;
  /// Same family, address and port.
  [[nodiscard]] bool operator==(const SocketAddress& other) const noexcept;

 private:
  sockaddr_storage storage_;
};

}  // namespace steadfast
