// SPDX-License-Identifier: Apache-2.0
#include "resolver/app/health_control.h"

#include <algorithm>
#include <chrono>
#include <future>

#include "resolver/app/config.h"  // isUnionTier
#include "resolver/base/log.h"

namespace steadfast::app {
namespace {

template <class H>
void closeAndFree(H* h) {
  h->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(h),
           [](uv_handle_t* x) { delete reinterpret_cast<H*>(x); });
}

uint64_t msUntil(MonoTime now, MonoTime then) {
  if (then <= now) {
    return 0;
  }
  return static_cast<uint64_t>(std::chrono::duration_cast<Millis>(then - now).count()) + 1;
}

}  // namespace

HealthControl::HealthControl(uv_loop_t* loop, pipeline::RuntimeHolder& holder,
                             std::vector<pipeline::PassiveChannel*> channels)
    : loop_(loop), holder_(holder), channels_(std::move(channels)) {
  timer_ = new uv_timer_t{};
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  async_ = new uv_async_t{};
  uv_async_init(loop_, async_, [](uv_async_t* a) {
    if (a->data != nullptr) {
      static_cast<HealthControl*>(a->data)->drainPassive();
    }
  });
  async_->data = this;
  // The wake-up handle must not keep the control loop alive on its own: the loop ends when
  // the signal handles close, while workers (still draining) may still send wake-ups.
  uv_unref(reinterpret_cast<uv_handle_t*>(async_));
  for (auto* ch : channels_) {
    uv_async_t* a = async_;
    ch->setNotify([a] { uv_async_send(a); });
  }
}

HealthControl::~HealthControl() {
  shutdown();
  close();
}

void HealthControl::attach(std::shared_ptr<const pipeline::Runtime> runtime,
                           const failover::PlanConfig& plan) {
  if (shut_) {
    return;
  }
  checker_.reset();
  prober_.reset();
  // A reload keeps what is known: each upstream that is still there (same tier, same URI)
  // keeps its health, and the active tier keeps serving if it still can.
  std::map<std::pair<std::string, std::string>, failover::HealthState> known;
  std::string active_name;
  if (plan_ != nullptr && runtime_ != nullptr) {
    for (size_t u = 0; u < runtime_->upstreams.size() && u < plan_->upstreamCount(); ++u) {
      known[{runtime_->upstreams[u].tier, runtime_->upstreams[u].uri.text}] = plan_->health(u);
    }
    active_name = tierName(plan_->activeTier());
  }
  runtime_ = std::move(runtime);
  std::vector<failover::PlanTier> tiers;
  for (size_t t = 0; t < runtime_->tiers.size(); ++t) {
    tiers.push_back(failover::PlanTier{runtime_->tier_names[t], runtime_->tiers[t].policy,
                                       runtime_->tiers[t].count,
                                       t < plan.tiers.size() && isUnionTier(plan.tiers[t])});
  }
  const failover::HealthConfig& h = plan.health;
  plan_ =
      std::make_unique<failover::Plan>(std::move(tiers), failover::HealthThresholds{h.rise, h.fall},
                                       plan.failback, h.hold_down, clock_, this);
  std::vector<failover::UpstreamUri> uris;
  for (const auto& u : runtime_->upstreams) {
    uris.push_back(u.uri);
  }
  auto probe = upstream::makeProbeQuery(h.probe);
  if (!probe) {
    // The config reader validated it; fall back to the default rather than not probing.
    LOG_ERROR("health: probe '%s': %s; probing with '. NS'", h.probe.c_str(),
              probe.error().detail.c_str());
    probe = upstream::makeProbeQuery(". NS");
  }
  prober_ = std::make_unique<upstream::UpstreamProber>(
      loop_, std::move(uris), *probe, runtime_->config.edns_buffer_size, h.timeout,
      [this](size_t u, uint64_t id, failover::Outcome o, Nanos rtt) {
        if (u < runtime_->upstreams.size()) {
          runtime_->upstreams[u].stats->probes[static_cast<size_t>(o)].inc();
        }
        if (checker_ != nullptr) {
          checker_->onProbeResult(u, id, o, rtt);
          publish();
          rearm();
        }
      });
  (void)plan_->setUnionOnly(union_only_);  // crisis mode survives a reload
  checker_ = std::make_unique<failover::HealthChecker>(
      *plan_, failover::ProbeTiming{h.interval, h.timeout}, clock_, random_, *prober_);
  published_version_ = 0;
  publish();
  onTimer();  // the first probes go out now
}

