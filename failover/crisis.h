// SPDX-License-Identifier: Apache-2.0
// Crisis mode: `auto` (every tier) or `union-only` (only the union tier(s), then the last
// resort). The operator sets a mode ([crisis] mode, or at run time); a signed directive can
// override it until the directive expires. This file is the pure decision: it parses a
// directive document, decides whether a verified directive is accepted (expiry, replay) and
// what the effective mode is now. Signature checking and fetching live in resolver/io; the
// caller hands only directives whose signature verified.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "failover/plan_config.h"  // CrisisMode, CrisisConfig
#include "resolver/base/clock.h"
#include "resolver/base/result.h"

namespace steadfast::failover {

[[nodiscard]] std::string_view crisisModeName(CrisisMode m) noexcept;
[[nodiscard]] std::optional<CrisisMode> parseCrisisMode(std::string_view s) noexcept;

/// Who set the effective mode (spec/status.md's crisis_source).
enum class CrisisSource : uint8_t { Config, Operator, Directive };
[[nodiscard]] std::string_view crisisSourceName(CrisisSource s) noexcept;

/// A directive document: {"mode":..., "issued_at":..., "expires_at":..., "issuer":...,
/// "reason":...}. Times are Unix seconds (integers).
struct Directive {
  CrisisMode mode = CrisisMode::Auto;
  int64_t issuedAt = 0;
  int64_t expiresAt = 0;
  std::string issuer;
  std::string reason;
};

inline constexpr std::size_t kMaxDirectiveBytes = 4096;
inline constexpr std::size_t kMaxDirectiveTextBytes = 512;  // issuer, reason

/// Parses a directive. Never throws. Refuses bodies over kMaxDirectiveBytes, anything nested
/// (the document is one flat object), unknown or repeated keys, missing keys, non-integer
/// times, expires_at not after issued_at.
[[nodiscard]] Result<Directive> parseDirective(std::string_view body) noexcept;

/// The outcome of offering a directive (the metric label `result`).
enum class DirectiveResult : uint8_t {
  Accepted,
  Unsigned,      // no .sig
  BadSignature,  // signature did not verify (forged, wrong key)
  Expired,
  Replayed,  // issued_at not newer than the last accepted
  Malformed,
  FetchError,
};
inline constexpr std::size_t kDirectiveResultCount = 7;
[[nodiscard]] std::string_view directiveResultName(DirectiveResult r) noexcept;

/// What survives a restart ([state] dir/crisis.json).
struct CrisisPersisted {
  std::optional<CrisisMode> operatorMode;  // set at run time; overrides [crisis] mode
  int64_t lastIssuedAt = 0;                // of the last accepted directive (replay guard)
  std::optional<Directive> active;         // the accepted directive, while not expired
};

[[nodiscard]] std::string serializeCrisis(const CrisisPersisted& p);
[[nodiscard]] Result<CrisisPersisted> parseCrisisState(std::string_view body) noexcept;

/// A change of the effective mode, for the log line and the events list.
struct CrisisChange {
  CrisisMode from;
  CrisisMode to;
  CrisisSource source;
  std::string who;  // "config", "operator:<who>", "directive:<issuer>", "directive expired"
};

/// The decision. Not thread-safe: lives on the control loop.
class CrisisState {
 public:
  CrisisState(CrisisMode configMode, const CrisisPersisted& restored, Clock& clock);

  [[nodiscard]] CrisisMode effective() const noexcept { return effective_; }
  [[nodiscard]] CrisisSource source() const noexcept { return source_; }
  [[nodiscard]] CrisisMode operatorMode() const noexcept { return operator_; }
  [[nodiscard]] const std::optional<Directive>& activeDirective() const noexcept { return active_; }
  [[nodiscard]] CrisisPersisted persisted() const;

  /// The operator's mode (API, CLI). Returns the change of the effective mode, if any. An
  /// active directive still wins until it expires.
  std::optional<CrisisChange> setOperator(CrisisMode m, std::string_view who);

  /// Offers a directive whose signature verified. Accepted only if not expired and issued_at
  /// is newer than the last accepted one.
  DirectiveResult offer(const Directive& d, std::optional<CrisisChange>* change = nullptr);

  /// Drops an expired directive (call on every poll and timer). Returns the change, if any.
  std::optional<CrisisChange> tick();

 private:
  [[nodiscard]] int64_t nowUnix() const noexcept;
  std::optional<CrisisChange> recompute(std::string who);

  Clock& clock_;
  CrisisMode operator_;
  bool operatorSet_ = false;
  int64_t lastIssuedAt_ = 0;
  std::optional<Directive> active_;
  CrisisMode effective_;
  CrisisSource source_ = CrisisSource::Config;
};

}  // namespace steadfast::failover
