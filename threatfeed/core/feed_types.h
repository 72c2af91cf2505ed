// SPDX-License-Identifier: Apache-2.0
// What every feed parser produces: entries (a trigger name or address prefix, how it matches,
// what to do) and counts. Names are canonical: lowercase presentation form, no trailing dot,
// "" for the root.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace steadfast::threatfeed {

enum class Action : uint8_t {
  FeedDefault,  // domains/hosts entries: the feed's `action` (or [policy] default_action)
  Nxdomain,     // RPZ CNAME .
  Nodata,       // RPZ CNAME *.
  Passthru,     // RPZ rpz-passthru.: matched, not blocked (stops lower feeds)
  Drop,         // RPZ rpz-drop.
  TcpOnly,      // RPZ rpz-tcp-only.
  LocalData,    // RPZ local data (A/AAAA/CNAME/TXT records)
};
const char* actionName(Action a) noexcept;

enum class Match : uint8_t {
  Exact,       // the name itself only
  Subdomains,  // strict subdomains only (RPZ "*.name")
};

/// One local-data record: rdata in wire form (A: 4 bytes, AAAA: 16, CNAME: the uncompressed
/// lowercase wire name, TXT: character-strings).
struct LocalRecord {
  uint16_t type = 0;
  std::string rdata;
  bool operator==(const LocalRecord&) const = default;
};

struct NameEntry {
  std::string name;  // canonical
  Match match = Match::Exact;
  Action action = Action::FeedDefault;
  std::vector<LocalRecord> local;  // LocalData only
};

/// An rpz-ip response-IP trigger: answer addresses within addr/prefix_len.
struct IpEntry {
  bool v6 = false;
  std::array<uint8_t, 16> addr{};  // v4 in the first 4 bytes; host bits zero
  uint8_t prefix_len = 0;
  Action action = Action::FeedDefault;
  std::vector<LocalRecord> local;
};

struct ParseStats {
  uint64_t lines = 0;        // lines (lists) or records (RPZ) looked at, blanks/comments excluded
  uint64_t malformed = 0;    // unparseable lines/records, bad names
  uint64_t unsupported = 0;  // valid but not applicable to a forwarder (rpz-nsdname, rpz-nsip,
                             // unknown RR types in an RPZ zone)
  uint64_t ignored = 0;      // deliberately skipped (localhost entries in hosts files, SOA/NS)
  std::vector<std::string> first_errors;  // up to kMaxReportedErrors, "LINE: what"
};
inline constexpr size_t kMaxReportedErrors = 5;

/// A parsed feed, before guards.
struct FeedEntries {
  std::vector<NameEntry> names;
  std::vector<IpEntry> ips;
  ParseStats stats;
  size_t size() const noexcept { return names.size() + ips.size(); }
};

}  // namespace steadfast::threatfeed
