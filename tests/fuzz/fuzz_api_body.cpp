// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the bodies of POST /api/v1/upstreams/drain and POST /api/v1/crisis:
// parseDrainRequest and parseCrisisRequest on arbitrary bytes must never crash or throw, must
// refuse anything over the body limit, and whatever parseDrainRequest accepts must name a
// canonical upstream URI (one that parses back to itself). Replayed over corpus/fuzz_api_body
// in normal builds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "failover/plan_config.h"
#include "resolver/report/api_routes.h"

namespace steadfast::report {
namespace {

// Fails loudly so libFuzzer (and the corpus replay) report the input.
void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

void testCrisis(std::string_view body) {
  const auto r = parseCrisisRequest(body);
  if (!r.ok()) {
    check(r.error().code == Errc::InvalidArgument);
    check(!r.error().detail.empty());
    return;
  }
  check(body.size() <= kMaxApiBodyBytes);
}

void testOneInput(std::string_view body) {
  testCrisis(body);
  const auto r = parseDrainRequest(body);
  if (!r.ok()) {
    check(r.error().code == Errc::InvalidArgument);
    check(!r.error().detail.empty());
    return;
  }
  check(body.size() <= kMaxApiBodyBytes);
  check(!r->upstream.empty());
  const auto again = failover::UpstreamUri::parse(r->upstream);
  check(again.ok());
  check(again->text == r->upstream);
}

}  // namespace
}  // namespace steadfast::report

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  steadfast::report::testOneInput({reinterpret_cast<const char*>(data), size});
  return 0;
}
