// SPDX-License-Identifier: Apache-2.0
// HealthControl: the failover plan on the control thread. Owns the failover::Plan, its
// HealthChecker and the UpstreamProber for the current upstream list, drains the workers'
// PassiveChannels into the plan, logs every state change and tier change, and publishes the
// plan's state as an immutable snapshot inside a new Runtime (RuntimeHolder), which workers
// pick up at their next batch with one atomic generation check (no lock per query).
// Control loop thread only, except failovers() (any thread).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <uv.h>

#include "failover/health_checker.h"
#include "failover/plan.h"
#include "failover/plan_config.h"
#include "resolver/base/clock.h"
#include "resolver/base/random.h"
#include "resolver/pipeline/passive.h"
#include "resolver/pipeline/runtime.h"
#include "resolver/pipeline/stats.h"
#include "resolver/upstream/prober.h"

namespace steadfast::app {

class HealthControl final : public failover::PlanObserver {
 public:
  HealthControl(uv_loop_t* loop, pipeline::RuntimeHolder& holder,
                std::vector<pipeline::PassiveChannel*> channels);
  ~HealthControl() override;
  HealthControl(const HealthControl&) = delete;
  HealthControl& operator=(const HealthControl&) = delete;

  /// Starts watching the upstreams of `runtime` (already published in the holder) with the
  /// plan settings of `plan`; replaces whatever was watched before (a reload). Every upstream
  /// starts Unknown and is probed at once.
  void attach(std::shared_ptr<const pipeline::Runtime> runtime, const failover::PlanConfig& plan);
  /// Stops probing and closes the timers; the passive wake-up handle stays until close().
  void shutdown();
  /// Closes the last handle. Call after the workers have stopped.
  void close();

  /// An operator command's answer: HTTP status and JSON body.
  struct CommandResult {
    int status = 200;
    std::string json;
  };
  /// Operator failback (POST /api/v1/failback): the best usable tier serves now, hold-down
  /// or not. Any thread; runs on the control loop and waits for it (bounded).
  CommandResult failback();
  /// Crisis mode (failover/crisis.h decides it): union-only uses only the union tiers (then
  /// the last resort). Kept across reloads. Any thread; runs on the control loop. `who` names
  /// the source for the log line.
  CommandResult setUnionOnly(bool on, const std::string& who);
  /// The crisis mode at start ([crisis] mode), before the first attach() and before the
  /// control loop runs.
  void startUnionOnly(bool on) noexcept { union_only_ = on; }
  /// Drains (or undrains) every upstream whose canonical URI is `uri`. Any thread.
  CommandResult drain(const std::string& uri, bool drain);

  /// Tier changes since start by (from, to) tier name, both directions. Any thread.
  [[nodiscard]] std::map<std::pair<std::string, std::string>, uint64_t> failovers() const;

  // failover::PlanObserver
  void onHealthChange(size_t u, failover::Health from, failover::Health to, failover::Outcome last,
                      failover::Signal s) override;
  void onTierChange(int from, int to, bool failback) override;

 private:
  void publish();
  void drainPassive();
  /// Runs `fn` on the control loop and waits up to 2 s for its result.
  CommandResult run(std::function<CommandResult()> fn);
  [[nodiscard]] std::string activeJson() const;
  void onTimer();
  void rearm();
  [[nodiscard]] std::string tierName(int t) const;

  uv_loop_t* loop_;
  pipeline::RuntimeHolder& holder_;
  std::vector<pipeline::PassiveChannel*> channels_;
  SystemClock clock_;
  FastRandom random_;
  std::shared_ptr<const pipeline::Runtime> runtime_;  // the list being watched
  std::unique_ptr<failover::Plan> plan_;
  std::unique_ptr<upstream::UpstreamProber> prober_;
  std::unique_ptr<failover::HealthChecker> checker_;
  uint64_t published_version_ = 0;
  uv_timer_t* timer_ = nullptr;  // heap: closed asynchronously
  uv_async_t* async_ = nullptr;
  bool shut_ = false;
  bool union_only_ = false;  // crisis mode, control loop only
  mutable std::mutex mu_;    // guards failovers_, commands_, accepting_
  std::map<std::pair<std::string, std::string>, uint64_t> failovers_;
  std::deque<std::function<void()>> commands_;
  bool accepting_ = true;
};

}  // namespace steadfast::app
