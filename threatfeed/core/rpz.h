// SPDX-License-Identifier: Apache-2.0
// Response Policy Zones for a forwarder (draft-vixie-dnsop-dns-rpz, features.md §3).
//
// RpzBuilder holds a zone's records (owner, type, wire rdata) and turns them into
// FeedEntries. The zone-file parser feeds it record by record, and so do AXFR (add every
// record) and IXFR (remove the deleted, add the added) from threatfeed/fetch, so all sources
// share one interpretation:
//   QNAME triggers   NAME.ORIGIN (Exact) and *.NAME.ORIGIN (Subdomains)
//   response IP      PREFIXLEN.REVERSED-ADDRESS.rpz-ip.ORIGIN (v4: 4 octets; v6: 8 hex
//                    words, "zz" for one run of zero words)
//   actions          CNAME . = NXDOMAIN, CNAME *. = NODATA, CNAME rpz-passthru. = PASSTHRU,
//                    CNAME rpz-drop. = DROP, CNAME rpz-tcp-only. = TCP-only; A, AAAA, TXT and
//                    any other CNAME target = local data
//   unsupported      rpz-nsdname, rpz-nsip, rpz-client-ip triggers and RR types other than
//                    A/AAAA/CNAME/TXT at a trigger (counted in stats.unsupported, skipped)
// SOA and NS at the apex are zone bookkeeping (the SOA serial is kept).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "threatfeed/core/feed_types.h"

namespace steadfast::threatfeed {

inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypeNs = 2;
inline constexpr uint16_t kTypeCname = 5;
inline constexpr uint16_t kTypeSoa = 6;
inline constexpr uint16_t kTypeTxt = 16;
inline constexpr uint16_t kTypeAaaa = 28;

class RpzBuilder {
 public:
  /// `origin`: the zone name, canonical (see names.h).
  explicit RpzBuilder(std::string origin);

  const std::string& origin() const noexcept { return origin_; }

  /// Adds one record. `owner` is an absolute name in presentation form (any case, trailing dot
  /// optional); `rdata` is wire form with uncompressed names. A malformed record (bad owner,
  /// owner outside the zone, rdata not matching its type) is counted and ignored: false.
  /// Adding a record already present is a no-op.
  bool add(std::string_view owner, uint16_t type, std::span<const uint8_t> rdata);
  /// Removes one record (IXFR deletion). False when it was not there (counted as malformed).
  bool remove(std::string_view owner, uint16_t type, std::span<const uint8_t> rdata);
  /// Drops every record (a full AXFR replaces the zone); stats are reset too.
  void clear();

  /// Records held now.
  size_t records() const noexcept { return records_; }
  /// The apex SOA serial, if a SOA was added.
  std::optional<uint32_t> serial() const noexcept { return serial_; }
  /// Counts of add()/remove() so far (lines = records offered).
  ParseStats& stats() noexcept { return stats_; }
  const ParseStats& stats() const noexcept { return stats_; }

  /// Interprets the records held now. stats = this builder's stats plus unsupported triggers.
  FeedEntries build() const;

 private:
  void error(std::string_view what);

  std::string origin_;
  // owner relative to the origin ("" = apex) -> its records
  std::unordered_map<std::string, std::vector<LocalRecord>> by_owner_;
  size_t records_ = 0;
  std::optional<uint32_t> serial_;
  ParseStats stats_;
};

struct RpzZone {
  std::string origin;
  std::optional<uint32_t> serial;
  FeedEntries entries;
};

/// Parses an RPZ zone in master-file format (RFC 1035 §5: $ORIGIN, $TTL, relative names, '@',
/// blank owners, ';' comments, parentheses, quoted strings; CRLF and a BOM accepted; $INCLUDE
/// and $GENERATE refused as malformed). `origin` is the zone name when known (else the first
/// $ORIGIN or SOA owner). Never throws; problems are counted in entries.stats.
RpzZone parseRpzZone(std::string_view text, std::string_view origin = "");

/// Feeds `text` into `builder` (the same rules as parseRpzZone, with builder.origin() as the
/// initial $ORIGIN).
void loadRpzText(std::string_view text, RpzBuilder& builder);

}  // namespace steadfast::threatfeed
