// SPDX-License-Identifier: Apache-2.0
// Unit tests for wire-format names: readName/skipName on hostile input (compression loops,
// forward and self pointers, label and name length limits, reserved label types),
// lowerName, and the text conversions.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "resolver/wire/message.h"
#include "tests/unit/wire/wire_test_util.h"

namespace steadfast::wire {
namespace {

using test::Packet;
using test::wireName;

// A message whose first name starts right after a (zeroed) header.
Packet withHeader() {
  Packet p;
  p.header(0, 0, 0);
  return p;
}

struct ReadResult {
  bool ok = false;
  size_t pos = 0;
  std::vector<uint8_t> name;
};

ReadResult read(const Packet& p, size_t pos) {
  std::array<uint8_t, kMaxNameWire> out{};
  size_t len = 0;
  ReadResult r;
  r.pos = pos;
  r.ok = readName(p.span(), r.pos, out, len);
  if (r.ok) {
    r.name.assign(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(len));
  }
  // skipName must agree with readName on validity and end position.
  size_t skip_pos = pos;
  EXPECT_EQ(skipName(p.span(), skip_pos), r.ok);
  if (r.ok) {
    EXPECT_EQ(skip_pos, r.pos);
  }
  return r;
}

std::string label(size_t n, char c = 'a') {
  return std::string(n, c);
}

TEST(WireName, ReadsUncompressedName) {
  Packet p = withHeader();
  p.name("www.Example.com.").u16(1);
  ReadResult r = read(p, 12);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.name, wireName("www.Example.com."));
  EXPECT_EQ(r.pos, 12 + 17U);
}

TEST(WireName, ReadsRootName) {
  Packet p = withHeader();
  p.u8(0);
  ReadResult r = read(p, 12);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.name, std::vector<uint8_t>{0});
  EXPECT_EQ(r.pos, 13U);
}

TEST(WireName, FollowsBackwardPointerAndResumesAfterIt) {
  Packet p = withHeader();
  p.name("example.com.");  // 12..24
  const size_t second = p.size();
  p.raw({3, 'w', 'w', 'w'}).pointer(12).u16(0xABCD);
  ReadResult r = read(p, second);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.name, wireName("www.example.com."));
  EXPECT_EQ(r.pos, second + 6);  // after the pointer, not after the target
}

TEST(WireName, FollowsChainOfPointers) {
  Packet p = withHeader();
  p.name("com.");  // 12
  const uint16_t example = static_cast<uint16_t>(p.size());
  p.raw({7, 'e', 'x', 'a', 'm', 'p', 'l', 'e'}).pointer(12);
  const size_t www = p.size();
  p.raw({3, 'w', 'w', 'w'}).pointer(example);
  ReadResult r = read(p, www);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.name, wireName("www.example.com."));
}

TEST(WireName, RejectsCompressionLoop) {
  Packet p = withHeader();
  p.pointer(14).pointer(12);  // 12 -> 14 -> 12 ...
  EXPECT_FALSE(read(p, 12).ok);
  EXPECT_FALSE(read(p, 14).ok);
}

TEST(WireName, RejectsLoopThroughLabels) {
  Packet p = withHeader();
  p.raw({1, 'a'}).pointer(12);  // a.a.a.a... via a pointer back to its own start
  EXPECT_FALSE(read(p, 12).ok);
}

TEST(WireName, RejectsPointerToItself) {
  Packet p = withHeader();
  p.name("example.com.");
  const uint16_t self = static_cast<uint16_t>(p.size());
  p.pointer(self);
  EXPECT_FALSE(read(p, self).ok);
}

TEST(WireName, RejectsForwardPointer) {
  Packet p = withHeader();
  p.pointer(14).name("example.com.");
  EXPECT_FALSE(read(p, 12).ok);
}

TEST(WireName, RejectsPointerIntoOwnLaterLabel) {
  Packet p = withHeader();
  p.raw({1, 'a', 1, 'b'}).pointer(14);  // points forward into the same name
  EXPECT_FALSE(read(p, 12).ok);
}

