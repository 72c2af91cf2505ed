// SPDX-License-Identifier: Apache-2.0
#include "resolver/app/daemon.h"

#include <csignal>
#include <memory>
#include <sys/resource.h>
#include <thread>
#include <vector>

#include <systemd/sd-daemon.h>
#include <uv.h>

#include "resolver/base/log.h"
#include "resolver/cache/packet_cache.h"
#include "resolver/listen/worker.h"
#include "resolver/pipeline/runtime.h"
#include "resolver/pipeline/stats.h"
#include "resolver/report/core_routes.h"
#include "resolver/report/http_server.h"
#include "resolver/report/metrics.h"

namespace steadfast::app {
namespace {

std::shared_ptr<const pipeline::Runtime> buildRuntime(const Config& config,
                                                      pipeline::StatsRegistry& stats) {
  auto rt = std::make_shared<pipeline::Runtime>();
  rt->config = config.pipeline;
  for (const auto& tier : config.plan.tiers) {
    if (tier.policy != failover::SelectionPolicyKind::Ordered) {
      LOG_WARN("tier '%s': policy '%s' is not implemented yet; upstreams are tried in order",
               tier.name.c_str(), std::string(failover::policyName(tier.policy)).c_str());
    }
    for (const auto& uri : tier.upstreams) {
      if (uri.transport == failover::UpstreamTransport::Tls) {
        // Never send plain DNS to a DoT port: until DoT lands, such upstreams are left out.
        LOG_WARN("tier '%s': %s skipped: DNS over TLS upstreams are not implemented yet",
                 tier.name.c_str(), uri.text.c_str());
        continue;
      }
      rt->upstreams.push_back(
          pipeline::UpstreamTarget{uri, tier.name, &stats.upstream(tier.name, uri.text)});
    }
  }
  if (rt->upstreams.empty()) {
    LOG_WARN("no usable upstream: every query will be answered from cache or with SERVFAIL");
  }
  rt->attempt_timeout = pipeline::attemptTimeoutFor(config.pipeline.query_budget);
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

struct Control {
  Config config;
  const ConfigLoader* reload = nullptr;
  pipeline::StatsRegistry* stats = nullptr;
  pipeline::RuntimeHolder* holder = nullptr;
  cache::PacketCache* cache = nullptr;
  listen::TcpBudget* tcp = nullptr;
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
    c.holder->publish(buildRuntime(next, *c.stats));
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
  holder.publish(buildRuntime(config, stats));
  listen::TcpBudget tcp;
  tcp.max.store(config.listen.max_tcp_connections);
  tcp.idle_timeout_ms.store(
      std::chrono::duration_cast<Millis>(config.listen.tcp_idle_timeout).count());

  std::vector<std::unique_ptr<listen::Worker>> workers;
  for (size_t i = 0; i < n; ++i) {
    workers.push_back(std::make_unique<listen::Worker>(i, cache, holder, stats.worker(i), tcp));
    auto bound = workers.back()->bind(config.listen.listen);
    if (!bound) {
      LOG_ERROR("%s", bound.error().detail.c_str());
      return kExitCannotBind;
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
  // Listeners are bound by now; until health checks land, "some tier can answer" means some
  // usable upstream is configured (spec/interface.md /readyz).
  routes.ready = [&holder] {
    auto rt = holder.get();
    return rt != nullptr && !rt->upstreams.empty();
  };
  report::installCoreRoutes(http, routes);
  if (auto started = http.start(); !started) {
    LOG_ERROR("%s", started.error().detail.c_str());
    return kExitCannotBind;
  }

  for (auto& w : workers) {
    w->start();
  }
  LOG_INFO("ready: dns on %s (udp, tcp), %zu worker%s; http on %s (/metrics, /healthz)",
           listenText(config.listen.listen).c_str(), n, n == 1 ? "" : "s",
           http.localAddress().toString().c_str());
  (void)sd_notify(0, "READY=1");

  uv_loop_t loop;
  uv_loop_init(&loop);
  Control control;
  control.config = std::move(config);
  control.reload = &reload;
  control.stats = &stats;
  control.holder = &holder;
  control.cache = &cache;
  control.tcp = &tcp;
  for (uv_signal_t* s : {&control.sigterm, &control.sigint, &control.sighup}) {
    uv_signal_init(&loop, s);
    s->data = &control;
  }
  auto on_stop = [](uv_signal_t* s, int signum) {
    auto* c = static_cast<Control*>(s->data);
    LOG_INFO("signal %d: draining and stopping", signum);
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
  (void)uv_loop_close(&loop);

  (void)sd_notify(0, "STOPPING=1");
  for (auto& w : workers) {
    w->requestStop();
  }
  for (auto& w : workers) {
    w->join();
  }
  http.stop();
  LOG_INFO("stopped");
  return kExitOk;
}

}  // namespace steadfast::app
