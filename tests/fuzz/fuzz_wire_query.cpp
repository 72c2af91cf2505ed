// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the client side of resolver/wire: parseQuery on arbitrary bytes, then the
// answers we would send for each outcome, checked for self-consistency (what we build must
// parse back as we meant it). Replayed over corpus/fuzz_wire_query in normal builds.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "resolver/wire/message.h"

namespace steadfast::wire {
namespace {

// Fails loudly so libFuzzer (and the corpus replay) report the input.
void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

std::array<uint8_t, 65535> g_out;

void onOk(const Query& q) {
  check(q.qname_len >= 1 && q.qname_len <= kMaxNameWire);
  check(q.udp_size >= 512);

  const Ede ede{EdeCode::NetworkError, "fuzz"};
  const size_t err =
      buildErrorResponse(q, static_cast<uint16_t>(Rcode::ServFail), g_out, 1232, &ede);
  check(err > 0);
  ResponseInfo info;
  check(analyzeResponse({g_out.data(), err}, q.id, q, info) == ResponseCheck::Ok);
  check(info.rcode == static_cast<uint16_t>(Rcode::ServFail));
  check(info.has_opt == q.has_edns);
  // The same bytes through the answer path, as if they came from the cache.
  size_t n = copyWithoutOpt({g_out.data(), err}, info, g_out);
  n = finishAnswer(g_out, n, q, 1232, 512, &ede);
  check(n > 0 && n <= g_out.size());

  const size_t up = buildUpstreamQuery(q, 0x4242, 1232, g_out);
  check(up > 0);
  Query back;
  check(parseQuery({g_out.data(), up}, back) == QueryParse::Ok);
  check(back.id == 0x4242 && back.qtype == q.qtype && back.qclass == q.qclass);
  check(back.qname_len == q.qname_len &&
        std::memcmp(back.qname.data(), q.qname.data(), q.qname_len) == 0);
  check(back.do_bit == q.do_bit && back.cd() == q.cd() && back.has_edns);
}

void testOneInput(std::span<const uint8_t> msg) {
  Query q;
  switch (parseQuery(msg, q)) {
    case QueryParse::Ok:
      onOk(q);
      break;
    case QueryParse::BadVers:
      check(q.has_edns && q.edns_version > 0);
      check(buildErrorResponse(q, 16, g_out, 1232, nullptr) > 0);  // BADVERS, RFC 6891 9
      break;
    case QueryParse::FormErr:
    case QueryParse::NotImp:
      check(buildHeaderOnlyError(msg, Rcode::FormErr, g_out) == kHeaderSize);
      break;
    case QueryParse::Drop:
      break;
  }
}

}  // namespace
}  // namespace steadfast::wire

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  steadfast::wire::testOneInput({data, size});
  return 0;
}
