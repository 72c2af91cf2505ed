// SPDX-License-Identifier: Apache-2.0
// In-place DNS message handling for the hot path (RFC 1035 section 4, RFC 6891 EDNS0,
// RFC 8914 EDE). Nothing here allocates: queries are parsed into a fixed-size Query,
// responses are checked and described by a fixed-size ResponseInfo, answers are built into
// caller-provided buffers. ldns is kept for slow paths and tests (see ldns_util.h).
//
// Pipeline position: listen -> parseQuery -> (cache | forward: buildUpstreamQuery ->
// analyzeResponse) -> finishAnswer -> client.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace steadfast::wire {

inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kMaxNameWire = 255;  // RFC 1035 2.3.4, including the root label
inline constexpr size_t kMaxLabel = 63;
inline constexpr size_t kOptRrSize = 11;       // root name, type, class, ttl, rdlen
inline constexpr size_t kMaxTtlOffsets = 256;  // answers with more RRs are forwarded, not cached
inline constexpr uint16_t kTypeOpt = 41;
inline constexpr uint16_t kTypeSoa = 6;
inline constexpr uint16_t kClassIn = 1;
inline constexpr uint16_t kOptionEcs = 8;  // RFC 7871 EDNS Client Subnet
inline constexpr size_t kMaxEcsData = 20;  // FAMILY(2) SOURCE(1) SCOPE(1) ADDRESS(<=16)

// Header flag bits (the 16-bit word at offset 2).
inline constexpr uint16_t kFlagQr = 0x8000;
inline constexpr uint16_t kFlagAa = 0x0400;
inline constexpr uint16_t kFlagTc = 0x0200;
inline constexpr uint16_t kFlagRd = 0x0100;
inline constexpr uint16_t kFlagRa = 0x0080;
inline constexpr uint16_t kFlagAd = 0x0020;
inline constexpr uint16_t kFlagCd = 0x0010;

enum class Rcode : uint8_t {
  NoError = 0,
  FormErr = 1,
  ServFail = 2,
  NxDomain = 3,
  NotImp = 4,
  Refused = 5,
};

/// EDE option codes used by steadfast (RFC 8914 section 4).
enum class EdeCode : uint16_t {
  Other = 0,
  StaleAnswer = 3,
  DnssecBogus = 6,
  Prohibited = 18,
  Blocked = 15,
  Filtered = 17,
  NoReachableAuthority = 22,
  NetworkError = 23,
};

struct Ede {
  EdeCode code = EdeCode::Other;
  std::string_view text;  // UTF-8, not NUL-terminated on the wire
};

inline uint16_t readU16(const uint8_t* p) noexcept {
  return static_cast<uint16_t>((uint16_t{p[0]} << 8U) | p[1]);
}
inline uint32_t readU32(const uint8_t* p) noexcept {
  return (uint32_t{p[0]} << 24U) | (uint32_t{p[1]} << 16U) | (uint32_t{p[2]} << 8U) | p[3];
}
inline void writeU16(uint8_t* p, uint16_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 8U);
  p[1] = static_cast<uint8_t>(v);
}
inline void writeU32(uint8_t* p, uint32_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 24U);
  p[1] = static_cast<uint8_t>(v >> 16U);
  p[2] = static_cast<uint8_t>(v >> 8U);
  p[3] = static_cast<uint8_t>(v);
}

/// Outcome of parsing a client query.
enum class QueryParse : uint8_t {
  Ok,
  Drop,     // shorter than a header, or QR=1 (a response sent to us): drop silently, count
  FormErr,  // header readable, rest not: answer FORMERR (buildHeaderOnlyError), count
  NotImp,   // opcode other than QUERY: answer NOTIMP
  BadVers,  // EDNS version > 0: answer BADVERS (RFC 6891 6.1.3)
};

/// A parsed client query. Fixed size; lives on the stack or in a per-query slot.
struct Query {
  uint16_t id = 0;
  uint16_t flags = 0;  // raw header flags word
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  uint16_t qname_len = 0;                           // wire length including the root label (1..255)
  std::array<uint8_t, kMaxNameWire> qname{};        // uncompressed wire form, case as sent
  std::array<uint8_t, kMaxNameWire> qname_lower{};  // same, ASCII lower-cased (cache key)
  size_t question_end = 0;  // offset just after the question in the client's message
  bool has_edns = false;
  bool do_bit = false;
  uint8_t edns_version = 0;
  uint16_t udp_size = 512;  // the client's EDNS payload size (>= 512), 512 without EDNS
  // The client's EDNS Client Subnet option data (RFC 7871 6), ecs_len 0 when it sent none.
  // Forwarded only to tiers with send_client_subnet = true; every other upstream gets none.
  uint8_t ecs_len = 0;
  std::array<uint8_t, kMaxEcsData> ecs{};

