// SPDX-License-Identifier: Apache-2.0
#include "resolver/app/daemon.h"

#include <atomic>
#include <csignal>
#include <memory>
#include <sys/resource.h>
#include <thread>
#include <vector>

#include <systemd/sd-daemon.h>
#include <uv.h>

#include "resolver/app/crisis_control.h"
#include "resolver/app/feed_control.h"
#include "resolver/app/health_control.h"
#include "resolver/base/log.h"
#include "resolver/cache/packet_cache.h"
#include "resolver/listen/worker.h"
#include "resolver/pipeline/runtime.h"
#include "resolver/pipeline/stats.h"
#include "resolver/report/api_routes.h"
#include "resolver/report/core_routes.h"
#include "resolver/report/feed_metrics.h"
#include "resolver/report/http_server.h"
#include "resolver/report/metrics.h"

namespace steadfast::app {
namespace {

std::atomic<uint64_t> g_plan_ids{0};

std::shared_ptr<const pipeline::Runtime> buildRuntime(const Config& config,
                                                      pipeline::StatsRegistry& stats,
                                                      pipeline::BlockHolder& block) {
  auto rt = std::make_shared<pipeline::Runtime>();
  rt->config = config.pipeline;
  // The block stage runs only with feeds configured: without, a query pays one branch.
  rt->block = config.feeds.empty() ? nullptr : &block;
  for (const auto& tier : config.plan.tiers) {
    for (const auto& uri : tier.upstreams) {
      rt->upstreams.push_back(
          pipeline::UpstreamTarget{uri, tier.name, &stats.upstream(tier.name, uri.text)});
    }
  }
  if (rt->upstreams.empty()) {
    LOG_WARN("no usable upstream: every query will be answered from cache or with SERVFAIL");
  }
  rt->layoutTiers(config.plan.tiers);
  rt->plan_id = ++g_plan_ids;
  // The wait before the next candidate: RTT-derived, at least 50 ms, at most the probe
  // timeout (past it an upstream counts as timed out anyway), 100 ms before any answer.
  rt->hedge.ceiling = std::max<Nanos>(config.plan.health.timeout, rt->hedge.floor);
  return rt;
}

/// Every query in flight upstream holds a socket, every TCP client one more: take the hard
/// limit of open files as the soft one (as unbound and dnsdist do).
void raiseFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    const rlim_t before = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0) {
      LOG_DEBUG("open files limit raised from %llu to %llu",
                static_cast<unsigned long long>(before),
                static_cast<unsigned long long>(rl.rlim_max));
    }
  }
}

void applyLog(const LogConfig& cfg) {
  log::Level level = log::Level::Info;
  (void)log::parseLevel(cfg.level, level);
  log::configure(level, cfg.format == "json");
}

