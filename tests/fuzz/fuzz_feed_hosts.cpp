// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the hosts feed parser: parseHostsFile on arbitrary bytes must never crash or
// throw; every entry is canonical and found by the index built from it. Replayed over
// corpus/fuzz_feed_hosts in normal builds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "threatfeed/core/block_index.h"
#include "threatfeed/core/guards.h"
#include "threatfeed/core/lists.h"
#include "threatfeed/core/names.h"

namespace steadfast::threatfeed {
namespace {

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

void testOneInput(std::string_view text) {
  FeedEntries f = parseHostsFile(text);
  check(f.stats.malformed <= f.stats.lines);
  BlockIndexBuilder b;
  b.addFeed(f);
  auto idx = b.build();
  for (const NameEntry& e : f.names) {
    check(canonicalName(e.name.empty() ? "." : e.name) == e.name);
    const std::string w = toWire(e.name);
    const auto r = idx->lookup({reinterpret_cast<const uint8_t*>(w.data()), w.size()});
    check(e.match != Match::Exact || e.name.empty() || r.verdict == Verdict::Matched);
  }
  (void)applyGuards(f, GuardConfig{});
}

}  // namespace
}  // namespace steadfast::threatfeed

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  steadfast::threatfeed::testOneInput({reinterpret_cast<const char*>(data), size});
  return 0;
}
