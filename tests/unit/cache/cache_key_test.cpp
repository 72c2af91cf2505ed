// SPDX-License-Identifier: Apache-2.0
// CacheKey: what splits the key (qtype, qclass, DO, CD), case-insensitivity through
// qname_lower, and the SipHash code against the published vectors.
#include <array>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "resolver/cache/packet_cache.h"
#include "resolver/cache/siphash.h"
#include "tests/unit/cache/test_answers.h"

namespace steadfast::cache {
namespace {

using test::keyFor;
using test::kTypeA;
using test::kTypeAaaa;

// Reference vectors of SipHash-2-4 (Aumasson and Bernstein, vectors.h): key 00..0f,
// message 00..(n-1). The 1-3 variant differs only in the round counts.
TEST(SipHashTest, MatchesSipHash24ReferenceVectors) {
  std::array<uint8_t, 16> raw{};
  for (size_t i = 0; i < raw.size(); ++i) {
    raw[i] = static_cast<uint8_t>(i);
  }
  const detail::SipKey key{detail::loadLe64(raw.data()), detail::loadLe64(raw.data() + 8)};
  std::array<uint8_t, 64> msg{};
  for (size_t i = 0; i < msg.size(); ++i) {
    msg[i] = static_cast<uint8_t>(i);
  }
  auto sip24 = [&](size_t n) {
    return detail::sipHash<2, 4>(key, std::span<const uint8_t>(msg.data(), n));
  };
  EXPECT_EQ(sip24(0), 0x726fdb47dd0e0e31ULL);
  EXPECT_EQ(sip24(1), 0x74f839c593dc67fdULL);
  EXPECT_EQ(sip24(8), 0x93f5f5799a932462ULL);
  EXPECT_EQ(sip24(15), 0xa129ca6149be45e5ULL);
  EXPECT_EQ(sip24(63), 0x958a324ceb064572ULL);
}

TEST(CacheKeyTest, LayoutIsNamePlusTypeClassFlags) {
  const CacheKey k = keyFor("www.example.com", kTypeAaaa, true, true);
  const std::vector<uint8_t> name = test::nameWire("www.example.com");
  ASSERT_EQ(k.len, name.size() + 5);
  EXPECT_EQ(std::memcmp(k.bytes.data(), name.data(), name.size()), 0);
  EXPECT_EQ(wire::readU16(k.bytes.data() + name.size()), kTypeAaaa);
  EXPECT_EQ(wire::readU16(k.bytes.data() + name.size() + 2), wire::kClassIn);
  EXPECT_EQ(k.bytes[name.size() + 4], 0x03);
}

TEST(CacheKeyTest, SameInputsSameKey) {
  EXPECT_EQ(keyFor("www.example.com"), keyFor("www.example.com"));
  EXPECT_EQ(keyFor("www.example.com").hash, keyFor("www.example.com").hash);
}

TEST(CacheKeyTest, DoCdQtypeQclassAndNameSplitTheKey) {
  const CacheKey base = keyFor("www.example.com");
  EXPECT_FALSE(base == keyFor("www.example.com", kTypeA, /*do_bit=*/true));
  EXPECT_FALSE(base == keyFor("www.example.com", kTypeA, false, /*cd=*/true));
  EXPECT_FALSE(base == keyFor("www.example.com", kTypeAaaa));
  EXPECT_FALSE(base == keyFor("www.example.com", kTypeA, false, false, /*qclass=*/3));
  EXPECT_FALSE(base == keyFor("ww.example.com"));
  EXPECT_NE(base.hash, keyFor("www.example.com", kTypeA, true).hash);
  EXPECT_NE(base.hash, keyFor("www.example.com", kTypeA, false, true).hash);
}

TEST(CacheKeyTest, ForQueryUsesTheLowerCasedName) {
  wire::Query q;
  const std::vector<uint8_t> sent = test::nameWire("WwW.ExAmPlE.CoM");
  const std::vector<uint8_t> lower = test::lowered(sent);
  std::copy(sent.begin(), sent.end(), q.qname.begin());
  std::copy(lower.begin(), lower.end(), q.qname_lower.begin());
  q.qname_len = static_cast<uint16_t>(sent.size());
  q.qtype = kTypeA;
  q.qclass = wire::kClassIn;
  q.flags = wire::kFlagRd;
  EXPECT_EQ(CacheKey::forQuery(q), keyFor("www.example.com"));

  q.do_bit = true;
  EXPECT_EQ(CacheKey::forQuery(q), keyFor("www.example.com", kTypeA, true));
  q.flags = static_cast<uint16_t>(q.flags | wire::kFlagCd);
  EXPECT_EQ(CacheKey::forQuery(q), keyFor("www.example.com", kTypeA, true, true));
}

}  // namespace
}  // namespace steadfast::cache
