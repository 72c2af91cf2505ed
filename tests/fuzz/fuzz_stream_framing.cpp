// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the stream framing reader (DNS over TCP/TLS): the input is fed twice, whole
// and split at the points its first byte picks, and both readings must yield the same
// messages, each as long as its prefix said. Replayed over corpus/fuzz_stream_framing.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "resolver/wire/stream_framing.h"

namespace steadfast::wire {
namespace {

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

struct Reading {
  std::vector<std::vector<uint8_t>> msgs;
  bool error = false;
};

Reading read(std::span<const uint8_t> data, size_t chunk) {
  StreamReader r;
  Reading out;
  while (!data.empty() && !out.error) {
    std::span<const uint8_t> piece = data.first(chunk < data.size() ? chunk : data.size());
    data = data.subspan(piece.size());
    std::span<const uint8_t> msg;
    for (;;) {
      const StreamReader::Status s = r.consume(piece, msg);
      if (s == StreamReader::Status::Message) {
        check(!msg.empty() && msg.size() <= 65535);
        out.msgs.emplace_back(msg.begin(), msg.end());
        continue;
      }
      if (s == StreamReader::Status::Error) {
        out.error = true;
      } else {
        check(piece.empty());
      }
      break;
    }
  }
  return out;
}

}  // namespace
}  // namespace steadfast::wire

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using steadfast::wire::read;
  if (size == 0) {
    return 0;
  }
  const size_t chunk = 1U + data[0];
  const std::span<const uint8_t> in(data + 1, size - 1);
  const auto whole = read(in, in.size() + 1);
  const auto split = read(in, chunk);
  steadfast::wire::check(whole.error == split.error);
  steadfast::wire::check(whole.msgs == split.msgs);
  // Every message is the bytes after its prefix in the input.
  size_t pos = 0;
  for (const auto& m : whole.msgs) {
    steadfast::wire::check(pos + 2 + m.size() <= in.size());
    const size_t len = (static_cast<size_t>(in[pos]) << 8U) | in[pos + 1];
    steadfast::wire::check(len == m.size());
    steadfast::wire::check(std::memcmp(in.data() + pos + 2, m.data(), m.size()) == 0);
    pos += 2 + m.size();
  }
  return 0;
}
