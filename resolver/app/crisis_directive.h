// SPDX-License-Identifier: Apache-2.0
// One poll of the signed crisis directive: fetch URL and URL + ".sig" (through an injected
// fetch function), verify the detached Ed25519 signature, parse, offer to the CrisisState.
// CrisisControl (crisis_control.h) calls it on its poll thread, with fetchDirectiveAny
// (file:// and https://).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "failover/crisis.h"
#include "resolver/base/result.h"
#include "resolver/io/ed25519.h"

namespace steadfast::app {

using FetchFn = std::function<Result<std::string>(const std::string& url)>;

inline constexpr std::size_t kMaxDirectiveFetchBytes = 8192;

/// file:// URLs (absolute paths) only, at most kMaxDirectiveFetchBytes.
Result<std::string> fetchFileUrl(const std::string& url);
/// file:// through fetchFileUrl; https:// is refused here (the daemon fetches it with
/// fetchDirectiveAny in crisis_control.h, which links the HTTPS client).
Result<std::string> fetchDirectiveUrl(const std::string& url);

struct DirectiveCheck {
  failover::DirectiveResult result = failover::DirectiveResult::FetchError;
  std::string detail;                            // why, for the log line
  std::optional<failover::CrisisChange> change;  // set when the effective mode changed
};

DirectiveCheck checkDirective(const std::string& url, const io::Ed25519PublicKey& key,
                              const FetchFn& fetch, failover::CrisisState& state);

}  // namespace steadfast::app