size_t workerCount(const Config& config) {
  if (config.listen.workers > 0) {
    return config.listen.workers;
  }
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

std::string listenText(const std::vector<SocketAddress>& addrs) {
  std::string out;
  for (const auto& a : addrs) {
    out += (out.empty() ? "" : ", ") + a.toString();
  }
  return out;
}

/// The operator API's view of the health control (report owns the interface).
class HealthPlanControl final : public report::PlanControl {
 public:
  HealthPlanControl(HealthControl& health, CrisisControl& crisis)
      : health_(health), crisis_(crisis) {}
  report::ApiResult failback() override {
    auto r = health_.failback();
    return report::ApiResult{r.status, std::move(r.json)};
  }
  report::ApiResult drain(const std::string& uri, bool drain) override {
    auto r = health_.drain(uri, drain);
    return report::ApiResult{r.status, std::move(r.json)};
  }
  report::ApiResult crisis(bool union_only) override {
    auto r = crisis_.setOperator(
        union_only ? failover::CrisisMode::UnionOnly : failover::CrisisMode::Auto, "api");
    return report::ApiResult{r.status, std::move(r.json)};
  }

 private:
  HealthControl& health_;
  CrisisControl& crisis_;
};

/// The API token of `config` ("" when no file is set: POST disabled). Error: the file named.
Result<std::string> apiToken(const Config& config) {
  if (config.report.api_token_file.empty()) {
    return std::string();
  }
  return report::loadApiToken(config.report.api_token_file);
}

struct Control {
  Config config;
  const ConfigLoader* reload = nullptr;
  pipeline::StatsRegistry* stats = nullptr;
  pipeline::RuntimeHolder* holder = nullptr;
  cache::PacketCache* cache = nullptr;
  listen::TcpBudget* tcp = nullptr;
  HealthControl* health = nullptr;
  FeedControl* feeds = nullptr;
  pipeline::BlockHolder* block = nullptr;
  report::HttpServer* http = nullptr;
  report::PlanControl* plan_control = nullptr;
  uv_signal_t sigterm{};
  uv_signal_t sigint{};
  uv_signal_t sighup{};
};

void doReload(Control& c) {
  (void)sd_notify(0, "RELOADING=1");
  try {
    Config next = (*c.reload)();
    if (!(next.listen.listen == c.config.listen.listen) ||
        next.listen.workers != c.config.listen.workers ||
        !(next.report.listen == c.config.report.listen)) {
      LOG_WARN("reload: listen addresses, workers and [report] listen change only on restart");
    }
    if (auto token = apiToken(next); token) {
      report::installApiRoutes(*c.http, report::ApiRoutes{c.plan_control, *token});
    } else {
      LOG_ERROR("reload: %s; the API keeps the token it had", token.error().detail.c_str());
    }
    // Feeds first: the new Runtime may switch the block stage on, and then it finds the
    // current policy (rebuilt for `next` on the feed build thread shortly).
    c.feeds->reload(next);
    auto rt = buildRuntime(next, *c.stats, *c.block);
    c.holder->publish(rt);
    c.health->attach(rt, next.plan);
    c.cache->setOptions(next.cache);
    c.tcp->max.store(next.listen.max_tcp_connections);
    c.tcp->idle_timeout_ms.store(
        std::chrono::duration_cast<Millis>(next.listen.tcp_idle_timeout).count());
    applyLog(next.log);
    next.listen.listen = c.config.listen.listen;
    next.listen.workers = c.config.listen.workers;
    next.report.listen = c.config.report.listen;
    c.config = std::move(next);
    LOG_INFO("reload: configuration from %s applied", c.config.file.c_str());
  } catch (const ConfigError& e) {
    LOG_ERROR("reload failed, keeping the running configuration: %s", e.what());
  }
  (void)sd_notify(0, "READY=1");
}

}  // namespace

