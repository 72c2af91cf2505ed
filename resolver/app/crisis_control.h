// SPDX-License-Identifier: Apache-2.0
// CrisisControl: crisis mode in the running daemon. Owns the failover::CrisisState, loads
// [crisis] directive_public_key at start, polls the signed directive every
// directive_interval on a thread of its own (file:// and https://: a fetch may block for
// seconds and must not stall the control loop, whose timers drive the health probes), applies
// the effective mode to the plan through HealthControl::setUnionOnly (which runs it on the
// control loop), and keeps <[state] dir>/crisis.json (operator mode, replay guard, the
// directive in force) so that they survive a restart. The operator's mode
// (POST /api/v1/crisis) comes in on an HTTP thread. All public members are thread-safe.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/metric_family.h>

#include "failover/crisis.h"
#include "failover/plan_config.h"
#include "resolver/app/crisis_directive.h"
#include "resolver/app/health_control.h"
#include "resolver/base/clock.h"
#include "resolver/base/result.h"
#include "resolver/io/ed25519.h"

namespace steadfast::app {

/// Loads [crisis] directive_public_key (no URL: nothing to load). The error names the file.
Result<std::optional<io::Ed25519PublicKey>> loadDirectiveKey(const failover::CrisisConfig& c);

/// file:// through fetchFileUrl, https:// through io::fetchHttps (blocking; at most
/// kMaxDirectiveFetchBytes, a status other than 200 is an error).
Result<std::string> fetchDirectiveAny(const std::string& url);

/// Writes `body` to `path` atomically: PATH.tmp, fsync, rename, fsync of the directory.
Status writeFileAtomic(const std::string& path, const std::string& body);

class CrisisControl {
 public:
  CrisisControl(HealthControl& health, FetchFn fetch = fetchDirectiveAny);
  ~CrisisControl();
  CrisisControl(const CrisisControl&) = delete;
  CrisisControl& operator=(const CrisisControl&) = delete;

  /// Loads the key and <state_dir>/crisis.json and tells `health` the mode at start (call
  /// before HealthControl::attach). An unreadable or bad key or state file is an error naming
  /// the file (the daemon does not start).
  Status load(const failover::CrisisConfig& config, const std::string& state_dir);
  /// Starts the poll thread (a directive URL only); the first poll is at once.
  void start();
  void stop();

  /// The operator's mode (POST /api/v1/crisis). Returns the HTTP status and JSON body.
  struct Answer {
    int status = 200;
    std::string json;
  };
  Answer setOperator(failover::CrisisMode m, const std::string& who);

  [[nodiscard]] failover::CrisisMode effective() const;
  /// steadfast_crisis_mode{mode} and steadfast_crisis_directives_total{result}.
  void appendMetrics(std::vector<prometheus::MetricFamily>& out) const;

 private:
  void threadMain();
  void poll();
  /// With mu_ held: persists the state if it changed and applies a change of mode.
  void afterChangeLocked(const std::optional<failover::CrisisChange>& change);
  void persistLocked();

  HealthControl& health_;
  FetchFn fetch_;
  SystemClock clock_;
  failover::CrisisConfig config_;
  std::string state_path_;
  std::optional<io::Ed25519PublicKey> key_;

  mutable std::mutex mu_;  // guards everything below
  std::unique_ptr<failover::CrisisState> state_;
  std::string written_;  // the state file's content as last written or read
  std::array<uint64_t, failover::kDirectiveResultCount> results_{};
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace steadfast::app
