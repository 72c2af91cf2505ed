// SPDX-License-Identifier: Apache-2.0
// When a feed is fetched next. After a success: the configured `refresh`, else the zone's SOA
// refresh, else a default. After a failure: exponential backoff from `initial_backoff`, capped
// by the SOA retry (when the SOA is known and `refresh` is not set) or `max_backoff`, with
// +-20% jitter so appliances fed by one hub do not retry in step. A NOTIFY makes the feed due
// at once. Pure: takes Clock& and Random&; the control loop asks nextAt() to arm its timer.
#pragma once

#include <cstdint>
#include <optional>

#include "resolver/base/clock.h"
#include "resolver/base/random.h"

namespace steadfast::fetch {

struct SoaTimers {
  uint32_t serial = 0;
  uint32_t refresh = 0;  // seconds
  uint32_t retry = 0;    // seconds
  uint32_t expire = 0;   // seconds
};

struct ScheduleConfig {
  std::optional<Nanos> refresh;  // `refresh` of the feed, when set
  Nanos default_refresh = std::chrono::minutes(5);
  Nanos min_interval = std::chrono::seconds(10);  // floor for any SOA-derived interval
  Nanos initial_backoff = std::chrono::seconds(2);
  Nanos max_backoff = std::chrono::minutes(5);
};

class FeedSchedule {
 public:
  FeedSchedule(const Clock& clock, Random& random, ScheduleConfig config);

  /// The first fetch is due at once (after the stored copy is loaded).
  [[nodiscard]] MonoTime nextAt() const noexcept { return next_; }
  [[nodiscard]] bool due() const noexcept { return clock_.now() >= next_; }
  [[nodiscard]] uint32_t failures() const noexcept { return failures_; }

  void onSuccess(const std::optional<SoaTimers>& soa);
  void onFailure(const std::optional<SoaTimers>& soa);
  /// An accepted NOTIFY or an operator refresh: due now.
  void refreshNow() noexcept { next_ = clock_.now(); }

  /// The base delay of the next retry after `failures` consecutive failures, before jitter.
  [[nodiscard]] Nanos backoffFor(uint32_t failures, const std::optional<SoaTimers>& soa) const;
  [[nodiscard]] Nanos refreshFor(const std::optional<SoaTimers>& soa) const;

 private:
  Nanos jitter(Nanos d);

  const Clock& clock_;
  Random& random_;
  ScheduleConfig config_;
  MonoTime next_;
  uint32_t failures_ = 0;
};

}  // namespace steadfast::fetch
