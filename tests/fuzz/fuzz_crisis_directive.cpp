// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the crisis directive document (failover/crisis.h): parseDirective on
// arbitrary bytes never crashes or throws, refuses anything over the size limit, and what it
// accepts has expires_at after issued_at and bounded texts. The crisis state file parser is
// driven with the same bytes. Replayed over corpus/fuzz_crisis_directive in normal builds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "failover/crisis.h"

namespace steadfast::failover {
namespace {

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

void testOneInput(std::string_view body) {
  const auto d = parseDirective(body);
  if (d.ok()) {
    check(body.size() <= kMaxDirectiveBytes);
    check(d->expiresAt > d->issuedAt && d->issuedAt >= 0);
    check(d->issuer.size() <= kMaxDirectiveTextBytes && d->reason.size() <= kMaxDirectiveTextBytes);
  } else {
    check(!d.error().detail.empty());
  }
  const auto s = parseCrisisState(body);
  if (s.ok()) {
    const auto again = parseCrisisState(serializeCrisis(*s));
    check(again.ok());
  }
}

}  // namespace
}  // namespace steadfast::failover

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  steadfast::failover::testOneInput(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
