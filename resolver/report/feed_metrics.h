// SPDX-License-Identifier: Apache-2.0
// The threat-feed metric families (interface.md): steadfast_blocked_total{feed,action},
// steadfast_feed_entries{feed}, steadfast_feed_updates_total{feed,result} and
// steadfast_feed_last_success_timestamp_seconds{feed}, from the FeedStatsRegistry.
#pragma once

#include <vector>

#include <prometheus/metric_family.h>

#include "resolver/pipeline/feed_stats.h"

namespace steadfast::report {

/// Appends the feed families. Every configured feed shows every action and result (0 until
/// counted), so a rate() over them starts at the first scrape.
void appendFeedFamilies(const pipeline::FeedStatsRegistry& feeds,
                        std::vector<prometheus::MetricFamily>& out);

}  // namespace steadfast::report
