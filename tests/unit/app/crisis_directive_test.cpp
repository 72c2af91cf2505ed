// SPDX-License-Identifier: Apache-2.0
// One directive poll with an injected fetch: good, unsigned, forged, wrong key, malformed,
// replayed, expiry back to the operator's mode; file:// fetching; https:// not yet. The key
// and signature were made once with `openssl genpkey -algorithm ed25519` and
// `openssl pkeyutl -sign -rawin` (test data).
#include "resolver/app/crisis_directive.h"

#include <cstdio>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "tests/support/fake_clock.h"

namespace steadfast::app {
namespace {

using failover::CrisisMode;
using failover::DirectiveResult;

constexpr std::string_view kKeyA =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAUk5lbCUeVd4Emf3zDUeodWAwrD7IqY1abLcju3IyioE=\n"
    "-----END PUBLIC KEY-----\n";
constexpr std::string_view kKeyB =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAoyAteE2b5LmQJSlgpOq4505bZEMa7BiqISNDDutt6Vc=\n"
    "-----END PUBLIC KEY-----\n";
// The fake clock's wall time is 1798600000: issued 1000 s before, expires 100000 s after.
constexpr std::string_view kDoc =
    R"({"mode":"union-only","issued_at":1798599000,"expires_at":1798700000,"issuer":"cert-eu","reason":"test"})";
const unsigned char kSig[] = {
    0xe2, 0x67, 0x82, 0xd3, 0xaa, 0xd0, 0xc8, 0x14, 0xdb, 0xb3, 0x78, 0xff, 0x6a, 0x98, 0xdb, 0x66,
    0xa7, 0xb5, 0xba, 0x9e, 0xfa, 0x5a, 0x6d, 0xdc, 0xe0, 0x35, 0x1a, 0x86, 0x4e, 0xe1, 0xf0, 0x77,
    0x93, 0x9e, 0xc2, 0xe4, 0xb9, 0x1e, 0x54, 0xb1, 0xad, 0x71, 0x39, 0xd4, 0x3d, 0x88, 0xb5, 0xd0,
    0xc5, 0x21, 0x84, 0x8a, 0x40, 0x2d, 0xa0, 0xbb, 0xaa, 0x53, 0x9e, 0xfe, 0x07, 0x57, 0xf9, 0x0b};
constexpr const char* kUrl = "file:///d.json";

struct Fixture {
  std::map<std::string, std::string> files{
      {kUrl, std::string(kDoc)},
      {std::string(kUrl) + ".sig", std::string(reinterpret_cast<const char*>(kSig), sizeof(kSig))}};
  FetchFn fetch() {
    return [this](const std::string& url) -> Result<std::string> {
      auto it = files.find(url);
      if (it == files.end()) {
        return makeError(Errc::Io, url + ": not found");
      }
      return it->second;
    };
  }
};

io::Ed25519PublicKey key(std::string_view pem) {
  auto k = io::Ed25519PublicKey::fromPem(pem);
  EXPECT_TRUE(k.ok());
  return std::move(*k);
}

TEST(CrisisDirectiveTest, GoodDirectiveChangesTheModeUntilItExpires) {
  test::FakeClock clock;
  failover::CrisisState state(CrisisMode::Auto, {}, clock);
  Fixture f;
  auto r = checkDirective(kUrl, key(kKeyA), f.fetch(), state);
  EXPECT_EQ(r.result, DirectiveResult::Accepted) << r.detail;
  ASSERT_TRUE(r.change.has_value());
  EXPECT_EQ(r.change->who, "directive:cert-eu");
  EXPECT_EQ(state.effective(), CrisisMode::UnionOnly);

  auto again = checkDirective(kUrl, key(kKeyA), f.fetch(), state);
  EXPECT_EQ(again.result, DirectiveResult::Replayed) << "the same document polled again";
  EXPECT_FALSE(again.change.has_value());

  clock.advance(Seconds{100000});
  auto after = checkDirective(kUrl, key(kKeyA), f.fetch(), state);
  ASSERT_TRUE(after.change.has_value()) << "expiry ends the directive";
  EXPECT_EQ(after.change->to, CrisisMode::Auto);
  EXPECT_EQ(state.effective(), CrisisMode::Auto);
  EXPECT_EQ(after.result, DirectiveResult::Expired);
}

TEST(CrisisDirectiveTest, RejectedDirectivesNeverChangeTheMode) {
  test::FakeClock clock;
  failover::CrisisState state(CrisisMode::Auto, {}, clock);
  {
    Fixture f;
    f.files.erase(std::string(kUrl) + ".sig");
    EXPECT_EQ(checkDirective(kUrl, key(kKeyA), f.fetch(), state).result, DirectiveResult::Unsigned);
  }
  {
    Fixture f;
    EXPECT_EQ(checkDirective(kUrl, key(kKeyB), f.fetch(), state).result,
              DirectiveResult::BadSignature)
        << "wrong key";
  }
  {
    Fixture f;
    f.files[kUrl] = std::string(kDoc).replace(9, 10, "auto\",\"x\":");  // forged body
    EXPECT_EQ(checkDirective(kUrl, key(kKeyA), f.fetch(), state).result,
              DirectiveResult::BadSignature);
  }
  {
    Fixture f;
    f.files.clear();
    EXPECT_EQ(checkDirective(kUrl, key(kKeyA), f.fetch(), state).result,
              DirectiveResult::FetchError);
  }
  EXPECT_EQ(state.effective(), CrisisMode::Auto);
  clock.advance(Seconds{200000});
  Fixture f;
  EXPECT_EQ(checkDirective(kUrl, key(kKeyA), f.fetch(), state).result, DirectiveResult::Expired);
  EXPECT_EQ(state.effective(), CrisisMode::Auto);
}

TEST(CrisisDirectiveTest, FileAndHttpsUrls) {
  const std::string path = ::testing::TempDir() + "crisis_directive_test.json";
  {
    std::ofstream out(path, std::ios::binary);
    out << kDoc;
  }
  auto body = fetchDirectiveUrl("file://" + path);
  ASSERT_TRUE(body.ok()) << body.error().detail;
  EXPECT_EQ(*body, kDoc);
  EXPECT_FALSE(fetchDirectiveUrl("file://relative/path").ok());
  EXPECT_FALSE(fetchDirectiveUrl("file:///nonexistent/steadfast/d.json").ok());
  auto https = fetchDirectiveUrl("https://127.0.0.1/d.json");
  ASSERT_FALSE(https.ok());
  EXPECT_NE(https.error().detail.find("not supported yet"), std::string::npos);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace steadfast::app
