// SPDX-License-Identifier: Apache-2.0
// NOTIFY (RFC 1996) judge: a NOTIFY for a zone we transfer, from one of that feed's primaries
// (by source address; the port is not checked, a primary sends from any port), TSIG-signed
// with the feed's key when one is configured, is accepted: the feed is refreshed at once.
// Anything else is refused with REFUSED and counted by the caller; a message that is not a
// NOTIFY query at all gets FORMERR (or nothing when even the header is short).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "resolver/base/socket_address.h"
#include "threatfeed/fetch/tsig.h"

namespace steadfast::fetch {

struct NotifyPeer {
  std::vector<uint8_t> zone;              // lower-cased wire name
  std::vector<std::string> allowed_from;  // addresses (no port), e.g. "127.0.0.1", "::1"
  const TsigKey* key = nullptr;           // when set, the NOTIFY must be signed with it
  size_t feed = 0;                        // index of the feed to refresh
};

enum class NotifyVerdict : uint8_t { Accept, Refuse, Malformed };

struct NotifyDecision {
  NotifyVerdict verdict = NotifyVerdict::Malformed;
  size_t feed = 0;                 // valid when accepted
  std::optional<uint32_t> serial;  // SOA serial in the answer section, when sent
  std::string reason;              // for the log when refused or malformed
  std::vector<uint8_t> response;   // to send back (empty: send nothing)
};

/// `from` is the datagram's (or connection's) source. `now_unix` is wall time for TSIG.
NotifyDecision judgeNotify(std::span<const uint8_t> msg, const SocketAddress& from,
                           std::span<const NotifyPeer> peers, uint64_t now_unix);

/// "127.0.0.1" for both 127.0.0.1 and ::ffff:127.0.0.1.
std::string canonicalAddress(const SocketAddress& a);

}  // namespace steadfast::fetch
