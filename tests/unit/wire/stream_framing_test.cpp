// SPDX-License-Identifier: Apache-2.0
// The two-byte length framing of DNS over TCP and TLS, fed in every possible split.
#include "resolver/wire/stream_framing.h"

#include <array>
#include <vector>

#include <gtest/gtest.h>

namespace steadfast::wire {
namespace {

std::vector<uint8_t> framed(const std::vector<std::vector<uint8_t>>& msgs) {
  std::vector<uint8_t> out;
  for (const auto& m : msgs) {
    std::array<uint8_t, 2> p{};
    StreamReader::writePrefix(m.size(), p);
    out.insert(out.end(), p.begin(), p.end());
    out.insert(out.end(), m.begin(), m.end());
  }
  return out;
}

std::vector<std::vector<uint8_t>> readAll(StreamReader& r, std::span<const uint8_t> in,
                                          size_t chunk) {
  std::vector<std::vector<uint8_t>> got;
  while (!in.empty()) {
    std::span<const uint8_t> piece = in.first(std::min(chunk, in.size()));
    in = in.subspan(piece.size());
    std::span<const uint8_t> msg;
    for (;;) {
      const StreamReader::Status s = r.consume(piece, msg);
      if (s == StreamReader::Status::Message) {
        got.emplace_back(msg.begin(), msg.end());
        continue;
      }
      EXPECT_EQ(s, StreamReader::Status::NeedMore);
      break;
    }
  }
  return got;
}

TEST(StreamReader, WholeMessagesInEverySplit) {
  std::vector<uint8_t> big(65535);
  for (size_t i = 0; i < big.size(); ++i) {
    big[i] = static_cast<uint8_t>(i * 7U);
  }
  const std::vector<std::vector<uint8_t>> msgs{{1, 2, 3}, {9}, big, {4, 5}};
  const std::vector<uint8_t> bytes = framed(msgs);
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{3}, size_t{1000}, bytes.size()}) {
    StreamReader r;
    EXPECT_EQ(readAll(r, bytes, chunk), msgs) << "chunk " << chunk;
    EXPECT_TRUE(r.idle());
  }
}

TEST(StreamReader, PartialMessageIsNotIdle) {
  StreamReader r;
  const std::vector<uint8_t> bytes{0, 3, 1};
  std::span<const uint8_t> in(bytes);
  std::span<const uint8_t> msg;
  EXPECT_EQ(r.consume(in, msg), StreamReader::Status::NeedMore);
  EXPECT_TRUE(in.empty());
  EXPECT_FALSE(r.idle());
}

TEST(StreamReader, ZeroLengthBreaksTheStream) {
  StreamReader r;
  const std::vector<uint8_t> bytes{0, 1, 42, 0, 0, 0, 1, 7};
  std::span<const uint8_t> in(bytes);
  std::span<const uint8_t> msg;
  ASSERT_EQ(r.consume(in, msg), StreamReader::Status::Message);
  EXPECT_EQ(msg.size(), 1U);
  EXPECT_EQ(r.consume(in, msg), StreamReader::Status::Error);
  EXPECT_EQ(r.consume(in, msg), StreamReader::Status::Error);
  EXPECT_FALSE(r.idle());
}

TEST(StreamReader, PrefixIsBigEndian) {
  std::array<uint8_t, 2> p{};
  StreamReader::writePrefix(0x1234, p);
  EXPECT_EQ(p[0], 0x12);
  EXPECT_EQ(p[1], 0x34);
}

}  // namespace
}  // namespace steadfast::wire