void HealthControl::publish() {
  if (plan_ == nullptr || plan_->version() == published_version_) {
    return;
  }
  auto current = holder_.get();
  if (current == nullptr || current->plan_id != runtime_->plan_id) {
    return;  // a reload replaced the list; attach() follows
  }
  auto next = std::make_shared<pipeline::Runtime>(*current);
  auto snapshot = std::make_shared<failover::PlanSnapshot>(plan_->snapshot());
  snapshot->probe_wait.assign(plan_->upstreamCount(), Nanos{0});
  for (size_t u = 0; checker_ != nullptr && u < plan_->upstreamCount(); ++u) {
    const failover::RttEstimator& rtt = checker_->probeRtt(u);
    if (rtt.measured()) {
      snapshot->probe_wait[u] = rtt.hedgeWait(runtime_->hedge);
    }
  }
  next->plan = std::move(snapshot);
  published_version_ = plan_->version();
  holder_.publish(std::move(next));
}

void HealthControl::drainPassive() {
  std::deque<std::function<void()>> commands;
  {
    std::lock_guard lock(mu_);
    commands.swap(commands_);
  }
  for (auto& c : commands) {
    c();
  }
  if (plan_ == nullptr || shut_) {
    return;
  }
  const uint64_t id = runtime_->plan_id;
  for (auto* ch : channels_) {
    ch->drain([&](const pipeline::PassiveEvent& e) {
      if (e.plan_id == id) {
        plan_->record(e.upstream, e.outcome, failover::Signal::Passive);
      }
    });
  }
  publish();
  rearm();
}

void HealthControl::onTimer() {
  if (plan_ == nullptr || shut_) {
    return;
  }
  plan_->tick();
  publish();
  rearm();
}

void HealthControl::rearm() {
  if (checker_ == nullptr || shut_) {
    return;
  }
  const MonoTime next = std::min(checker_->poll(), plan_->nextDeadline());
  publish();  // poll() may have decided (a probe given up on)
  uv_timer_start(
      timer_,
      [](uv_timer_t* t) {
        if (t->data != nullptr) {
          static_cast<HealthControl*>(t->data)->onTimer();
        }
      },
      next == MonoTime::max() ? 60000 : msUntil(clock_.now(), next), 0);
}

void HealthControl::shutdown() {
  if (shut_) {
    return;
  }
  shut_ = true;
  checker_.reset();
  prober_.reset();
  if (timer_ != nullptr) {
    uv_timer_stop(timer_);
    closeAndFree(timer_);
    timer_ = nullptr;
  }
}

void HealthControl::close() {
  {
    std::lock_guard lock(mu_);
    accepting_ = false;  // no HTTP thread may touch the handle from here on
  }
  if (async_ != nullptr) {
    closeAndFree(async_);
    async_ = nullptr;
  }
}

HealthControl::CommandResult HealthControl::run(std::function<CommandResult()> fn) {
  auto promise = std::make_shared<std::promise<CommandResult>>();
  auto future = promise->get_future();
  {
    std::lock_guard lock(mu_);
    if (!accepting_ || async_ == nullptr) {
      return CommandResult{503, R"({"error":"steadfast is stopping"})"};
    }
    commands_.emplace_back([promise, fn = std::move(fn)] { promise->set_value(fn()); });
    uv_async_send(async_);
  }
  if (future.wait_for(std::chrono::seconds{2}) != std::future_status::ready) {
    return CommandResult{503, R"({"error":"the control loop did not answer within 2 s"})"};
  }
  return future.get();
}

std::string HealthControl::activeJson() const {
  return "\"active_tier\":\"" + tierName(plan_ != nullptr ? plan_->activeTier() : -1) + "\"";
}

