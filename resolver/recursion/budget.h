// SPDX-License-Identifier: Apache-2.0
// How much time the last resort gets for one client query (see docs/architecture.md,
// "The last resort"). Pure: the pipeline passes the times in.
#pragma once

#include "resolver/base/clock.h"

namespace steadfast::recursion {

/// Why the pipeline turns to the last resort.
enum class LastResortReason : uint8_t {
  NoTierUsable,  // no tier has a usable upstream: recursion starts at once
  TiersFailed,   // every candidate failed or timed out within the query budget
};

/// The shortest recursion worth starting: below it a cold walk from the root cannot finish.
inline constexpr Nanos kMinRecursionTime = Millis{400};

/// The deadline of the last-resort recursion for a query that started at `started` and turns
/// to the last resort at `now`, with the configured `query_budget`.
/// - NoTierUsable: the whole query budget, from now (nothing was spent on the tiers).
/// - TiersFailed: what is left of the budget, but at least kMinRecursionTime and never more
///   than one query budget past its end: a client (stub resolvers retry after 1-5 s) still
///   waits, and a late answer beats a SERVFAIL, but the total stays within twice the budget.
[[nodiscard]] constexpr MonoTime lastResortDeadline(LastResortReason why, MonoTime started,
                                                    MonoTime now, Nanos query_budget) noexcept {
  if (why == LastResortReason::NoTierUsable) {
    return now + query_budget;
  }
  const MonoTime budget_end = started + query_budget;
  MonoTime deadline = budget_end > now ? budget_end : now;
  if (deadline - now < kMinRecursionTime) {
    deadline = now + kMinRecursionTime;
  }
  const MonoTime cap = budget_end + query_budget;
  return deadline < cap ? deadline : (cap > now ? cap : now);
}

/// What answers a query that every tier failed, in order (DESIGN.md "The three tiers").
enum class FallbackStep : uint8_t { Stale, LastResort, ServFail };

/// The next step after `done` (or the first when `first`): stale if serve_stale and a stale
/// entry exists, then the last resort if enabled, then SERVFAIL.
[[nodiscard]] constexpr FallbackStep firstFallback(bool have_stale, bool last_resort) noexcept {
  if (have_stale) {
    return FallbackStep::Stale;
  }
  return last_resort ? FallbackStep::LastResort : FallbackStep::ServFail;
}

}  // namespace steadfast::recursion