TEST(WireName, RejectsPointerIntoHeader) {
  Packet p = withHeader();
  p.pointer(4);
  EXPECT_FALSE(read(p, 12).ok);
}

TEST(WireName, RejectsPointerOutOfBounds) {
  Packet p = withHeader();
  p.name("example.com.");
  const size_t at = p.size();
  p.pointer(0x3FFF);
  EXPECT_FALSE(read(p, at).ok);
}

TEST(WireName, RejectsTruncatedPointer) {
  Packet p = withHeader();
  p.u8(0xC0);
  EXPECT_FALSE(read(p, 12).ok);
}

TEST(WireName, RejectsTruncatedLabelAndMissingRoot) {
  Packet p = withHeader();
  p.raw({5, 'a', 'b'});
  EXPECT_FALSE(read(p, 12).ok);
  Packet q = withHeader();
  q.raw({3, 'c', 'o', 'm'});  // no root label
  EXPECT_FALSE(read(q, 12).ok);
  EXPECT_FALSE(read(withHeader(), 12).ok);  // nothing at all
}

TEST(WireName, RejectsReservedLabelTypes) {
  for (uint8_t type : {uint8_t{0x40}, uint8_t{0x41}, uint8_t{0x80}, uint8_t{0xBF}}) {
    Packet p = withHeader();
    p.u8(type).raw({0, 0, 0, 0, 0, 0, 0, 0}).u8(0);
    EXPECT_FALSE(read(p, 12).ok) << "label type " << int{type};
  }
}

TEST(WireName, Accepts63OctetLabelRejects64) {
  Packet ok = withHeader();
  ok.name(label(63) + ".com.");
  ReadResult r = read(ok, 12);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.name.size(), 1 + 63 + 1 + 3 + 1U);

  Packet bad = withHeader();
  bad.u8(64).raw(std::vector<uint8_t>(64, 'a')).u8(0);
  EXPECT_FALSE(read(bad, 12).ok);
}

// 3 labels of 63 plus one of `last` octets: 3*64 + 1 + last + 1 (root) octets.
std::string longName(size_t last) {
  return label(63) + "." + label(63, 'b') + "." + label(63, 'c') + "." + label(last, 'd') + ".";
}

TEST(WireName, Accepts255OctetNameRejects256) {
  Packet p = withHeader();
  p.name(longName(61));
  ReadResult r = read(p, 12);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.name.size(), 255U);

  Packet bad = withHeader();
  bad.u8(63).raw(std::vector<uint8_t>(63, 'a'));
  bad.u8(63).raw(std::vector<uint8_t>(63, 'b'));
  bad.u8(63).raw(std::vector<uint8_t>(63, 'c'));
  bad.u8(62).raw(std::vector<uint8_t>(62, 'd')).u8(0);  // 256 octets
  EXPECT_FALSE(read(bad, 12).ok);
}

TEST(WireName, LengthLimitCountsCompressedParts) {
  Packet p = withHeader();
  p.u8(63).raw(std::vector<uint8_t>(63, 'a'));
  p.u8(63).raw(std::vector<uint8_t>(63, 'b'));
  p.u8(63).raw(std::vector<uint8_t>(63, 'c')).u8(0);  // 193 octets at 12
  const size_t ok_at = p.size();
  p.u8(61).raw(std::vector<uint8_t>(61, 'd')).pointer(12);  // 62 + 193 = 255
  const size_t bad_at = p.size();
  p.u8(62).raw(std::vector<uint8_t>(62, 'e')).pointer(12);  // 63 + 193 = 256
  ReadResult r = read(p, ok_at);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.name.size(), 255U);
  EXPECT_FALSE(read(p, bad_at).ok);
}

// A chain where each pointer targets the previous one: every jump is backwards, so only the
// jump cap stops it.
Packet pointerChain(size_t jumps, size_t& last) {
  Packet p = withHeader();
  p.u8(0);
  uint16_t prev = 12;
  for (size_t i = 0; i < jumps; ++i) {
    const auto at = static_cast<uint16_t>(p.size());
    p.pointer(prev);
    prev = at;
  }
  last = prev;
  return p;
}