HealthControl::CommandResult HealthControl::failback() {
  return run([this]() -> CommandResult {
    if (plan_ == nullptr || shut_) {
      return CommandResult{503, R"({"error":"no failover plan is running"})"};
    }
    const bool changed = plan_->failback();
    if (changed) {
      LOG_INFO("failback requested by an operator: tier '%s' serves",
               tierName(plan_->activeTier()).c_str());
    }
    publish();
    rearm();
    return CommandResult{200,
                         "{" + activeJson() + ",\"changed\":" + (changed ? "true" : "false") + "}"};
  });
}

HealthControl::CommandResult HealthControl::setUnionOnly(bool on, const std::string& who) {
  return run([this, on, who]() -> CommandResult {
    union_only_ = on;
    if (plan_ == nullptr || shut_) {
      return CommandResult{503, R"({"error":"no failover plan is running"})"};
    }
    const bool changed = plan_->setUnionOnly(on);
    LOG_INFO("crisis mode %s (by %s): tier '%s' serves", on ? "union-only" : "auto", who.c_str(),
             tierName(plan_->activeTier()).c_str());
    publish();
    rearm();
    return CommandResult{200,
                         "{" + activeJson() + ",\"changed\":" + (changed ? "true" : "false") + "}"};
  });
}

HealthControl::CommandResult HealthControl::drain(const std::string& uri, bool drain) {
  return run([this, uri, drain]() -> CommandResult {
    if (plan_ == nullptr || shut_) {
      return CommandResult{503, R"({"error":"no failover plan is running"})"};
    }
    size_t matched = 0;
    for (size_t u = 0; u < runtime_->upstreams.size(); ++u) {
      if (runtime_->upstreams[u].uri.text == uri) {
        (void)plan_->drain(u, drain);
        ++matched;
        LOG_INFO("upstream %s in tier '%s' %s by an operator", uri.c_str(),
                 runtime_->upstreams[u].tier.c_str(), drain ? "drained" : "undrained");
      }
    }
    if (matched == 0) {
      return CommandResult{404, "{\"error\":\"no upstream " + uri + " in the plan\"}"};
    }
    publish();
    rearm();
    return CommandResult{200, "{\"upstream\":\"" + uri + "\",\"drained\":" +
                                  (drain ? "true" : "false") + "," + activeJson() + "}"};
  });
}

std::map<std::pair<std::string, std::string>, uint64_t> HealthControl::failovers() const {
  std::lock_guard lock(mu_);
  return failovers_;
}

std::string HealthControl::tierName(int t) const {
  if (t < 0 || runtime_ == nullptr || static_cast<size_t>(t) >= runtime_->tier_names.size()) {
    return "none";
  }
  return runtime_->tier_names[static_cast<size_t>(t)];
}

void HealthControl::onHealthChange(size_t u, failover::Health from, failover::Health to,
                                   failover::Outcome last, failover::Signal s) {
  const auto& target = runtime_->upstreams.at(u);
  const char* how = s == failover::Signal::Probe ? "probe" : "passive";
  const std::string line = "health: " + target.uri.text + " in tier '" + target.tier +
                           "': " + std::string(failover::healthName(from)) + " -> " +
                           std::string(failover::healthName(to)) +
                           " (last: " + std::string(failover::outcomeName(last)) + ", " + how + ")";
  if (to == failover::Health::Unhealthy) {
    LOG_WARN("%s", line.c_str());
  } else {
    LOG_INFO("%s", line.c_str());
  }
}

void HealthControl::onTierChange(int from, int to, bool failback) {
  const std::string f = tierName(from);
  const std::string t = tierName(to);
  if (to < 0) {
    LOG_ERROR("failover: tier '%s' -> none: no tier has a usable upstream", f.c_str());
    return;
  }
  if (from < 0) {
    LOG_WARN("failover: tier none -> '%s': it has a usable upstream again", t.c_str());
    return;
  }
  {
    std::lock_guard lock(mu_);
    ++failovers_[{f, t}];
  }
  if (failback) {
    LOG_INFO("failback: tier '%s' -> '%s'", f.c_str(), t.c_str());
  } else {
    LOG_WARN("failover: tier '%s' -> '%s'", f.c_str(), t.c_str());
  }
}

}  // namespace steadfast::app
