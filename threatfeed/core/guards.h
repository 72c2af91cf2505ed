// SPDX-License-Identifier: Apache-2.0
// Guards: a hostile or broken feed must not take the network down. Pure functions over a
// parsed feed, returning a verdict and counts; the caller logs the first few rejections,
// exports the counts and, on any verdict other than Accepted, keeps the previous index.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "threatfeed/core/feed_types.h"

namespace steadfast::threatfeed {

inline constexpr const char* kDebianPublicSuffixList =
    "/usr/share/publicsuffix/public_suffix_list.dat";

/// The Public Suffix List (publicsuffix.org format: one rule a line, "//" comments, "*."
/// wildcards, "!" exceptions). Only rules matter, not the ICANN/private split: both kinds are
/// suffixes under which unrelated parties register names.
class PublicSuffixList {
 public:
  static PublicSuffixList parse(std::string_view text);
  /// Reads a file; nullopt when it cannot be read.
  static std::optional<PublicSuffixList> loadFile(const std::string& path);

  /// True for the root, any single label (a TLD, listed or not) and any public suffix.
  bool isPublicSuffix(std::string_view canonical) const;
  size_t rules() const noexcept { return exact_.size() + wildcard_.size(); }

 private:
  std::unordered_set<std::string> exact_;      // "co.uk"
  std::unordered_set<std::string> wildcard_;   // "ck" for "*.ck"
  std::unordered_set<std::string> exception_;  // "www.ck" for "!www.ck"
};

struct GuardConfig {
  const PublicSuffixList* public_suffixes = nullptr;  // nullptr: root and TLDs only
  /// Names that must keep resolving: upstream host names, feed source hosts, report sinks
  /// (canonical). A rule that would block one of them is rejected.
  std::vector<std::string> protected_names;
  uint64_t max_entries = 5000000;
  double max_shrink = 0.5;                // share of the previous size an update may lose
  std::optional<uint64_t> previous_size;  // entries of the feed now in use, if any
  bool operator_refresh = false;          // an operator asked for this update: no shrink hold
  double max_malformed_share = 0.05;
};

enum class FeedVerdict : uint8_t {
  Accepted,           // use it (guarded entries already removed)
  RejectedMalformed,  // malformed share over max_malformed_share
  RejectedTooLarge,   // more than max_entries after filtering
  HeldShrink,         // shrinks by more than max_shrink: held until an operator refresh
};
const char* verdictName(FeedVerdict v) noexcept;

struct GuardReport {
  FeedVerdict verdict = FeedVerdict::Accepted;
  uint64_t rejected_root = 0;
  uint64_t rejected_tld = 0;
  uint64_t rejected_public_suffix = 0;
  uint64_t rejected_protected = 0;
  uint64_t rejected_broad_prefix = 0;       // rpz-ip prefixes shorter than /8 (v4) or /16 (v6)
  uint64_t accepted = 0;                    // entries left
  std::vector<std::string> first_rejected;  // up to kMaxReportedErrors, "NAME: why"
  uint64_t rejectedEntries() const noexcept {
    return rejected_root + rejected_tld + rejected_public_suffix + rejected_protected +
           rejected_broad_prefix;
  }
};

/// Removes guarded entries from `feed` in place and decides whether the rest may be used.
GuardReport applyGuards(FeedEntries& feed, const GuardConfig& config);

}  // namespace steadfast::threatfeed
