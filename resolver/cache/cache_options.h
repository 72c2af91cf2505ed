// SPDX-License-Identifier: Apache-2.0
// [cache] configuration (spec/steadfast.example.toml). Owned by resolver/cache, filled by
// resolver/app's config parser.
#pragma once

#include <cstddef>
#include <cstdint>

#include "resolver/base/clock.h"

namespace steadfast::cache {

struct CacheOptions {
  uint64_t max_memory = uint64_t{128} << 20U;  // hard bound on entry bytes + index
  Seconds min_ttl{0};
  Seconds max_ttl{86400};
  Seconds negative_max_ttl{3600};
  bool serve_stale = true;       // RFC 8767
  Seconds stale_max_age{86400};  // keep expired entries this long for serve-stale
  Seconds stale_answer_ttl{30};  // TTL of every record in a stale answer
  size_t shards = 64;            // power of two
  size_t max_readers = 128;      // threads that may call lookup (workers + control)
};

}  // namespace steadfast::cache
