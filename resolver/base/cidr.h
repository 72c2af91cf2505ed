// SPDX-License-Identifier: Apache-2.0
// CIDR prefixes and the client ACL ([server] allow). An IPv4-mapped IPv6 client address
// (::ffff:a.b.c.d, as seen on dual-stack sockets) is matched against the IPv4 prefixes.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <vector>

#include "resolver/base/result.h"

namespace steadfast {

struct Cidr {
  int family = 0;                  // AF_INET or AF_INET6
  std::array<uint8_t, 16> addr{};  // network address, host bits zeroed
  uint8_t prefix = 0;              // 0..32 or 0..128

  /// "127.0.0.0/8", "::1/128", or a bare address (a host prefix). Host bits set in the
  /// address ("10.0.0.1/8") are an error, as in most firewalls' configs.
  static Result<Cidr> parse(std::string_view text);
  [[nodiscard]] std::string toString() const;
  /// True if `sa` (sockaddr_in or sockaddr_in6) lies inside the prefix.
  [[nodiscard]] bool contains(const sockaddr* sa) const noexcept;
};

/// The set of client prefixes allowed to query. Empty: nobody.
class Acl {
 public:
  Acl() = default;
  explicit Acl(std::vector<Cidr> entries);
  [[nodiscard]] bool allows(const sockaddr* sa) const noexcept;
  [[nodiscard]] const std::vector<Cidr>& entries() const noexcept { return entries_; }

 private:
  std::vector<Cidr> entries_;
};

}  // namespace steadfast
