// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the upstream side of resolver/wire: analyzeResponse on arbitrary bytes
// against fixed queries for "example.com. A" (ID 0x2222, with and without EDNS), then the
// cache path (copyWithoutOpt, adjustTtls, finishAnswer) with its invariants checked.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "resolver/wire/message.h"

namespace steadfast::wire {
namespace {

constexpr uint16_t kId = 0x2222;

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

Query makeQuery(bool edns) {
  // "example.com." A IN, RD, optional OPT with DO (what buildQuery emits minus the OPT).
  std::array<uint8_t, 64> buf{};
  std::array<uint8_t, kMaxNameWire> name{};
  size_t name_len = 0;
  check(nameFromText("Example.COM.", name, name_len));
  size_t n = buildQuery({name.data(), name_len}, 1, kId, 4096, true, buf);
  check(n > 0);
  if (!edns) {
    n -= kOptRrSize;
    writeU16(buf.data() + 10, 0);
  }
  Query q;
  check(parseQuery({buf.data(), n}, q) == QueryParse::Ok);
  return q;
}

// Big enough for any message plus our OPT and EDE.
std::array<uint8_t, 65535 + 512> g_buf;

void onOk(std::span<const uint8_t> msg, const Query& q, const ResponseInfo& info) {
  check(info.ttl_count <= kMaxTtlOffsets);
  for (size_t i = 0; i < info.ttl_count; ++i) {
    check(info.ttl_offsets[i] + size_t{4} <= msg.size());
  }
  if (info.has_opt) {
    check(info.opt_offset >= kHeaderSize && info.opt_offset + info.opt_len <= msg.size());
  }
  size_t n = copyWithoutOpt(msg, info, g_buf);
  check(n > 0 && n <= msg.size());
  const std::span<const uint16_t> offsets(info.ttl_offsets.data(), info.ttl_count);
  for (const uint16_t off : offsets) {
    check(off + size_t{4} <= n);  // stripping the trailing OPT keeps every offset valid
  }
  ResponseInfo copy_info;
  check(analyzeResponse({g_buf.data(), n}, kId, q, copy_info) == ResponseCheck::Ok);
  check(copy_info.ttl_count == info.ttl_count && !(copy_info.has_opt && copy_info.opt_is_last));

  adjustTtls({g_buf.data(), n}, offsets, 30, false, 0);
  adjustTtls({g_buf.data(), n}, offsets, 0, true, 5);

  const Ede ede{EdeCode::StaleAnswer, "stale"};
  const size_t max_size = q.has_edns ? q.udp_size : 512;
  const size_t out = finishAnswer(g_buf, n, q, 1232, max_size, &ede);
  check(out > 0 && out <= max_size);
  // An OPT that was not last stayed in the stored copy; a second one would be appended.
  if (!info.has_opt || info.opt_is_last) {
    ResponseInfo final_info;
    check(analyzeResponse({g_buf.data(), out}, q.id, q, final_info) == ResponseCheck::Ok);
    check(final_info.has_opt == q.has_edns);
  }
}

void testOneInput(std::span<const uint8_t> msg) {
  static const Query kWithEdns = makeQuery(true);
  static const Query kPlain = makeQuery(false);
  for (const Query* q : {&kWithEdns, &kPlain}) {
    ResponseInfo info;
    if (analyzeResponse(msg, kId, *q, info) == ResponseCheck::Ok) {
      onOk(msg, *q, info);
    }
  }
}

}  // namespace
}  // namespace steadfast::wire

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  steadfast::wire::testOneInput({data, size});
  return 0;
}