TEST(WireName, BoundsNumberOfJumps) {
  size_t last = 0;
  Packet ok = pointerChain(128, last);
  EXPECT_TRUE(read(ok, last).ok);
  Packet bad = pointerChain(129, last);
  EXPECT_FALSE(read(bad, last).ok);
}

TEST(WireName, ReadNameDoesNotTouchPosOnFailure) {
  Packet p = withHeader();
  p.raw({3, 'c', 'o'});
  size_t pos = 12;
  std::array<uint8_t, kMaxNameWire> out{};
  size_t len = 99;
  EXPECT_FALSE(readName(p.span(), pos, out, len));
  EXPECT_EQ(pos, 12U);
  EXPECT_EQ(len, 99U);
}

TEST(WireName, LowerNameFoldsAsciiOnly) {
  std::vector<uint8_t> in = wireName("WwW.ExAmPlE.COM.");
  in[2] = 0xC3;  // non-ASCII stays as is (RFC 4343)
  std::vector<uint8_t> out(in.size());
  lowerName(in, out.data());
  std::vector<uint8_t> want = wireName("www.example.com.");
  want[2] = 0xC3;
  EXPECT_EQ(out, want);
  lowerName(in, in.data());  // in place
  EXPECT_EQ(in, want);
}

TEST(WireName, TextRoundTrip) {
  for (const char* text : {".", "com.", "www.example.com.", "a.b.c.d.e.f.g."}) {
    std::array<uint8_t, kMaxNameWire> wire{};
    size_t len = 0;
    ASSERT_TRUE(nameFromText(text, wire, len)) << text;
    EXPECT_EQ(nameToText({wire.data(), len}), text);
  }
}

TEST(WireName, FromTextWithoutTrailingDot) {
  EXPECT_EQ(wireName("www.example.com"), wireName("www.example.com."));
  EXPECT_EQ(wireName("com"), (std::vector<uint8_t>{3, 'c', 'o', 'm', 0}));
}

TEST(WireName, FromTextEscapes) {
  std::array<uint8_t, kMaxNameWire> wire{};
  size_t len = 0;
  ASSERT_TRUE(nameFromText("a\\.b.\\065\\000.", wire, len));
  const std::vector<uint8_t> want{3, 'a', '.', 'b', 2, 'A', 0, 0};
  EXPECT_EQ(std::vector<uint8_t>(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(len)),
            want);
  EXPECT_EQ(nameToText({wire.data(), len}), "a\\.b.A\\000.");
  EXPECT_FALSE(nameFromText("a\\256.", wire, len));
  EXPECT_FALSE(nameFromText("a\\", wire, len));
}

TEST(WireName, FromTextRejectsInvalid) {
  std::array<uint8_t, kMaxNameWire> wire{};
  size_t len = 0;
  EXPECT_FALSE(nameFromText("", wire, len));
  EXPECT_FALSE(nameFromText("..", wire, len));
  EXPECT_FALSE(nameFromText(".com.", wire, len));
  EXPECT_FALSE(nameFromText("a..com.", wire, len));
  EXPECT_TRUE(nameFromText(label(63) + ".com.", wire, len));
  EXPECT_FALSE(nameFromText(label(64) + ".com.", wire, len));
  EXPECT_TRUE(nameFromText(longName(61), wire, len));
  EXPECT_EQ(len, 255U);
  EXPECT_FALSE(nameFromText(longName(62), wire, len));
  EXPECT_FALSE(nameFromText(longName(61) + "x", wire, len));
}

TEST(WireName, ToTextEscapesAndStopsOnGarbage) {
  const std::vector<uint8_t> odd{2, ' ', '\\', 0};
  EXPECT_EQ(nameToText(odd), "\\032\\\\.");
  const std::vector<uint8_t> truncated{5, 'a', 'b'};
  EXPECT_EQ(nameToText(truncated), "?");
  EXPECT_EQ(nameToText({}), ".");
}

}  // namespace
}  // namespace steadfast::wire
