// SPDX-License-Identifier: Apache-2.0
// Crisis mode decision: operator mode, directives (accepted, expired, replayed, malformed),
// expiry back to the operator's mode, persistence across a restart. Fake clock, no sleeps.
#include "failover/crisis.h"

#include <chrono>

#include <gtest/gtest.h>

#include "tests/support/fake_clock.h"

namespace steadfast::failover {
namespace {

int64_t unixNow(const Clock& c) {
  return std::chrono::duration_cast<std::chrono::seconds>(c.wallNow().time_since_epoch()).count();
}

Directive unionOnly(int64_t issued, int64_t expires) {
  return Directive{CrisisMode::UnionOnly, issued, expires, "cert-eu", "drill"};
}

TEST(CrisisParseTest, GoodDirective) {
  auto d = parseDirective(
      R"({"mode":"union-only","issued_at":100,"expires_at":200,"issuer":"x","reason":"y"})");
  ASSERT_TRUE(d.ok()) << d.error().detail;
  EXPECT_EQ(d->mode, CrisisMode::UnionOnly);
  EXPECT_EQ(d->issuedAt, 100);
  EXPECT_EQ(d->expiresAt, 200);
  EXPECT_EQ(d->issuer, "x");
  EXPECT_EQ(d->reason, "y");
}

TEST(CrisisParseTest, MalformedDirectivesAreRefused) {
  const char* bad[] = {
      "",
      "{",
      "[]",
      "null",
      R"({"mode":"union-only","issued_at":100,"expires_at":200})",  // no issuer
      R"({"mode":"panic","issued_at":100,"expires_at":200,"issuer":"x"})",
      R"({"mode":"auto","issued_at":"100","expires_at":200,"issuer":"x"})",
      R"({"mode":"auto","issued_at":1.5,"expires_at":200,"issuer":"x"})",
      R"({"mode":"auto","issued_at":-1,"expires_at":200,"issuer":"x"})",
      R"({"mode":"auto","issued_at":300,"expires_at":200,"issuer":"x"})",
      R"({"mode":"auto","issued_at":100,"expires_at":200,"issuer":"x","extra":1})",
      R"({"mode":"auto","mode":"union-only","issued_at":100,"expires_at":200,"issuer":"x"})",
      R"({"mode":"auto","issued_at":100,"expires_at":200,"issuer":{"a":1}})",
      R"({"mode":"auto","issued_at":100,"expires_at":200,"issuer":["a"]})",
      R"({"mode":"auto","issued_at":100,"expires_at":200,"issuer":"a\u0000b"})",
  };
  for (const char* b : bad) {
    auto d = parseDirective(b);
    EXPECT_FALSE(d.ok()) << b;
    if (!d.ok()) {
      EXPECT_EQ(d.error().code, Errc::Malformed) << b;
      EXPECT_FALSE(d.error().detail.empty());
    }
  }
  std::string huge(kMaxDirectiveBytes + 1, ' ');
  EXPECT_FALSE(parseDirective(huge).ok());
  std::string deep(2000, '[');
  EXPECT_FALSE(parseDirective(deep).ok());
}

TEST(CrisisStateTest, ConfigModeAtStart) {
  test::FakeClock clock;
  CrisisState s(CrisisMode::UnionOnly, {}, clock);
  EXPECT_EQ(s.effective(), CrisisMode::UnionOnly);
  EXPECT_EQ(s.source(), CrisisSource::Config);
}

TEST(CrisisStateTest, OperatorChangesModeAndNamesWho) {
  test::FakeClock clock;
  CrisisState s(CrisisMode::Auto, {}, clock);
  auto c = s.setOperator(CrisisMode::UnionOnly, "api");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->from, CrisisMode::Auto);
  EXPECT_EQ(c->to, CrisisMode::UnionOnly);
  EXPECT_EQ(c->who, "operator:api");
  EXPECT_EQ(s.source(), CrisisSource::Operator);
  EXPECT_FALSE(s.setOperator(CrisisMode::UnionOnly, "api").has_value()) << "no change";
}

TEST(CrisisStateTest, GoodDirectiveThenExpiryReturnsToOperatorMode) {
  test::FakeClock clock;
  CrisisState s(CrisisMode::Auto, {}, clock);
  const int64_t now = unixNow(clock);
  std::optional<CrisisChange> change;
  EXPECT_EQ(s.offer(unionOnly(now - 5, now + 60), &change), DirectiveResult::Accepted);
  ASSERT_TRUE(change.has_value());
  EXPECT_EQ(change->who, "directive:cert-eu");
  EXPECT_EQ(s.effective(), CrisisMode::UnionOnly);
  EXPECT_EQ(s.source(), CrisisSource::Directive);

  clock.advance(Seconds{59});
  EXPECT_FALSE(s.tick().has_value());
  EXPECT_EQ(s.effective(), CrisisMode::UnionOnly);
  clock.advance(Seconds{1});
  auto back = s.tick();
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->to, CrisisMode::Auto);
  EXPECT_EQ(back->who, "directive expired:cert-eu");
  EXPECT_EQ(s.effective(), CrisisMode::Auto);
  EXPECT_EQ(s.source(), CrisisSource::Config);
}

