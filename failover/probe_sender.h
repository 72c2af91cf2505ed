// SPDX-License-Identifier: Apache-2.0
// ProbeSender: how the health checker reaches the network. failover/ declares it (the
// consumer owns the interface); resolver/upstream implements it over each upstream's own
// transport, and tests use a fake.
#pragma once

#include <cstddef>
#include <cstdint>

namespace steadfast::failover {

class ProbeSender {
 public:
  virtual ~ProbeSender() = default;
  /// Sends the probe query to upstream `upstream` (flattened index). The result must come
  /// back exactly once through HealthChecker::onProbeResult(upstream, probe_id, ...), within
  /// the probe timeout (a Timeout outcome if nothing valid came), and never from inside
  /// send() itself.
  virtual void send(size_t upstream, uint64_t probe_id) = 0;
};

}  // namespace steadfast::failover
