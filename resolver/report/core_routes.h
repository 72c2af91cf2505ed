// SPDX-License-Identifier: Apache-2.0
// The routes every steadfast HTTP listener has: GET /metrics, /healthz and /readyz
// (spec/interface.md "HTTP"). /status, / and the POST API are added by later issues.
#pragma once

#include <functional>

#include <prometheus/collectable.h>

#include "resolver/report/http_server.h"

namespace steadfast::report {

struct CoreRoutes {
  /// Rendered on GET /metrics (usually a MetricsCollector); required, must outlive the server.
  const prometheus::Collectable* metrics = nullptr;
  /// Appended to /metrics when set (e.g. a prometheus::Registry); must outlive the server.
  const prometheus::Collectable* extra_metrics = nullptr;
  /// GET /readyz answers 200 when it returns true and 503 otherwise; unset means ready.
  /// Runs on an HTTP thread, so it must be thread-safe.
  std::function<bool()> ready;
};

/// Installs GET /metrics, GET /healthz ("ok") and GET /readyz on `server`.
void installCoreRoutes(HttpServer& server, CoreRoutes routes);

}  // namespace steadfast::report
