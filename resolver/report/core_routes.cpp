// SPDX-License-Identifier: Apache-2.0
// GET /metrics, /healthz and /readyz.
#include "resolver/report/core_routes.h"

#include <string>
#include <utility>

#include "resolver/report/metrics.h"

namespace steadfast::report {

void installCoreRoutes(HttpServer& server, CoreRoutes routes) {
  const prometheus::Collectable* metrics = routes.metrics;
  const prometheus::Collectable* extra = routes.extra_metrics;
  server.handleGet("/metrics", [metrics, extra](const HttpRequest&) {
    if (metrics == nullptr) {
      return jsonError(500, "no metrics collector");
    }
    HttpResponse r;
    r.content_type = std::string(kMetricsContentType);
    r.body = renderMetrics(*metrics, extra);
    return r;
  });
  server.handleGet("/healthz", [](const HttpRequest&) {
    HttpResponse r;
    r.body = "ok";
    return r;
  });
  server.handleGet("/readyz", [ready = std::move(routes.ready)](const HttpRequest&) {
    if (ready && !ready()) {
      return jsonError(503, "not ready");
    }
    HttpResponse r;
    r.body = "ready";
    return r;
  });
}

}  // namespace steadfast::report
