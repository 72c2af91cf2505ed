// SPDX-License-Identifier: Apache-2.0
// Query-handling part of [server]: who may ask, how long a query may take, EDNS size.
#pragma once

#include <cstdint>

#include "resolver/base/cidr.h"
#include "resolver/base/clock.h"
#include "resolver/recursion/recursor.h"

namespace steadfast::pipeline {

struct PipelineConfig {
  Acl allow;                          // clients outside get REFUSED
  Nanos query_budget = Millis{1500};  // total time for one client query, retries included
  uint16_t edns_buffer_size = 1232;   // advertised to upstreams and clients
  uint32_t rate_limit_qps = 0;        // per client address; 0: off (a later issue)
  /// [last_resort], with libunbound's cache sizes per worker derived from [cache].
  recursion::RecursionConfig last_resort;
};

}  // namespace steadfast::pipeline
