// SPDX-License-Identifier: Apache-2.0
// steadfast_xfr_fetch: drives threatfeed/fetch's zone transfer and FeedStore from the
// integration suite (RPZ over AXFR/IXFR is not wired into the daemon yet). Loads the stored
// copy of FEED from STATE_DIR, transfers (IXFR from the stored serial when there is one), applies
// the result, stores it, and prints one line:
//   ok kind=full|incremental|uptodate serial=N records=N
//   error code=N kept_serial=N kept_records=N detail=...
// Usage: steadfast_xfr_fetch axfr://HOST:PORT/ZONE STATE_DIR FEED [--tsig FILE]
#include <cstdio>
#include <string>

#include "threatfeed/fetch/store.h"
#include "threatfeed/fetch/xfr.h"

using namespace steadfast;
using namespace steadfast::fetch;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s URI STATE_DIR FEED [--tsig FILE]\n", argv[0]);
    return 64;
  }
  auto target = parseAxfrUri(argv[1]);
  if (!target) {
    std::printf("error code=%d kept_serial=-1 kept_records=0 detail=%s\n",
                static_cast<int>(target.error().code), target.error().detail.c_str());
    return 2;
  }
  std::optional<TsigKey> key;
  if (argc >= 6 && std::string(argv[4]) == "--tsig") {
    auto k = loadTsigKeyFile(argv[5]);
    if (!k) {
      std::printf("error code=%d kept_serial=-1 kept_records=0 detail=%s\n",
                  static_cast<int>(k.error().code), k.error().detail.c_str());
      return 2;
    }
    key = *k;
  }
  FeedStore store(argv[2]);
  ZoneCopy zone;
  if (auto stored = store.load(argv[3]); stored) {
    auto z = ZoneCopy::fromMasterFile(stored->body);
    if (z) {
      zone = std::move(*z);
    }
  }
  SystemClock clock;
  XfrOptions opt;
  opt.key = key ? &*key : nullptr;
  opt.connect_timeout = std::chrono::seconds(3);
  opt.total_timeout = std::chrono::seconds(20);
  auto r = transfer(*target, zone.serial, opt, clock);
  auto kept = [&] { return zone.serial ? static_cast<long long>(*zone.serial) : -1LL; };
  if (!r) {
    std::printf("error code=%d kept_serial=%lld kept_records=%zu detail=%s\n",
                static_cast<int>(r.error().code), kept(), zone.records.size(),
                r.error().detail.c_str());
    return 2;
  }
  const ZoneCopy before = zone;
  if (auto st = zone.apply(*r); !st) {
    std::printf("error code=%d kept_serial=%lld kept_records=%zu detail=%s\n",
                static_cast<int>(st.error().code), kept(), before.records.size(),
                st.error().detail.c_str());
    return 2;
  }
  StoredFeed copy;
  copy.meta.source = argv[1];
  copy.meta.serial = zone.serial;
  copy.meta.stored_unix =
      std::chrono::duration_cast<Seconds>(clock.wallNow().time_since_epoch()).count();
  copy.body = zone.toMasterFile();
  if (auto st = store.save(argv[3], copy); !st) {
    std::printf("error code=%d kept_serial=%lld kept_records=%zu detail=%s\n",
                static_cast<int>(st.error().code), kept(), zone.records.size(),
                st.error().detail.c_str());
    return 2;
  }
  const char* kind = r->kind == XfrResult::Kind::Full          ? "full"
                     : r->kind == XfrResult::Kind::Incremental ? "incremental"
                                                               : "uptodate";
  std::printf("ok kind=%s serial=%u records=%zu\n", kind, *zone.serial, zone.records.size());
  for (const auto& rr : zone.records) {
    std::printf("rr %s\n", rr.toLine().c_str());
  }
  return 0;
}
