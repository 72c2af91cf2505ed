// SPDX-License-Identifier: Apache-2.0
// How one query attempt to one upstream ended.
#pragma once

#include <cstdint>

namespace steadfast::upstream {

enum class AttemptOutcome : uint8_t {
  Answer,     // a checked response (any rcode); the caller judges SERVFAIL/REFUSED
  Timeout,    // nothing valid within the attempt's timeout
  Network,    // send/connect failed, ICMP unreachable, TCP closed early
  Malformed,  // the upstream sent something that does not parse
  Tls,        // the TLS handshake failed: verification (chain, name, pin) or protocol
};

}  // namespace steadfast::upstream
