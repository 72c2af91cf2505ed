// SPDX-License-Identifier: Apache-2.0
#include "threatfeed/core/guards.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "threatfeed/core/names.h"

namespace steadfast::threatfeed {
namespace {

void note(GuardReport& r, std::string_view name, std::string_view why) {
  if (r.first_rejected.size() < kMaxReportedErrors) {
    r.first_rejected.push_back((name.empty() ? std::string{"."} : std::string{name}) + ": " +
                               std::string{why});
  }
}

}  // namespace

const char* verdictName(FeedVerdict v) noexcept {
  switch (v) {
    case FeedVerdict::Accepted:
      return "accepted";
    case FeedVerdict::RejectedMalformed:
      return "rejected_malformed";
    case FeedVerdict::RejectedTooLarge:
      return "rejected_too_large";
    case FeedVerdict::HeldShrink:
      return "held_shrink";
  }
  return "?";
}

PublicSuffixList PublicSuffixList::parse(std::string_view text) {
  PublicSuffixList psl;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      nl = text.size();
    }
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    // a rule is the first whitespace-free run of the line
    const size_t end = line.find_first_of(" \t\r");
    if (end != std::string_view::npos) {
      line = line.substr(0, end);
    }
    if (line.empty() || line.starts_with("//")) {
      continue;
    }
    if (line.starts_with("!")) {
      if (auto n = canonicalName(line.substr(1))) {
        psl.exception_.insert(*n);
      }
    } else if (line.starts_with("*.")) {
      if (auto n = canonicalName(line.substr(2))) {
        psl.wildcard_.insert(*n);
      }
    } else if (auto n = canonicalName(line)) {
      psl.exact_.insert(*n);
    }
    // IDN rules in UTF-8 fail canonicalName: feeds carry A-labels, so they never match anyway
  }
  return psl;
}

std::optional<PublicSuffixList> PublicSuffixList::loadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    return std::nullopt;
  }
  return parse(ss.str());
}

bool PublicSuffixList::isPublicSuffix(std::string_view name) const {
  if (labelCount(name) <= 1) {
    return true;
  }
  if (exception_.contains(std::string{name})) {
    return false;
  }
  const std::string key{name};
  if (exact_.contains(key)) {
    return true;
  }
  const size_t dot = name.find('.');
  return wildcard_.contains(std::string{name.substr(dot + 1)});
}

GuardReport applyGuards(FeedEntries& feed, const GuardConfig& config) {
  GuardReport r;
  const ParseStats& st = feed.stats;
  // the malformed share decides first: a mostly broken feed is not filtered but refused
  if (st.lines > 0 && static_cast<double>(st.malformed) >
                          config.max_malformed_share * static_cast<double>(st.lines)) {
    r.verdict = FeedVerdict::RejectedMalformed;
    r.accepted = 0;
    return r;
  }
  auto rejected = [&](const NameEntry& e) {
    if (e.name.empty()) {
      ++r.rejected_root;
      note(r, e.name, "the root");
      return true;
    }
    if (labelCount(e.name) == 1) {
      ++r.rejected_tld;
      note(r, e.name, "a top-level domain");
      return true;
    }
    if (config.public_suffixes != nullptr && config.public_suffixes->isPublicSuffix(e.name)) {
      ++r.rejected_public_suffix;
      note(r, e.name, "a public suffix");
      return true;
    }
    for (const std::string& p : config.protected_names) {
      const bool hits =
          e.match == Match::Exact ? p == e.name : (isAtOrBelow(p, e.name) && p != e.name);
      if (hits) {
        ++r.rejected_protected;
        note(r, e.name, "covers protected name " + p);
        return true;
      }
    }
    return false;
  };
  std::erase_if(feed.names, rejected);
  std::erase_if(feed.ips, [&](const IpEntry& e) {
    if (e.prefix_len < (e.v6 ? 16 : 8)) {
      ++r.rejected_broad_prefix;
      note(r, "rpz-ip/" + std::to_string(e.prefix_len), "prefix too broad");
      return true;
    }
    return false;
  });
  r.accepted = feed.size();
  if (r.accepted > config.max_entries) {
    r.verdict = FeedVerdict::RejectedTooLarge;
    return r;
  }
  if (config.previous_size && !config.operator_refresh && *config.previous_size > 0) {
    const double kept =
        static_cast<double>(r.accepted) / static_cast<double>(*config.previous_size);
    if (kept < 1.0 - config.max_shrink) {
      r.verdict = FeedVerdict::HeldShrink;
      return r;
    }
  }
  return r;
}

}  // namespace steadfast::threatfeed
