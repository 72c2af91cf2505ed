// SPDX-License-Identifier: Apache-2.0
#include "resolver/report/feed_metrics.h"

#include <string>
#include <utility>

namespace steadfast::report {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily makeFamily(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void add(MetricFamily& f, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f.type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
}

}  // namespace

void appendFeedFamilies(const pipeline::FeedStatsRegistry& feeds,
                        std::vector<prometheus::MetricFamily>& out) {
  MetricFamily blocked =
      makeFamily("steadfast_blocked_total",
                 "Queries a threat-feed rule matched, by feed and action.", MetricType::Counter);
  MetricFamily entries =
      makeFamily("steadfast_feed_entries", "Rules of the feed in the index that serves now.",
                 MetricType::Gauge);
  MetricFamily updates = makeFamily(
      "steadfast_feed_updates_total",
      "Feed loads by result: ok (published), unchanged, rejected (a guard held it back; the "
      "previous index stays), error (could not be read or parsed).",
      MetricType::Counter);
  MetricFamily last =
      makeFamily("steadfast_feed_last_success_timestamp_seconds",
                 "Unix time of the feed's last accepted update (0: none yet).", MetricType::Gauge);
  feeds.forEach([&](const pipeline::FeedStats& f) {
    for (size_t a = 0; a < pipeline::kBlockActions; ++a) {
      const auto action = static_cast<wire::BlockAction>(a);
      add(blocked,
          {ClientMetric::Label{"feed", f.name},
           ClientMetric::Label{"action", std::string(pipeline::blockActionName(action))}},
          static_cast<double>(f.blocked(action)));
    }
    add(entries, {ClientMetric::Label{"feed", f.name}},
        static_cast<double>(f.entries.load(std::memory_order_relaxed)));
    for (size_t r = 0; r < pipeline::kFeedUpdateResults; ++r) {
      const auto result = static_cast<pipeline::FeedUpdateResult>(r);
      add(updates,
          {ClientMetric::Label{"feed", f.name},
           ClientMetric::Label{"result", std::string(pipeline::feedUpdateResultName(result))}},
          static_cast<double>(f.updates[r].get()));
    }
    add(last, {ClientMetric::Label{"feed", f.name}},
        static_cast<double>(f.last_success_unix.load(std::memory_order_relaxed)));
  });
  out.push_back(std::move(blocked));
  out.push_back(std::move(entries));
  out.push_back(std::move(updates));
  out.push_back(std::move(last));
}

}  // namespace steadfast::report
