// SPDX-License-Identifier: Apache-2.0
// Micro-benchmark of the threat-feed block index (Google Benchmark; not a test): parse and
// build at 1M names, lookup miss and hit. Results in docs/performance.md.
#include <benchmark/benchmark.h>
#include <string>
#include <vector>

#include "threatfeed/core/block_index.h"
#include "threatfeed/core/lists.h"
#include "threatfeed/core/names.h"
#include "threatfeed/core/rpz.h"

namespace steadfast::threatfeed {
namespace {

constexpr int kNames = 1000000;

std::string name(int i) {
  return "host" + std::to_string(i) + ".bad" + std::to_string(i % 997) + ".example";
}

const std::string& domainList() {
  static const std::string text = [] {
    std::string t;
    for (int i = 0; i < kNames; ++i) {
      t += name(i) + "\n";
    }
    return t;
  }();
  return text;
}

const std::string& rpzZone() {
  static const std::string text = [] {
    std::string t = "$TTL 60\n@ SOA ns.rpz. h.rpz. 1 3600 600 86400 60\n";
    for (int i = 0; i < kNames; ++i) {
      t += name(i) + " CNAME .\n";
    }
    return t;
  }();
  return text;
}

const BlockIndex& index1M() {
  static const auto idx = [] {
    BlockIndexBuilder b;
    b.addFeed(parseDomainList(domainList()));
    return b.build();
  }();
  return *idx;
}

void BM_BuildDomainList1M(benchmark::State& state) {
  const std::string& text = domainList();
  for (auto _ : state) {
    BlockIndexBuilder b;
    b.addFeed(parseDomainList(text));
    auto idx = b.build();
    benchmark::DoNotOptimize(idx.get());
    state.counters["bytes_per_entry_beyond_names"] =
        static_cast<double>(idx->memoryBytes() - idx->nameBytes()) /
        static_cast<double>(idx->nameEntries());
  }
}
BENCHMARK(BM_BuildDomainList1M)->Unit(benchmark::kMillisecond)->Iterations(1);

void BM_BuildRpz1M(benchmark::State& state) {
  const std::string& text = rpzZone();
  for (auto _ : state) {
    RpzZone z = parseRpzZone(text, "rpz");
    BlockIndexBuilder b;
    b.addFeed(z.entries);
    auto idx = b.build();
    benchmark::DoNotOptimize(idx.get());
  }
}
BENCHMARK(BM_BuildRpz1M)->Unit(benchmark::kMillisecond)->Iterations(1);

void lookupLoop(benchmark::State& state, const std::vector<std::string>& wires) {
  const BlockIndex& idx = index1M();
  size_t i = 0;
  for (auto _ : state) {
    const std::string& w = wires[i++ % wires.size()];
    auto r = idx.lookup({reinterpret_cast<const uint8_t*>(w.data()), w.size()});
    benchmark::DoNotOptimize(r);
  }
}

void BM_LookupMiss(benchmark::State& state) {
  std::vector<std::string> wires;
  for (int i = 0; i < 4096; ++i) {
    wires.push_back(toWire("www.site" + std::to_string(i) + ".example.com"));
  }
  lookupLoop(state, wires);
}
BENCHMARK(BM_LookupMiss);

void BM_LookupHit(benchmark::State& state) {
  std::vector<std::string> wires;
  for (int i = 0; i < 4096; ++i) {
    wires.push_back(toWire(name(i * 241)));
  }
  lookupLoop(state, wires);
}
BENCHMARK(BM_LookupHit);

void BM_LookupEmptyIndex(benchmark::State& state) {
  BlockIndex empty;
  const std::string w = toWire("www.example.com");
  for (auto _ : state) {
    auto r = empty.lookup({reinterpret_cast<const uint8_t*>(w.data()), w.size()});
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_LookupEmptyIndex);

}  // namespace
}  // namespace steadfast::threatfeed

BENCHMARK_MAIN();
