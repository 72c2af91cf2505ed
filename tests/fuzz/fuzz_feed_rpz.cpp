// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the RPZ zone-file parser: parseRpzZone on arbitrary bytes must never crash
// or throw; every entry it yields is canonical, the index built from it answers lookups of
// its own trigger names, and the guards accept or refuse it without crashing. Replayed over
// corpus/fuzz_feed_rpz in normal builds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "threatfeed/core/block_index.h"
#include "threatfeed/core/guards.h"
#include "threatfeed/core/names.h"
#include "threatfeed/core/rpz.h"

namespace steadfast::threatfeed {
namespace {

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

void testOneInput(std::string_view text) {
  RpzZone z = parseRpzZone(text);
  check(z.entries.stats.malformed <= z.entries.stats.lines + 1);
  BlockIndexBuilder b;
  b.addFeed(z.entries);
  auto idx = b.build();
  for (const NameEntry& e : z.entries.names) {
    check(canonicalName(e.name.empty() ? "." : e.name) == e.name);
    if (e.match == Match::Exact && !e.name.empty()) {
      const std::string w = toWire(e.name);
      const auto r = idx->lookup({reinterpret_cast<const uint8_t*>(w.data()), w.size()});
      check(r.verdict == Verdict::Matched);
    }
  }
  GuardConfig cfg;
  (void)applyGuards(z.entries, cfg);
}

}  // namespace
}  // namespace steadfast::threatfeed

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  steadfast::threatfeed::testOneInput({reinterpret_cast<const char*>(data), size});
  return 0;
}
