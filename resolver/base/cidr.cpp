// SPDX-License-Identifier: Apache-2.0
// CIDR prefixes and the client ACL. Acl::allows runs once per query, so matching copies the
// client address onto the stack and compares bytes: no allocation, no system call.
#include "resolver/base/cidr.h"

#include <arpa/inet.h>
#include <charconv>
#include <cstring>
#include <netinet/in.h>
#include <utility>

namespace steadfast {
namespace {

// The first 12 bytes of an IPv4-mapped IPv6 address (RFC 4291 section 2.5.5.2).
constexpr std::array<uint8_t, 12> kMappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// True if the first `prefix` bits of `a` and `b` agree.
bool prefixMatches(const uint8_t* a, const uint8_t* b, unsigned prefix) noexcept {
  const unsigned full = prefix / 8;
  if (std::memcmp(a, b, full) != 0) {
    return false;
  }
  const unsigned bits = prefix % 8;
  if (bits == 0) {
    return true;
  }
  const auto mask = static_cast<uint8_t>(0xffU << (8 - bits));
  return ((a[full] ^ b[full]) & mask) == 0;
}

}  // namespace

Result<Cidr> Cidr::parse(std::string_view text) {
  const auto slash = text.find('/');
  const std::string host(text.substr(0, slash));
  Cidr out;
  unsigned max_prefix = 0;
  if (inet_pton(AF_INET, host.c_str(), out.addr.data()) == 1) {
    out.family = AF_INET;
    max_prefix = 32;
  } else if (inet_pton(AF_INET6, host.c_str(), out.addr.data()) == 1) {
    out.family = AF_INET6;
    max_prefix = 128;
  } else {
    return makeError(
        Errc::InvalidArgument,
        "'" + host + "' is not an IPv4 or IPv6 address (in prefix '" + std::string(text) + "')");
  }
  unsigned prefix = max_prefix;
  if (slash != std::string_view::npos) {
    const std::string_view len = text.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(len.data(), len.data() + len.size(), prefix);
    if (len.empty() || ec != std::errc() || ptr != len.data() + len.size() || prefix > max_prefix) {
      return makeError(Errc::InvalidArgument, "bad prefix length in '" + std::string(text) +
                                                  "' (0.." + std::to_string(max_prefix) + ")");
    }
  }
  out.prefix = static_cast<uint8_t>(prefix);
  // Host bits must be zero: "10.0.0.1/8" is more likely a typo than a wish for 10.0.0.0/8.
  Cidr network = out;
  const unsigned bytes = max_prefix / 8;
  for (unsigned i = 0; i < bytes; ++i) {
    const unsigned first_bit = i * 8;
    if (first_bit >= prefix) {
      network.addr[i] = 0;
    } else if (prefix - first_bit < 8) {
      network.addr[i] &= static_cast<uint8_t>(0xffU << (8 - (prefix - first_bit)));
    }
  }
  if (network.addr != out.addr) {
    return makeError(Errc::InvalidArgument, "'" + std::string(text) +
                                                "' has host bits set (did you mean '" +
                                                network.toString() + "'?)");
  }
  return out;
}

std::string Cidr::toString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == AF_INET ? AF_INET : AF_INET6, addr.data(), buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(prefix);
}

bool Cidr::contains(const sockaddr* sa) const noexcept {
  if (sa == nullptr) {
    return false;
  }
  // Copy instead of casting: the caller's storage may be a plain sockaddr buffer.
  if (sa->sa_family == AF_INET) {
    if (family != AF_INET) {
      return false;
    }
    sockaddr_in v4{};
    std::memcpy(&v4, sa, sizeof v4);
    uint8_t bytes[4];
    std::memcpy(bytes, &v4.sin_addr, sizeof bytes);
    return prefixMatches(bytes, addr.data(), prefix);
  }
  if (sa->sa_family == AF_INET6) {
    sockaddr_in6 v6{};
    std::memcpy(&v6, sa, sizeof v6);
    uint8_t bytes[16];
    std::memcpy(bytes, &v6.sin6_addr, sizeof bytes);
    if (family == AF_INET6) {
      return prefixMatches(bytes, addr.data(), prefix);
    }
    // A dual-stack socket shows IPv4 clients as ::ffff:a.b.c.d.
    if (family == AF_INET && std::memcmp(bytes, kMappedPrefix.data(), kMappedPrefix.size()) == 0) {
      return prefixMatches(bytes + kMappedPrefix.size(), addr.data(), prefix);
    }
  }
  return false;
}

Acl::Acl(std::vector<Cidr> entries) : entries_(std::move(entries)) {}

bool Acl::allows(const sockaddr* sa) const noexcept {
  for (const Cidr& c : entries_) {
    if (c.contains(sa)) {
      return true;
    }
  }
  return false;
}

}  // namespace steadfast
