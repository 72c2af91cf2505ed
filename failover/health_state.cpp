// SPDX-License-Identifier: Apache-2.0
#include "failover/health_state.h"

#include <algorithm>
#include <array>

namespace steadfast::failover {

std::string_view outcomeName(Outcome o) noexcept {
  static constexpr std::array<std::string_view, kOutcomes> kNames = {
      "ok",       "timeout", "network", "tls",      "refused",
      "servfail", "formerr", "notimp",  "mismatch", "malformed"};
  const auto i = static_cast<size_t>(o);
  return i < kNames.size() ? kNames[i] : "unknown";
}

std::string_view healthName(Health h) noexcept {
  switch (h) {
    case Health::Unknown:
      return "unknown";
    case Health::Healthy:
      return "healthy";
    case Health::Unhealthy:
      return "unhealthy";
  }
  return "unknown";
}

HealthState::HealthState(HealthThresholds t) noexcept : thresholds_(t) {
  thresholds_.rise = std::max<uint32_t>(1, thresholds_.rise);
  thresholds_.fall = std::max<uint32_t>(1, thresholds_.fall);
}

void HealthState::setThresholds(HealthThresholds t) noexcept {
  thresholds_.rise = std::max<uint32_t>(1, t.rise);
  thresholds_.fall = std::max<uint32_t>(1, t.fall);
}

bool HealthState::pending() const noexcept {
  return (health_ == Health::Healthy && fail_ > 0) || (health_ == Health::Unhealthy && ok_ > 0);
}

Transition HealthState::record(Outcome o) noexcept {
  // Saturating counters: only the comparison with rise/fall matters.
  constexpr uint32_t kCap = 1U << 30U;
  if (o == Outcome::Ok) {
    ok_ = std::min(ok_ + 1, kCap);
    fail_ = 0;
  } else {
    fail_ = std::min(fail_ + 1, kCap);
    ok_ = 0;
  }
  switch (health_) {
    case Health::Unknown:
      health_ = o == Outcome::Ok ? Health::Healthy : Health::Unhealthy;
      return Transition::Changed;
    case Health::Healthy:
      if (fail_ == 0) {
        return Transition::Unchanged;
      }
      if (fail_ >= thresholds_.fall) {
        health_ = Health::Unhealthy;
        return Transition::Changed;
      }
      return Transition::ChangePending;
    case Health::Unhealthy:
      if (ok_ == 0) {
        return Transition::Unchanged;
      }
      if (ok_ >= thresholds_.rise) {
        health_ = Health::Healthy;
        return Transition::Changed;
      }
      return Transition::ChangePending;
  }
  return Transition::Unchanged;
}

}  // namespace steadfast::failover