  [[nodiscard]] bool rd() const noexcept { return (flags & kFlagRd) != 0; }
  [[nodiscard]] bool cd() const noexcept { return (flags & kFlagCd) != 0; }
  [[nodiscard]] std::span<const uint8_t> name() const noexcept { return {qname.data(), qname_len}; }
  [[nodiscard]] std::span<const uint8_t> nameLower() const noexcept {
    return {qname_lower.data(), qname_len};
  }
  [[nodiscard]] std::span<const uint8_t> clientSubnet() const noexcept {
    return {ecs.data(), ecs_len};
  }
};

/// Parses a client query in place: header, exactly one question, and the additional section
/// for an OPT RR (at most one, owner must be root). Records in the answer and authority
/// sections are accepted and skipped (as dnsdist does), but every RR is bounds-checked.
[[nodiscard]] QueryParse parseQuery(std::span<const uint8_t> msg, Query& out) noexcept;

/// Reads a possibly compressed name at `pos` in `msg` into `out` (uncompressed wire form).
/// Enforces 63-octet labels, the 255-octet total, pointers only backwards and a bounded
/// number of jumps (no loops). On success advances `pos` past the name as it sits in the
/// message, sets `out_len`, returns true.
[[nodiscard]] bool readName(std::span<const uint8_t> msg, size_t& pos,
                            std::span<uint8_t, kMaxNameWire> out, size_t& out_len) noexcept;

/// Skips a possibly compressed name without copying; same checks as readName.
[[nodiscard]] bool skipName(std::span<const uint8_t> msg, size_t& pos) noexcept;

/// True for an uncompressed wire name of 1..255 octets that ends exactly at its root label.
[[nodiscard]] bool validWireName(std::span<const uint8_t> name) noexcept;

/// ASCII lower-casing of a wire-format name (label lengths untouched).
void lowerName(std::span<const uint8_t> in, uint8_t* out) noexcept;

/// "www.example.com." <-> wire form. For logs, config and tests, not the hot path.
[[nodiscard]] std::string nameToText(std::span<const uint8_t> wire);
/// Returns false for an invalid name (empty label, label > 63, name > 255).
[[nodiscard]] bool nameFromText(std::string_view text, std::span<uint8_t, kMaxNameWire> out,
                                size_t& out_len) noexcept;

/// Builds the query steadfast sends upstream: the given ID, RD set, CD copied from the client,
/// the client's question (case as sent), and an OPT RR with `udp_size` and the client's DO bit.
/// No other client option is copied: EDNS Client Subnet goes out only when `send_ecs` is set
/// and the client sent one (RFC 7871 7.1.2: a forwarder passes on the client's option).
/// Returns the length, 0 if `out` is too small.
[[nodiscard]] size_t buildUpstreamQuery(const Query& q, uint16_t id, uint16_t udp_size,
                                        std::span<uint8_t> out, bool send_ecs = false) noexcept;

/// Builds a probe / plain query for name `qname` (wire) and type, RD set, with OPT.
[[nodiscard]] size_t buildQuery(std::span<const uint8_t> qname, uint16_t qtype, uint16_t id,
                                uint16_t udp_size, bool do_bit, std::span<uint8_t> out) noexcept;

/// Builds an answer with no records: the client's ID, QR, RD and CD copied, RA set, `rcode`
/// (the low 4 bits; the high bits of an extended rcode such as BADVERS=16 go in the OPT),
/// the question as the client sent it, and an OPT RR when the client sent EDNS, carrying
/// `ede` if given. Returns the length, 0 if `out` is too small.
[[nodiscard]] size_t buildErrorResponse(const Query& q, uint16_t rcode, std::span<uint8_t> out,
                                        uint16_t our_udp_size, const Ede* ede) noexcept;

