// SPDX-License-Identifier: Apache-2.0
// Upstream URIs (dns://, tcp://, tls://) and the built-in DNS4EU profiles of the union tier.
// Upstreams are always IP addresses: steadfast must never need DNS to reach its DNS servers.
#include "failover/plan_config.h"

#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace steadfast::failover {
namespace {

constexpr uint16_t kDnsPort = 53;
constexpr uint16_t kTlsPort = 853;

bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool isBase64Char(char c) {
  return isAlnum(c) || c == '+' || c == '/';
}

char toLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// A TLS server name as used for the certificate check: LDH labels, at most 253 octets.
bool validTlsName(std::string_view name) {
  if (name.empty() || name.size() > 253) {
    return false;
  }
  size_t label = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '.') {
      if (label == 0) {
        return false;
      }
      label = 0;
      continue;
    }
    if (!isAlnum(c) && c != '-' && c != '_') {
      return false;
    }
    if (c == '-' && (label == 0 || i + 1 == name.size() || name[i + 1] == '.')) {
      return false;
    }
    if (++label > 63) {
      return false;
    }
  }
  return label > 0;
}

// RFC 7858 section 4.2 pin: base64 of a SHA-256 digest, i.e. 43 characters and one '='.
bool validSha256Pin(std::string_view b64) {
  if (b64.size() != 44 || b64[43] != '=') {
    return false;
  }
  for (size_t i = 0; i < 43; ++i) {
    if (!isBase64Char(b64[i])) {
      return false;
    }
  }
  return true;
}

Unexpected<Error> uriError(std::string_view uri, const std::string& why) {
  return makeError(Errc::InvalidArgument, "bad upstream '" + std::string(uri) + "': " + why);
}

// DNS4EU public resolvers (research/features.md, section 1.1, "Public resolver endpoints";
// sources cited there: joindns4.eu/for-public, badcyber.com 2025-09-09,
// paulmillr/encrypted-dns profiles, AdguardTeam/KnowledgeBaseDNS #333). One certificate covers
// both addresses of a profile, so there is one DoT name per profile. Re-check before a release.
struct Profile {
  std::string_view name;
  std::array<std::string_view, 4> addresses;  // IPv4 primary, secondary; IPv6 primary, secondary
  std::string_view tls_name;
};

constexpr std::array<Profile, 5> kProfiles{{
    {"dns4eu-protective",
     {"86.54.11.1", "86.54.11.201", "2a13:1001::86:54:11:1", "2a13:1001::86:54:11:201"},
     "protective.joindns4.eu"},
    {"dns4eu-protective-child",
     {"86.54.11.12", "86.54.11.212", "2a13:1001::86:54:11:12", "2a13:1001::86:54:11:212"},
     "child.joindns4.eu"},
    {"dns4eu-protective-ad",
     {"86.54.11.13", "86.54.11.213", "2a13:1001::86:54:11:13", "2a13:1001::86:54:11:213"},
     "noads.joindns4.eu"},
    {"dns4eu-protective-child-ad",
     {"86.54.11.11", "86.54.11.211", "2a13:1001::86:54:11:11", "2a13:1001::86:54:11:211"},
     "child-noads.joindns4.eu"},
    {"dns4eu-unfiltered",
     {"86.54.11.100", "86.54.11.200", "2a13:1001::86:54:11:100", "2a13:1001::86:54:11:200"},
     "unfiltered.joindns4.eu"},
}};

}  // namespace

