// SPDX-License-Identifier: Apache-2.0
// Zone transfer client for RPZ feeds: AXFR (RFC 5936) and IXFR (RFC 1995) over TCP, message by
// message, each message TSIG-verified when a key is configured. XfrParser is the pure part (no
// sockets: unit-tested and fuzzed); transfer() does the TCP exchange with connect and total
// timeouts and blocks its thread, so it runs on a fetch thread, never on an event loop.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/base/clock.h"
#include "resolver/base/result.h"
#include "threatfeed/fetch/schedule.h"
#include "threatfeed/fetch/tsig.h"

namespace steadfast::fetch {

/// One record in presentation form, owner lower-cased: "a.rpz.example.", 1 (A), 300,
/// "192.0.2.1". Ordered so a zone is a set of them.
struct XfrRecord {
  std::string owner;
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::string rdata;
  auto operator<=>(const XfrRecord&) const = default;
  /// "owner ttl IN TYPE rdata" (a master-file line).
  [[nodiscard]] std::string toLine() const;
};

struct IxfrDiff {
  uint32_t from_serial = 0;
  uint32_t to_serial = 0;
  std::vector<XfrRecord> deleted;
  std::vector<XfrRecord> added;
};

struct XfrResult {
  enum class Kind : uint8_t { Full, Incremental, UpToDate } kind = Kind::Full;
  SoaTimers soa;
  XfrRecord soa_record;
  std::vector<XfrRecord> records;  // Full: every record but the SOA
  std::vector<IxfrDiff> diffs;     // Incremental, in order
};

/// A zone as the fetcher keeps it between transfers.
struct ZoneCopy {
  std::optional<uint32_t> serial;
  SoaTimers soa;
  XfrRecord soa_record;
  std::set<XfrRecord> records;  // without the SOA

  /// Applies a transfer result: Full replaces, Incremental applies each diff in order (a
  /// deletion of a record we do not have, or a diff not starting at our serial, is an error and
  /// leaves the copy unchanged), UpToDate keeps it.
  Status apply(const XfrResult& r);
  /// The zone as a master file ($ORIGIN-free absolute names), SOA first.
  [[nodiscard]] std::string toMasterFile() const;
  /// Reads what toMasterFile wrote (the store's copy).
  static Result<ZoneCopy> fromMasterFile(std::string_view text);
};

struct XfrLimits {
  size_t max_records = 5'000'000;
  size_t max_messages = 1'000'000;
};

/// Consumes the response messages of one transfer in order.
class XfrParser {
 public:
  /// `zone` as text ("rpz.example."); `query_id` of our request; `ixfr_from` the serial we
  /// asked an IXFR from (nullopt: AXFR); `verifier` when the transfer is TSIG-signed.
  XfrParser(std::string zone, uint16_t query_id, std::optional<uint32_t> ixfr_from,
            TsigStreamVerifier* verifier, XfrLimits limits = {});

  /// Feeds one message. Errc::Refused for REFUSED/NOTAUTH or a TSIG failure, Errc::Malformed
  /// for a broken or inconsistent transfer, Errc::Mismatch for a wrong ID or question,
  /// Errc::Truncated over the limits. `ixfrUnsupported()` tells whether to retry with AXFR.
  Status feed(std::span<const uint8_t> msg, uint64_t now_unix);
  [[nodiscard]] bool done() const noexcept { return done_; }
  /// The primary answered NOTIMP/FORMERR/REFUSED to our IXFR (not to an AXFR): ask AXFR.
  [[nodiscard]] bool ixfrUnsupported() const noexcept { return ixfr_unsupported_; }
  /// Valid once done().
  [[nodiscard]] const XfrResult& result() const noexcept { return result_; }

 private:
  Status onRecord(const XfrRecord& rr, const SoaTimers* soa);

  std::string zone_;
  uint16_t id_;
  std::optional<uint32_t> ixfr_from_;
  TsigStreamVerifier* verifier_;
  XfrLimits limits_;
  XfrResult result_;
  size_t messages_ = 0;
  size_t rr_count_ = 0;
  bool done_ = false;
  bool ixfr_unsupported_ = false;
  // IXFR walk: 0 before the first SOA, 1 after it, then deletions (2) / additions (3).
  int phase_ = 0;
  uint32_t new_serial_ = 0;
  IxfrDiff current_;
};

/// Builds the AXFR or IXFR query (IXFR carries our SOA in the authority section).
std::vector<uint8_t> buildXfrQuery(std::string_view zone, uint16_t id,
                                   std::optional<uint32_t> ixfr_from);

struct XfrTarget {
  std::string host;  // IP literal
  uint16_t port = 53;
  std::string zone;  // "rpz.example."
};

/// "axfr://HOST:PORT/ZONE" ([v6]:port allowed; the port defaults to 53).
Result<XfrTarget> parseAxfrUri(std::string_view uri);

struct XfrOptions {
  const TsigKey* key = nullptr;
  Nanos connect_timeout = std::chrono::seconds(5);
  Nanos total_timeout = std::chrono::seconds(120);
  XfrLimits limits;
};

/// One transfer over TCP: IXFR from `have` when given, else AXFR; when the primary cannot
/// serve IXFR, AXFR on a new connection. Blocks; run it off the event loops.
Result<XfrResult> transfer(const XfrTarget& target, std::optional<uint32_t> have,
                           const XfrOptions& options, const Clock& clock);

}  // namespace steadfast::fetch
