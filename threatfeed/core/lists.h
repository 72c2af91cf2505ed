// SPDX-License-Identifier: Apache-2.0
// Plain-list feed formats. Both accept LF or CRLF, a UTF-8 BOM, and any byte soup: a line
// that is not understood is counted as malformed, never fatal (the guards decide on the
// malformed share). Lines over kMaxLineBytes are malformed.
//   domains: one name per line; '#' starts a comment; an entry blocks the name and its
//            subdomains (two NameEntry: Exact and Subdomains), action FeedDefault.
//   hosts:   "ADDRESS NAME [NAME...]" with ADDRESS 0.0.0.0, 127.0.0.1, :: or ::1; '#'
//            comments; each NAME blocks that exact name; localhost-style names
//            (localhost, localhost.localdomain, local, broadcasthost, ip6-*) are ignored.
#pragma once

#include <string_view>

#include "threatfeed/core/feed_types.h"

namespace steadfast::threatfeed {

inline constexpr size_t kMaxLineBytes = 4096;

FeedEntries parseDomainList(std::string_view text);
FeedEntries parseHostsFile(std::string_view text);

}  // namespace steadfast::threatfeed