Result<UpstreamUri> UpstreamUri::parse(std::string_view text) {
  UpstreamUri out;
  std::string_view rest;
  uint16_t default_port = kDnsPort;
  std::string_view scheme;
  if (text.starts_with("dns://")) {
    out.transport = UpstreamTransport::Dns;
    scheme = "dns://";
  } else if (text.starts_with("tcp://")) {
    out.transport = UpstreamTransport::Tcp;
    scheme = "tcp://";
  } else if (text.starts_with("tls://")) {
    out.transport = UpstreamTransport::Tls;
    scheme = "tls://";
    default_port = kTlsPort;
  } else if (text.starts_with("https://")) {
    return uriError(text, "DNS over HTTPS is not supported; use dns://, tcp:// or tls://");
  } else {
    return uriError(text, "expected dns://ADDR, tcp://ADDR or tls://ADDR#NAME");
  }
  rest = text.substr(scheme.size());

  // Split off "#NAME[?pin=...]" (tls:// only).
  std::string_view fragment;
  const auto hash = rest.find('#');
  if (hash != std::string_view::npos) {
    fragment = rest.substr(hash + 1);
    rest = rest.substr(0, hash);
    if (out.transport != UpstreamTransport::Tls) {
      return uriError(text, "'#NAME' is only for tls://");
    }
  }
  if (rest.find_first_of("/?@") != std::string_view::npos) {
    return uriError(text, "expected only ADDR[:PORT] after the scheme");
  }
  if (rest.empty()) {
    return uriError(text, "missing address");
  }

  // ADDR: an IPv4 address or a bracketed IPv6 address, never a host name.
  if (rest.front() != '[') {
    const auto colon = rest.find(':');
    if (colon != std::string_view::npos && rest.find(':', colon + 1) != std::string_view::npos) {
      return uriError(text, "an IPv6 address must be in brackets, e.g. dns://[2001:db8::1]:53");
    }
  }
  auto address = SocketAddress::parse(rest, default_port);
  if (!address) {
    std::string why = address.error().detail;
    if (rest.front() != '[' &&
        rest.find_first_of("abcdefghijklmnopqrstuvwxyz"
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string_view::npos) {
      why =
          "an upstream must be an IP address, not a host name, so that steadfast never depends "
          "on DNS to reach DNS";
      if (out.transport == UpstreamTransport::Tls) {
        why += " (put the name after '#': tls://ADDR#NAME)";
      }
    }
    return uriError(text, why);
  }
  out.address = *address;
  if (out.address.port() == 0) {
    return uriError(text, "port 0 is not allowed");
  }

  if (out.transport == UpstreamTransport::Tls) {
    std::string_view name = fragment;
    std::string_view query;
    const auto question = fragment.find('?');
    if (question != std::string_view::npos) {
      name = fragment.substr(0, question);
      query = fragment.substr(question + 1);
    }
    if (name.empty()) {
      return uriError(text,
                      "tls:// needs the server's certificate name after '#', e.g. "
                      "tls://192.0.2.1#resolver.example.net");
    }
    if (!validTlsName(name)) {
      return uriError(text, "'" + std::string(name) + "' is not a valid TLS server name");
    }
    for (char c : name) {
      out.tls_name.push_back(toLower(c));
    }
    if (question != std::string_view::npos) {
      constexpr std::string_view kPin = "pin=sha256/";
      if (!query.starts_with(kPin)) {
        return uriError(text, "the only parameter is '?pin=sha256/BASE64'");
      }
      const std::string_view pin = query.substr(kPin.size());
      if (!validSha256Pin(pin)) {
        return uriError(text, "the pin must be the base64 of a SHA-256 digest (44 characters)");
      }
      out.spki_pin = std::string(pin);
    }
  }

  // Canonical form: scheme, address with explicit port, then "#name" and "?pin=..." for tls.
  out.text = std::string(scheme) + out.address.toString();
  if (out.transport == UpstreamTransport::Tls) {
    out.text += "#" + out.tls_name;
    if (!out.spki_pin.empty()) {
      out.text += "?pin=sha256/" + out.spki_pin;
    }
  }
  return out;
}

std::string_view policyName(SelectionPolicyKind p) noexcept {
  switch (p) {
    case SelectionPolicyKind::Ordered:
      return "ordered";
    case SelectionPolicyKind::Fastest:
      return "fastest";
    case SelectionPolicyKind::RoundRobin:
      return "round-robin";
  }
  return "unknown";
}

bool expandProfile(std::string_view profile, std::string_view transport,
                   std::vector<UpstreamUri>& out) {
  const bool tls = transport == "tls";
  if (!tls && transport != "dns") {
    return false;
  }
  for (const Profile& p : kProfiles) {
    if (p.name != profile) {
      continue;
    }
    out.clear();
    for (std::string_view addr : p.addresses) {
      const bool v6 = addr.find(':') != std::string_view::npos;
      std::string uri = tls ? "tls://" : "dns://";
      uri += v6 ? "[" + std::string(addr) + "]" : std::string(addr);
      if (tls) {
        uri += "#" + std::string(p.tls_name);
      }
      auto parsed = UpstreamUri::parse(uri);
      if (parsed) {  // always true for the table above (tested)
        out.push_back(std::move(*parsed));
      }
    }
    return true;
  }
  return false;
}

std::vector<std::string_view> profileNames() {
  std::vector<std::string_view> names;
  names.reserve(kProfiles.size());
  for (const Profile& p : kProfiles) {
    names.push_back(p.name);
  }
  return names;
}

}  // namespace steadfast::failover
