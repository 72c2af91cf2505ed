// SPDX-License-Identifier: Apache-2.0
#include "resolver/base/socket_address.h"

#include <arpa/inet.h>
#include <charconv>
#include <cstring>

namespace steadfast {

SocketAddress::SocketAddress() noexcept : storage_{} {}

SocketAddress::SocketAddress(const sockaddr* sa, socklen_t len) noexcept : storage_{} {
  if (len > sizeof storage_) {
    len = sizeof storage_;
  }
  std::memcpy(&storage_, sa, len);
}

uint16_t SocketAddress::port() const noexcept {
  if (family() == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  }
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  }
  return 0;
}

void SocketAddress::setPort(uint16_t port) noexcept {
  if (family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
  } else if (family() == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
  }
}

socklen_t SocketAddress::length() const noexcept {
  if (family() == AF_INET) {
    return sizeof(sockaddr_in);
  }
  if (family() == AF_INET6) {
    return sizeof(sockaddr_in6);
  }
  return 0;
}

Result<SocketAddress> SocketAddress::parse(std::string_view text, int default_port) {
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) {
      return makeError(Errc::InvalidArgument, "missing ']' in address");
    }
    host = std::string(text.substr(1, close - 1));
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return makeError(Errc::InvalidArgument, "expected ':port' after ']'");
      }
      port_text = rest.substr(1);
    }
  } else {
    auto colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos) {
      host = std::string(text.substr(0, colon));
      port_text = text.substr(colon + 1);
    } else {
      host = std::string(text);  // IPv4 without port, or bare IPv6
    }
  }
  int port = default_port;
  if (!port_text.empty() || (port_text.data() != nullptr && port_text.empty())) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (port_text.empty() || ec != std::errc() || ptr != port_text.data() + port_text.size() ||
        value > 65535) {
      return makeError(Errc::InvalidArgument, "bad port in '" + std::string(text) + "'");
    }
    port = static_cast<int>(value);
  }
  if (port < 0) {
    return makeError(Errc::InvalidArgument, "missing port in '" + std::string(text) + "'");
  }
  if (host.find('\0') != std::string::npos) {
    // inet_pton reads a C string: "192.0.2.1\0junk" would pass as 192.0.2.1.
    return makeError(Errc::InvalidArgument, "NUL byte in address '" + std::string(text) + "'");
  }
  SocketAddress out;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage_);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage_);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
  } else {
    return makeError(Errc::InvalidArgument, "'" + host + "' is not an IPv4 or IPv6 address");
  }
  out.setPort(static_cast<uint16_t>(port));
  return out;
}

std::string SocketAddress::addressString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf, sizeof buf);
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
              sizeof buf);
  }
  return buf;
}

std::string SocketAddress::toString() const {
  if (family() == AF_INET6) {
    return "[" + addressString() + "]:" + std::to_string(port());
  }
  return addressString() + ":" + std::to_string(port());
}

bool SocketAddress::operator==(const SocketAddress& other) const noexcept {
  if (family() != other.family() || port() != other.port()) {
    return false;
  }
  if (family() == AF_INET) {
    return std::memcmp(&reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr,
                       &reinterpret_cast<const sockaddr_in*>(&other.storage_)->sin_addr,
                       sizeof(in_addr)) == 0;
  }
  if (family() == AF_INET6) {
    return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr,
                       &reinterpret_cast<const sockaddr_in6*>(&other.storage_)->sin6_addr,
                       sizeof(in6_addr)) == 0;
  }
  return true;
}

}  // namespace steadfast
