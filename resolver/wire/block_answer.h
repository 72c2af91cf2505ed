// SPDX-License-Identifier: Apache-2.0
// Answers for a query that a threat-feed rule matched (the pipeline's block stage, issue 7):
// NXDOMAIN and NODATA with a synthetic SOA (RFC 2308 negative caching), sinkhole addresses,
// RPZ local data (A, AAAA, CNAME, TXT), TCP-only (TC=1 over UDP) and the two outcomes that
// send nothing (DROP) or do not block (PASSTHRU, TCP-only over TCP). Blocked answers carry
// EDE 15 (Blocked) or 17 (Filtered, sinkhole and local data) with the caller's text, e.g.
// "blocked by feed NAME" (RFC 8914 4.16/4.18), when the client sent EDNS.
// Pure and allocation-free: writes into the caller's buffer, like the other builders.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "resolver/wire/message.h"

namespace steadfast::wire {

inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypeCname = 5;
inline constexpr uint16_t kTypeTxt = 16;
inline constexpr uint16_t kTypeAaaa = 28;
inline constexpr uint16_t kTypeAny = 255;

/// What a matched rule does (RPZ actions, RFC draft-vixie-dnsop-dns-rpz section 4, plus the
/// `[policy] sinkhole` action of steadfast).
enum class BlockAction : uint8_t {
  NxDomain,   // CNAME .
  NoData,     // CNAME *.
  Drop,       // rpz-drop.
  TcpOnly,    // rpz-tcp-only.
  Passthru,   // rpz-passthru.: not blocked (also ends the lookup in later feeds)
  Sinkhole,   // A/AAAA -> [policy] sinkhole_ipv4/_ipv6, NODATA for other types
  LocalData,  // the rule's own A, AAAA, CNAME or TXT records
};

/// One record of a local-data rule; `rdata` in wire form (A: 4 octets, AAAA: 16, CNAME: an
/// uncompressed wire name, TXT: its character-strings).
struct LocalRecord {
  uint16_t type = 0;
  std::span<const uint8_t> rdata;
};

struct BlockAnswerParams {
  BlockAction action = BlockAction::NxDomain;
  std::string_view ede_text;  // "blocked by feed NAME"
  std::array<uint8_t, 4> sinkhole_ipv4{};
  std::array<uint8_t, 16> sinkhole_ipv6{};
  std::span<const LocalRecord> local;  // LocalData only
  uint32_t ttl = 60;                   // answer records, SOA TTL and SOA MINIMUM
  uint16_t our_udp_size = 1232;
  bool udp = true;          // the query came over UDP (TcpOnly answers TC=1 only there)
  size_t max_size = 65535;  // the client's limit: past it a TC=1 answer is sent instead
};

enum class BlockOutcome : uint8_t {
  Answered,  // out[0, returned length) is the answer
  Drop,      // send nothing
  Resolve,   // not blocked: resolve as usual (PASSTHRU, TCP-only over TCP)
  NoRoom,    // `out` cannot hold even the truncated form
};

struct BlockAnswer {
  BlockOutcome outcome = BlockOutcome::NoRoom;
  size_t length = 0;
  uint16_t rcode = 0;
  bool truncated = false;
};

/// Builds the answer for `q` under `params`. Local records of a type other than A, AAAA,
/// CNAME or TXT, or whose rdata does not fit its type, are skipped. Local data answers the
/// records of the query type (every record for ANY); a CNAME answers any type (the client's
/// resolver follows it); with neither, NODATA.
[[nodiscard]] BlockAnswer buildBlockAnswer(const Query& q, const BlockAnswerParams& params,
                                           std::span<uint8_t> out) noexcept;

/// Response-IP (rpz-ip) triggers: calls `match(ctx, address)` for the RDATA of every A
/// (4 octets) and AAAA (16 octets) record in the answer section of `msg` (a response that
/// analyzeResponse accepted), in order, until it returns true. Returns true then; false when
/// no address matched or `msg` cannot be walked.
using AddressMatcher = bool (*)(const void* ctx, std::span<const uint8_t> address) noexcept;
[[nodiscard]] bool anyAnswerAddress(std::span<const uint8_t> msg, AddressMatcher match,
                                    const void* ctx) noexcept;

}  // namespace steadfast::wire
