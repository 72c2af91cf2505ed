// SPDX-License-Identifier: Apache-2.0
// HealthState: the per-upstream state machine Unknown -> Healthy <-> Unhealthy with rise/fall
// hysteresis (Envoy's Transition vocabulary, dnsdist's "first result decides"). Pure value
// type: no clock, no I/O, no logging. Fed by active probes and passive signals alike, so it
// stays the single source of truth for "may this upstream get traffic".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace steadfast::failover {

enum class Health : uint8_t { Unknown, Healthy, Unhealthy };

/// Result of one record(): the state did not move, moved, or is on its way (a failure was
/// counted against a Healthy upstream, or a success for an Unhealthy one).
enum class Transition : uint8_t { Unchanged, Changed, ChangePending };

/// How one exchange with an upstream ended (cf. Knot's kr_selection_error). Everything but
/// Ok counts as a failure. Mismatch is reported by the data path only for a burst of
/// answers with the wrong ID or question (single ones are expected noise, RFC 5452).
enum class Outcome : uint8_t {
  Ok,
  Timeout,
  Network,
  Tls,
  Refused,
  ServFail,
  FormErr,
  NotImp,
  Mismatch,
  Malformed,
  kCount,
};
inline constexpr size_t kOutcomes = static_cast<size_t>(Outcome::kCount);

/// "ok", "timeout", "network", "tls", "refused", "servfail", "formerr", "notimp", "mismatch",
/// "malformed": the `kind` label of the metrics.
std::string_view outcomeName(Outcome o) noexcept;
/// "unknown", "healthy", "unhealthy".
std::string_view healthName(Health h) noexcept;

struct HealthThresholds {
  uint32_t rise = 3;  // consecutive successes that bring an Unhealthy upstream back
  uint32_t fall = 3;  // consecutive failures that take a Healthy upstream down
};

class HealthState {
 public:
  HealthState() noexcept = default;
  explicit HealthState(HealthThresholds t) noexcept;

  /// Counts one outcome. From Unknown the first outcome decides at once; afterwards `fall`
  /// consecutive failures make it Unhealthy and `rise` consecutive successes Healthy.
  [[nodiscard]] Transition record(Outcome o) noexcept;

  [[nodiscard]] Health health() const noexcept { return health_; }
  /// Unknown and Healthy upstreams may get traffic.
  [[nodiscard]] bool usable() const noexcept { return health_ != Health::Unhealthy; }
  /// A change is on its way: the health checker probes faster meanwhile.
  [[nodiscard]] bool pending() const noexcept;
  [[nodiscard]] uint32_t consecutiveSuccesses() const noexcept { return ok_; }
  [[nodiscard]] uint32_t consecutiveFailures() const noexcept { return fail_; }
  [[nodiscard]] const HealthThresholds& thresholds() const noexcept { return thresholds_; }
  /// New thresholds (a reload); the state and the counts so far are kept.
  void setThresholds(HealthThresholds t) noexcept;

 private:
  HealthThresholds thresholds_;
  Health health_ = Health::Unknown;
  uint32_t ok_ = 0;
  uint32_t fail_ = 0;
};

}  // namespace steadfast::failover