int runDaemon(Config config, const ConfigLoader& reload) {
  applyLog(config.log);
  std::signal(SIGPIPE, SIG_IGN);
  raiseFileLimit();
  const size_t n = workerCount(config);

  pipeline::StatsRegistry stats(n);
  cache::CacheOptions cache_options = config.cache;
  cache_options.max_readers = n + 4;
  cache::PacketCache cache(cache_options);
  pipeline::RuntimeHolder holder;
  pipeline::BlockHolder block;
  pipeline::FeedStatsRegistry feed_stats(n);
  SystemClock feed_clock;
  // Every feed is loaded before the first query is served: blocking is on from the start.
  // Later updates are built on the FeedControl's own thread (feed_control.h says why).
  FeedControl feeds(block, feed_stats, feed_clock);
  feeds.start(config);
  auto runtime = buildRuntime(config, stats, block);
  holder.publish(runtime);
  for (const std::string& w : configWarnings(config)) {
    LOG_WARN("%s", w.c_str());
  }
  listen::TcpBudget tcp;
  tcp.max.store(config.listen.max_tcp_connections);
  tcp.idle_timeout_ms.store(
      std::chrono::duration_cast<Millis>(config.listen.tcp_idle_timeout).count());

  std::vector<std::unique_ptr<pipeline::PassiveChannel>> channels;
  std::vector<pipeline::PassiveChannel*> channel_ptrs;
  for (size_t i = 0; i < n; ++i) {
    channels.push_back(std::make_unique<pipeline::PassiveChannel>());
    channel_ptrs.push_back(channels.back().get());
  }
  // The control loop exists before the workers: the health control on it receives their
  // passive signals from the first query on.
  uv_loop_t loop;
  uv_loop_init(&loop);
  HealthControl health(&loop, holder, channel_ptrs);
  // Ends the control loop before any worker ran (a start that fails): returns `code`.
  const auto abandonStart = [&health, &loop](int code) {
    health.shutdown();
    health.close();
    uv_run(&loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&loop);
    return code;
  };

  std::vector<std::unique_ptr<listen::Worker>> workers;
  for (size_t i = 0; i < n; ++i) {
    workers.push_back(std::make_unique<listen::Worker>(i, cache, holder, stats.worker(i), tcp,
                                                       channels[i].get()));
    auto bound = workers.back()->bind(config.listen.listen);
    if (!bound) {
      LOG_ERROR("%s", bound.error().detail.c_str());
      return abandonStart(kExitCannotBind);
    }
  }

  report::MetricsCollector metrics(stats);
  metrics.setCacheSize([&cache] {
    return report::CacheSize{static_cast<double>(cache.entries()),
                             static_cast<double>(cache.bytes()), cache.insertsSkipped()};
  });
  report::HttpServerOptions http_options;
  http_options.listen = config.report.listen;
  http_options.log = [](std::string_view m) {
    LOG_WARN("http: %.*s", static_cast<int>(m.size()), m.data());
  };
  report::HttpServer http(http_options);
  report::CoreRoutes routes;
  routes.metrics = &metrics;
  metrics.addSource([&holder, &health](std::vector<prometheus::MetricFamily>& out) {
    report::appendPlanFamilies(holder.get(), health.failovers(), out);
  });
  metrics.addSource([&feed_stats](std::vector<prometheus::MetricFamily>& out) {
    report::appendFeedFamilies(feed_stats, out);
  });
  // Listeners are bound by now: ready while some tier has a usable upstream, or the last
  // resort is enabled (it answers when no tier can).
  routes.ready = [&holder] {
    auto rt = holder.get();
    if (rt == nullptr) {
      return false;
    }
    if (rt->config.last_resort.enabled) {
      return true;
    }
    if (rt->upstreams.empty()) {
      return false;
    }
    return rt->plan == nullptr || rt->plan->anyUsable();
  };
  report::installCoreRoutes(http, routes);
  auto token = apiToken(config);
  if (!token) {
    LOG_ERROR("%s", token.error().detail.c_str());
    return abandonStart(kExitBadConfig);
  }
  CrisisControl crisis(health);
  if (auto loaded = crisis.load(config.plan.crisis, config.state.dir); !loaded) {
    LOG_ERROR("%s", loaded.error().detail.c_str());
    return abandonStart(kExitBadConfig);
  }
  metrics.addSource(
      [&crisis](std::vector<prometheus::MetricFamily>& out) { crisis.appendMetrics(out); });
  HealthPlanControl plan_control(health, crisis);
  report::installApiRoutes(http, report::ApiRoutes{&plan_control, *token});
  if (auto started = http.start(); !started) {
    LOG_ERROR("%s", started.error().detail.c_str());
    return abandonStart(kExitCannotBind);
  }
  // crisis.load() told the health control the mode at start (config, operator or directive).
  health.attach(runtime, config.plan);
  crisis.start();

  for (auto& w : workers) {
    w->start();
  }
  LOG_INFO("ready: dns on %s (udp, tcp), %zu worker%s; http on %s (/metrics, /healthz)",
           listenText(config.listen.listen).c_str(), n, n == 1 ? "" : "s",
           http.localAddress().toString().c_str());
  (void)sd_notify(0, "READY=1");

  Control control;
  control.config = std::move(config);
  control.reload = &reload;
  control.stats = &stats;
  control.holder = &holder;
  control.cache = &cache;
  control.tcp = &tcp;
  control.health = &health;
  control.feeds = &feeds;
  control.block = &block;
  control.http = &http;
  control.plan_control = &plan_control;
  for (uv_signal_t* s : {&control.sigterm, &control.sigint, &control.sighup}) {
    uv_signal_init(&loop, s);
    s->data = &control;
  }
  auto on_stop = [](uv_signal_t* s, int signum) {
    auto* c = static_cast<Control*>(s->data);
    LOG_INFO("signal %d: draining and stopping", signum);
    c->health->shutdown();
    uv_close(reinterpret_cast<uv_handle_t*>(&c->sigterm), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&c->sigint), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&c->sighup), nullptr);
  };
  uv_signal_start(&control.sigterm, on_stop, SIGTERM);
  uv_signal_start(&control.sigint, on_stop, SIGINT);
  uv_signal_start(
      &control.sighup, [](uv_signal_t* s, int) { doReload(*static_cast<Control*>(s->data)); },
      SIGHUP);
  uv_run(&loop, UV_RUN_DEFAULT);  // returns when the signal handles are closed

  (void)sd_notify(0, "STOPPING=1");
  for (auto& w : workers) {
    w->requestStop();
  }
  for (auto& w : workers) {
    w->join();
  }
  crisis.stop();
  health.close();  // no worker can wake it any more
  feeds.stop();
  uv_run(&loop, UV_RUN_DEFAULT);
  (void)uv_loop_close(&loop);
  http.stop();
  LOG_INFO("stopped");
  return kExitOk;
}

}  // namespace steadfast::app