TEST(CrisisStateTest, OperatorChangeUnderADirectiveAppliesAtExpiry) {
  test::FakeClock clock;
  CrisisState s(CrisisMode::Auto, {}, clock);
  const int64_t now = unixNow(clock);
  ASSERT_EQ(s.offer(Directive{CrisisMode::Auto, now, now + 10, "i", ""}),
            DirectiveResult::Accepted);
  EXPECT_FALSE(s.setOperator(CrisisMode::UnionOnly, "cli").has_value()) << "directive wins";
  clock.advance(Seconds{10});
  auto c = s.tick();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(s.effective(), CrisisMode::UnionOnly);
  EXPECT_EQ(s.source(), CrisisSource::Operator);
}

TEST(CrisisStateTest, ExpiredDirectiveIsRejected) {
  test::FakeClock clock;
  CrisisState s(CrisisMode::Auto, {}, clock);
  const int64_t now = unixNow(clock);
  EXPECT_EQ(s.offer(unionOnly(now - 100, now)), DirectiveResult::Expired);
  EXPECT_EQ(s.effective(), CrisisMode::Auto);
}

TEST(CrisisStateTest, ReplayedDirectiveIsRejected) {
  test::FakeClock clock;
  CrisisState s(CrisisMode::Auto, {}, clock);
  const int64_t now = unixNow(clock);
  ASSERT_EQ(s.offer(unionOnly(now, now + 30)), DirectiveResult::Accepted);
  clock.advance(Seconds{30});
  ASSERT_TRUE(s.tick().has_value());
  EXPECT_EQ(s.offer(unionOnly(now, now + 3600)), DirectiveResult::Replayed) << "same issued_at";
  EXPECT_EQ(s.offer(unionOnly(now - 1, now + 3600)), DirectiveResult::Replayed) << "older";
  EXPECT_EQ(s.effective(), CrisisMode::Auto);
  EXPECT_EQ(s.offer(unionOnly(now + 1, now + 3600)), DirectiveResult::Accepted) << "newer";
}

TEST(CrisisStateTest, StateSurvivesARestartIncludingTheReplayGuard) {
  test::FakeClock clock;
  const int64_t now = unixNow(clock);
  std::string saved;
  {
    CrisisState s(CrisisMode::Auto, {}, clock);
    ASSERT_EQ(s.offer(unionOnly(now, now + 100)), DirectiveResult::Accepted);
    saved = serializeCrisis(s.persisted());
  }
  auto restored = parseCrisisState(saved);
  ASSERT_TRUE(restored.ok()) << restored.error().detail;
  CrisisState again(CrisisMode::Auto, *restored, clock);
  EXPECT_EQ(again.effective(), CrisisMode::UnionOnly);
  EXPECT_EQ(again.source(), CrisisSource::Directive);
  EXPECT_EQ(again.offer(unionOnly(now, now + 100)), DirectiveResult::Replayed);

  clock.advance(Seconds{200});  // down past the expiry: back to the operator's mode at start
  CrisisState later(CrisisMode::Auto, *restored, clock);
  EXPECT_EQ(later.effective(), CrisisMode::Auto);
  EXPECT_EQ(later.offer(unionOnly(now, now + 1000)), DirectiveResult::Replayed);

  CrisisState op(CrisisMode::Auto, {}, clock);
  op.setOperator(CrisisMode::UnionOnly, "api");
  auto r2 = parseCrisisState(serializeCrisis(op.persisted()));
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(CrisisState(CrisisMode::Auto, *r2, clock).effective(), CrisisMode::UnionOnly);
  EXPECT_FALSE(parseCrisisState("{}").ok());
  EXPECT_FALSE(parseCrisisState("garbage").ok());
}

}  // namespace
}  // namespace steadfast::failover