/// FORMERR/NOTIMP when only the header of `query` is usable: copies the ID, sets QR and the
/// rcode, copies RD and opcode, zero counts. `query` must be >= 12 bytes. Returns 12 (or 0).
[[nodiscard]] size_t buildHeaderOnlyError(std::span<const uint8_t> query, Rcode rcode,
                                          std::span<uint8_t> out) noexcept;

/// Outcome of checking an upstream response against the query we sent.
enum class ResponseCheck : uint8_t {
  Ok,
  Malformed,  // does not parse: counted as a network error of that upstream
  Mismatch,   // QR clear, wrong ID, or a different question (RFC 5452): ignore, count
};

/// What the forwarder and cache need to know about a checked upstream response.
struct ResponseInfo {
  uint16_t flags = 0;
  uint16_t rcode = 0;      // full rcode: header bits | (OPT extended bits << 4)
  bool truncated = false;  // TC set
  bool has_opt = false;
  size_t opt_offset = 0;     // offset of the OPT RR's owner name byte
  size_t opt_len = 0;        // its total length
  bool opt_is_last = false;  // OPT is the last RR of the message
  uint16_t ancount = 0;
  uint32_t min_ttl = 0;       // least TTL over all non-OPT RRs (0 if there are none)
  bool has_soa = false;       // an SOA in the authority section
  uint32_t negative_ttl = 0;  // RFC 2308 5: min(SOA TTL, SOA MINIMUM) of that SOA
  bool ecs_scoped = false;    // an ECS option with SCOPE PREFIX-LENGTH > 0: do not cache
  uint16_t ttl_count = 0;     // number of valid entries in ttl_offsets
  bool too_many_rrs = false;  // more than kMaxTtlOffsets non-OPT RRs: do not cache
  std::array<uint16_t, kMaxTtlOffsets> ttl_offsets{};  // offsets of each non-OPT RR's TTL
};

/// Checks an upstream response: length >= 12, QR set, ID == `expect_id`, exactly one
/// question equal (ASCII case-insensitively) to `q`'s name, type and class — else Mismatch.
/// Then walks every RR with bounds and compression checks, filling `out` — else Malformed.
/// A TC response with no/partial records is Ok with truncated = true.
[[nodiscard]] ResponseCheck analyzeResponse(std::span<const uint8_t> msg, uint16_t expect_id,
                                            const Query& q, ResponseInfo& out) noexcept;

/// Copies `msg` into `out` without its OPT RR when the OPT is the last RR (decrementing
/// ARCOUNT); otherwise copies unchanged. Returns the new length (0 if `out` is too small).
/// ttl_offsets stay valid because only trailing bytes are removed.
[[nodiscard]] size_t copyWithoutOpt(std::span<const uint8_t> msg, const ResponseInfo& info,
                                    std::span<uint8_t> out) noexcept;

/// Turns a stored answer (OPT stripped) sitting in `buf[0, len)` into the answer for client
/// query `q`, in place: sets the ID, restores the client's qname case at offset 12, copies
/// the client's RD and CD bits; appends an OPT (our_udp_size, DO echoed, `ede` if given) when
/// the client sent EDNS; and if the result exceeds `max_size` (the client's UDP limit, or
/// 65535 on TCP) replaces it with a header+question(+OPT) answer with TC set. Returns the
/// final length; 0 if even the truncated form does not fit `buf`.
[[nodiscard]] size_t finishAnswer(std::span<uint8_t> buf, size_t len, const Query& q,
                                  uint16_t our_udp_size, size_t max_size, const Ede* ede) noexcept;

/// Rewrites the TTL at each offset: ttl' = max(ttl - elapsed, 0), or `fixed` when
/// `use_fixed` (serve-stale answers carry stale_answer_ttl, RFC 8767 4).
void adjustTtls(std::span<uint8_t> msg, std::span<const uint16_t> offsets, uint32_t elapsed,
                bool use_fixed, uint32_t fixed) noexcept;

/// Header accessors.
inline uint16_t messageId(std::span<const uint8_t> m) noexcept {
  return readU16(m.data());
}
inline uint16_t messageFlags(std::span<const uint8_t> m) noexcept {
  return readU16(m.data() + 2);
}
inline uint8_t headerRcode(uint16_t flags) noexcept {
  return static_cast<uint8_t>(flags & 0xFU);
}

}  // namespace steadfast::wire
