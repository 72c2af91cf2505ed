// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the block stage's answers: the first octets choose the action, the
// transport, the client's size limit and up to four local-data records (type and rdata from
// the input, so malformed rdata is exercised); the rest is a client query. Whatever
// parseQuery accepts must get an answer that passes our own response check (it answers the
// query, every RR is in bounds) and respects the client's size limit.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "resolver/wire/block_answer.h"

namespace steadfast::wire {
namespace {

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

std::array<uint8_t, 65535> g_out;

void testOneInput(std::span<const uint8_t> in) {
  constexpr size_t kHead = 4;
  if (in.size() < kHead) {
    return;
  }
  BlockAnswerParams p;
  p.action = static_cast<BlockAction>(in[0] % 7);
  p.udp = (in[1] & 1U) != 0;
  p.max_size = 512 + (size_t{in[2]} << 4U);
  p.ede_text = "blocked by feed fuzz";
  p.sinkhole_ipv4 = {192, 0, 2, 1};
  const size_t nrec = in[3] % 5;
  std::array<LocalRecord, 4> recs{};
  size_t pos = kHead;
  size_t used = 0;
  for (size_t i = 0; i < nrec && pos + 2 <= in.size(); ++i) {
    static constexpr std::array<uint16_t, 5> kTypes = {kTypeA, kTypeAaaa, kTypeCname, kTypeTxt, 15};
    const uint16_t type = kTypes[in[pos] % kTypes.size()];
    const size_t len = std::min<size_t>(in[pos + 1], in.size() - pos - 2);
    recs[used++] = LocalRecord{type, in.subspan(pos + 2, len)};
    pos += 2 + len;
  }
  p.local = {recs.data(), used};

  Query q;
  if (parseQuery(in.subspan(pos), q) != QueryParse::Ok) {
    return;
  }
  const BlockAnswer a = buildBlockAnswer(q, p, g_out);
  switch (p.action) {
    case BlockAction::Drop:
      check(a.outcome == BlockOutcome::Drop);
      return;
    case BlockAction::Passthru:
      check(a.outcome == BlockOutcome::Resolve);
      return;
    case BlockAction::TcpOnly:
      check(a.outcome == (p.udp ? BlockOutcome::Answered : BlockOutcome::Resolve));
      break;
    default:
      check(a.outcome == BlockOutcome::Answered);
  }
  if (a.outcome != BlockOutcome::Answered) {
    return;
  }
  check(a.length >= kHeaderSize && a.length <= g_out.size());
  check(a.truncated || a.length <= p.max_size);
  ResponseInfo info;
  check(analyzeResponse({g_out.data(), a.length}, q.id, q, info) == ResponseCheck::Ok);
  check(info.rcode == a.rcode);
  check(info.has_opt == q.has_edns);
}

}  // namespace
}  // namespace steadfast::wire

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  steadfast::wire::testOneInput({data, size});
  return 0;
}
