// SPDX-License-Identifier: Apache-2.0
// UpstreamProber: the ProbeSender of failover/ over the upstreams' own transports (dns://
// over UDP with TCP on truncation, tcp:// over TCP), using an UpstreamClient on the control
// loop, so probes get the same RFC 5452 checks (random port and ID, question matched) as
// client queries. Classifies each reply into a failover::Outcome. Control loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <uv.h>

#include "failover/health_state.h"
#include "failover/plan_config.h"
#include "failover/probe_sender.h"
#include "resolver/base/result.h"
#include "resolver/upstream/upstream_client.h"
#include "resolver/wire/message.h"

namespace steadfast::upstream {

/// Parses a [health] probe ("NAME TYPE", e.g. ". NS" or "health.example. A") into a query.
Result<wire::Query> makeProbeQuery(std::string_view probe);

/// What a probe reply says about the upstream: NOERROR and NXDOMAIN are Ok (it resolves);
/// SERVFAIL, REFUSED, FORMERR and NOTIMP are failures of their kind.
failover::Outcome classifyProbeAnswer(uint16_t rcode) noexcept;

class UpstreamProber final : public failover::ProbeSender, private AttemptListener {
 public:
  using ResultFn =
      std::function<void(size_t upstream, uint64_t probe_id, failover::Outcome o, Nanos rtt)>;

  UpstreamProber(uv_loop_t* loop, std::vector<failover::UpstreamUri> upstreams,
                 const wire::Query& probe, uint16_t edns_size, Nanos timeout, ResultFn on_result);
  ~UpstreamProber() override;
  UpstreamProber(const UpstreamProber&) = delete;
  UpstreamProber& operator=(const UpstreamProber&) = delete;

  void send(size_t upstream, uint64_t probe_id) override;

 private:
  void onAttemptDone(Attempt* attempt, uint64_t cookie, AttemptOutcome outcome,
                     std::span<const uint8_t> msg, const wire::ResponseInfo& info,
                     Nanos rtt) noexcept override;
  void onMismatch(uint64_t cookie) noexcept override;
  void flushFailed();

  std::vector<failover::UpstreamUri> upstreams_;
  wire::Query probe_;
  uint16_t edns_size_;
  Nanos timeout_;
  ResultFn on_result_;
  std::unordered_map<uint64_t, size_t> in_flight_;   // probe id -> upstream
  std::vector<std::pair<size_t, uint64_t>> failed_;  // could not start: reported next turn
  uv_timer_t* flush_timer_;                          // heap: closed asynchronously
  UpstreamClient client_;
};

}  // namespace steadfast::upstream
