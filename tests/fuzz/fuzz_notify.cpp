// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the NOTIFY judge: arbitrary datagrams from a primary, from a stranger, with
// and without a configured key. Never crashes; a stranger is never accepted; a message that
// is not a NOTIFY is never accepted; any response is at least a header and echoes the ID.
#include <cstddef>
#include <cstdint>
#include <span>

#include "threatfeed/fetch/notify.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace steadfast;
  using namespace steadfast::fetch;
  static const TsigKey key = [] {
    auto k = parseTsigKey("key k { algorithm hmac-sha256; secret \"c2VjcmV0\"; };");
    return *k;
  }();
  static const std::vector<uint8_t> zone{3, 'r', 'p', 'z', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};
  const std::vector<NotifyPeer> open{{zone, {"127.0.0.1"}, nullptr, 0}};
  const std::vector<NotifyPeer> keyed{{zone, {"127.0.0.1"}, &key, 0}};
  static const SocketAddress primary = *SocketAddress::parse("127.0.0.1:53");
  static const SocketAddress stranger = *SocketAddress::parse("127.0.0.2:53");
  std::span<const uint8_t> msg(data, size);
  for (const auto* peers : {&open, &keyed}) {
    for (const auto* from : {&primary, &stranger}) {
      auto d = judgeNotify(msg, *from, *peers, 1000);
      if (d.verdict == NotifyVerdict::Accept) {
        if (from == &stranger || size < 12 || ((data[2] >> 3U) & 0xFU) != 4) {
          __builtin_trap();
        }
      }
      if (!d.response.empty() &&
          (d.response.size() < 12 || d.response[0] != data[0] || d.response[1] != data[1])) {
        __builtin_trap();
      }
    }
  }
  return 0;
}
