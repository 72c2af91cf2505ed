// SPDX-License-Identifier: Apache-2.0
// Pipeline on a real (idle) libuv loop: the synchronous paths — cache hit, ACL refusal,
// malformed input — and the proof that a cache hit allocates nothing (STYLE.md section 6).
#include "resolver/pipeline/pipeline.h"

#include <arpa/inet.h>
#include <array>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/alloc_counter.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_random.h"

namespace steadfast::pipeline {
namespace {

class NullSink final : public DeliverySink {
 public:
  void deliver(const ClientHandle& /*client*/, std::span<const uint8_t> answer) noexcept override {
    ++delivered;
    last.assign(answer.begin(), answer.end());
  }
  int delivered = 0;
  std::vector<uint8_t> last;
};

std::vector<uint8_t> makeQuery(std::string_view name, uint16_t id, uint16_t qtype) {
  std::array<uint8_t, wire::kMaxNameWire> qname{};
  size_t qlen = 0;
  EXPECT_TRUE(wire::nameFromText(name, qname, qlen));
  std::vector<uint8_t> buf(512);
  const size_t n =
      wire::buildQuery(std::span<const uint8_t>(qname.data(), qlen), qtype, id, 1232, false, buf);
  EXPECT_GT(n, 0U);
  buf.resize(n);
  return buf;
}

/// An answer for `query` (same question) with one A record of TTL `ttl`, as an upstream
/// would send it, with no OPT.
std::vector<uint8_t> makeAnswer(const std::vector<uint8_t>& query, size_t question_end,
                                uint32_t ttl) {
  std::vector<uint8_t> a(query.begin(), query.begin() + static_cast<long>(question_end));
  wire::writeU16(a.data() + 2, wire::kFlagQr | wire::kFlagRd | wire::kFlagRa);
  wire::writeU16(a.data() + 6, 1);   // ancount
  wire::writeU16(a.data() + 10, 0);  // arcount: the query's OPT is not copied
  const std::array<uint8_t, 16> rr = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 10, 1, 2, 3};
  a.insert(a.end(), rr.begin(), rr.end());
  wire::writeU32(a.data() + question_end + 6, ttl);
  return a;
}

/// The INFO-CODE of the EDE option of `answer` (an answer to `query` with no records, whose
/// only additional RR is the OPT), or -1.
int edeCodeOf(const std::vector<uint8_t>& answer, const std::vector<uint8_t>& query) {
  wire::Query q;
  if (wire::parseQuery(query, q) != wire::QueryParse::Ok || answer.size() < q.question_end) {
    return -1;
  }
  size_t pos = q.question_end;  // the answer echoes the question; no records follow
  if (wire::readU16(answer.data() + 6) != 0 || wire::readU16(answer.data() + 8) != 0 ||
      wire::readU16(answer.data() + 10) != 1 || answer.size() < pos + wire::kOptRrSize) {
    return -1;
  }
  if (answer[pos] != 0 || wire::readU16(answer.data() + pos + 1) != wire::kTypeOpt) {
    return -1;
  }
  const size_t rdlen = wire::readU16(answer.data() + pos + 9);
  pos += wire::kOptRrSize;
  const size_t end = pos + rdlen;
  while (pos + 4 <= end && end <= answer.size()) {
    const uint16_t code = wire::readU16(answer.data() + pos);
    const uint16_t len = wire::readU16(answer.data() + pos + 2);
    if (code == 15 && len >= 2) {
      return wire::readU16(answer.data() + pos + 4);
    }
    pos += 4U + len;
  }
  return -1;
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    auto rt = std::make_shared<Runtime>();
    rt->config.allow = Acl({*Cidr::parse("127.0.0.0/8")});
    holder_.publish(rt);
    cache::CacheOptions opts;
    opts.max_memory = 8U << 20U;
    cache_ = std::make_unique<cache::PacketCache>(opts);
    reader_ = cache_->registerReader();
    pipeline_ =
        std::make_unique<Pipeline>(&loop_, *cache_, reader_, holder_, stats_.worker(0), 0, sink_);
    client_ = *SocketAddress::parse("127.0.0.1:40000");
    handle_.transport = Transport::Udp;
    handle_.peer = client_;
  }
  void TearDown() override {
    pipeline_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  /// Caches an answer for `name` as if it had been inserted `age` ago.
  void prime(std::string_view name, uint32_t ttl, Nanos age = Nanos{0}) {
    auto query = makeQuery(name, 1, 1);
    wire::Query q;
    ASSERT_EQ(wire::parseQuery(query, q), wire::QueryParse::Ok);
    auto answer = makeAnswer(query, q.question_end, ttl);
    wire::ResponseInfo info;
    ASSERT_EQ(wire::analyzeResponse(answer, 1, q, info), wire::ResponseCheck::Ok);
    cache_->insert(cache::CacheKey::forQuery(q),
                   cache::CacheableAnswer{
                       answer, std::span<const uint16_t>(info.ttl_offsets.data(), info.ttl_count),
                       info.min_ttl, false},
                   MonoClock::now() - age);
  }

  uv_loop_t loop_{};
  StatsRegistry stats_{1};
  RuntimeHolder holder_;
  std::unique_ptr<cache::PacketCache> cache_;
  cache::ReaderId reader_ = 0;
  NullSink sink_;
  std::unique_ptr<Pipeline> pipeline_;
  SocketAddress client_;
  ClientHandle handle_;
  std::array<uint8_t, 4096> out_{};
};

TEST_F(PipelineTest, CacheHitAnswersWithClientIdAndCase) {
  prime("www.example.test.", 300);
  auto query = makeQuery("WwW.Example.TEST.", 0xBEEF, 1);
  size_t len = 0;
  Pipeline::BatchScope scope(*pipeline_);
  ASSERT_EQ(pipeline_->process(query, client_, handle_, out_, len), Verdict::Answered);
  ASSERT_GT(len, wire::kHeaderSize);
  EXPECT_EQ(wire::messageId(out_), 0xBEEF);
  EXPECT_EQ(0, std::memcmp(out_.data() + 12, query.data() + 12, 18));  // qname as sent
  EXPECT_EQ(stats_.worker(0).cache_hits.get(), 1U);
  EXPECT_EQ(sink_.delivered, 0);
}

TEST(AllocCounterTest, SeesAnAllocation) {
  // Guards the test below: if the counting operator new were not linked in, a zero count
  // would prove nothing.
  test::AllocScope allocs;
  auto p = std::make_unique<std::vector<int>>(100);
  EXPECT_GE(allocs.allocations(), 2U);
}

TEST_F(PipelineTest, CacheHitDoesNotAllocate) {
  prime("www.example.test.", 300);
  auto query = makeQuery("www.example.test.", 7, 1);
  size_t len = 0;
  {  // warm-up: first use of thread-locals and lazily initialised state
    Pipeline::BatchScope scope(*pipeline_);
    ASSERT_EQ(pipeline_->process(query, client_, handle_, out_, len), Verdict::Answered);
  }
  test::AllocScope allocs;
  for (int i = 0; i < 1000; ++i) {
    Pipeline::BatchScope scope(*pipeline_);
    ASSERT_EQ(pipeline_->process(query, client_, handle_, out_, len), Verdict::Answered);
  }
  EXPECT_EQ(allocs.allocations(), 0U);
  EXPECT_EQ(stats_.worker(0).cache_hits.get(), 1001U);
}

TEST_F(PipelineTest, ClientOutsideAclIsRefused) {
  prime("www.example.test.", 300);
  auto query = makeQuery("www.example.test.", 9, 1);
  auto outside = *SocketAddress::parse("10.9.9.9:53");
  size_t len = 0;
  Pipeline::BatchScope scope(*pipeline_);
  ASSERT_EQ(pipeline_->process(query, outside, handle_, out_, len), Verdict::Answered);
  EXPECT_EQ(wire::headerRcode(wire::messageFlags(out_)), 5);
  EXPECT_EQ(stats_.worker(0).refused_acl.get(), 1U);
  EXPECT_EQ(stats_.worker(0).cache_hits.get(), 0U);
}

TEST_F(PipelineTest, MalformedQueriesAreCountedAndAnsweredOrDropped) {
  const std::array<uint8_t, 5> tiny = {1, 2, 3, 4, 5};
  size_t len = 0;
  Pipeline::BatchScope scope(*pipeline_);
  EXPECT_EQ(pipeline_->process(tiny, client_, handle_, out_, len), Verdict::Dropped);
  EXPECT_EQ(stats_.worker(0).dropped.get(), 1U);

  auto query = makeQuery("www.example.test.", 11, 1);
  query.resize(20);  // header intact, question cut short
  ASSERT_EQ(pipeline_->process(query, client_, handle_, out_, len), Verdict::Answered);
  EXPECT_EQ(wire::headerRcode(wire::messageFlags(out_)), 1);  // FORMERR
  EXPECT_EQ(wire::messageId(out_), 11);
  EXPECT_EQ(stats_.worker(0).malformed.get(), 1U);
}

TEST_F(PipelineTest, MissWithNoUpstreamsEndsInServfailWithEde) {
  auto query = makeQuery("nowhere.example.test.", 12, 1);
  size_t len = 0;
  {
    Pipeline::BatchScope scope(*pipeline_);
    ASSERT_EQ(pipeline_->process(query, client_, handle_, out_, len), Verdict::Pending);
  }
  ASSERT_EQ(sink_.delivered, 1);  // no upstream configured: answered at once
  ASSERT_GE(sink_.last.size(), wire::kHeaderSize);
  EXPECT_EQ(wire::headerRcode(wire::messageFlags(sink_.last)), 2);
  // Nobody could be asked at all: EDE 22 (No Reachable Authority), RFC 8914 4.23.
  EXPECT_EQ(edeCodeOf(sink_.last, query), 22);
  EXPECT_EQ(stats_.worker(0).cache_misses.get(), 1U);
}

}  // namespace
}  // namespace steadfast::pipeline

namespace steadfast::pipeline {
namespace {

TEST_F(PipelineTest, OverloadDropsMissesPastTheCapButServesStale) {
  // An upstream that never answers: a bound UDP socket nobody reads.
  const int sink_fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(sink_fd, 0);
  auto sink_addr = *SocketAddress::parse("127.0.0.1:0");
  ASSERT_EQ(::bind(sink_fd, sink_addr.sockaddrPtr(), sink_addr.length()), 0);
  sockaddr_storage ss{};
  socklen_t ss_len = sizeof ss;
  ASSERT_EQ(::getsockname(sink_fd, reinterpret_cast<sockaddr*>(&ss), &ss_len), 0);
  const SocketAddress bound(reinterpret_cast<sockaddr*>(&ss), ss_len);

  auto rt = std::make_shared<Runtime>(holder_.get() ? *holder_.get() : Runtime{});
  rt->upstreams.push_back(UpstreamTarget{*failover::UpstreamUri::parse("dns://" + bound.toString()),
                                         "primary", &stats_.upstream("primary", "blackhole")});
  failover::TierConfig tier;
  tier.name = "primary";
  rt->layoutTiers({tier});
  holder_.publish(rt);
  pipeline_->refresh();

  // A stale entry: TTL 1 s, inserted 2 s ago (no sleeping: the cache takes the time given).
  prime("stale.example.test.", 1, Seconds{2});

  size_t len = 0;
  Pipeline::BatchScope scope(*pipeline_);
  for (size_t i = 0; i < Pipeline::kMaxPending; ++i) {
    auto query = makeQuery("q" + std::to_string(i) + ".example.test.", 1, 1);
    ASSERT_EQ(pipeline_->process(query, client_, handle_, out_, len), Verdict::Pending) << i;
  }
  EXPECT_EQ(pipeline_->pending(), Pipeline::kMaxPending);
  auto over = makeQuery("one-more.example.test.", 2, 1);
  EXPECT_EQ(pipeline_->process(over, client_, handle_, out_, len), Verdict::Dropped);
  EXPECT_EQ(stats_.worker(0).overloaded.get(), 1U);
  auto stale = makeQuery("stale.example.test.", 3, 1);
  ASSERT_EQ(pipeline_->process(stale, client_, handle_, out_, len), Verdict::Answered);
  EXPECT_EQ(wire::headerRcode(wire::messageFlags(out_)), 0);
  EXPECT_EQ(stats_.worker(0).overloaded.get(), 1U);
  ::close(sink_fd);
}

}  // namespace
}  // namespace steadfast::pipeline

// ---------------------------------------------------------------------------------------------
// Retry and hedge logic, driven by a FakeClock and a fake AttemptSender: no sockets, no sleeps.
// ---------------------------------------------------------------------------------------------

namespace steadfast::pipeline {
namespace {

/// Records the attempts the pipeline starts; the test ends them by calling the pipeline's
/// listener methods, as the real UpstreamClient would.
class FakeSender final : public upstream::AttemptSender {
 public:
  struct Started {
    std::string uri;
    uint64_t cookie = 0;
    upstream::Attempt* handle = nullptr;
    bool cancelled = false;
    MonoTime at{};
  };
  explicit FakeSender(const test::FakeClock& clock) : clock_(clock) {}
  upstream::Attempt* start(const failover::UpstreamUri& uri, const wire::Query& /*q*/,
                           uint16_t /*edns*/, Nanos /*timeout*/, uint64_t cookie) override {
    started.push_back(Started{uri.text, cookie, nullptr, false, clock_.now()});
    // An opaque, never dereferenced handle: the address of a slot of ours.
    started.back().handle = reinterpret_cast<upstream::Attempt*>(&tokens_[started.size() % 64]);
    return started.back().handle;
  }
  void cancel(upstream::Attempt* a) noexcept override {
    for (auto& s : started) {
      if (s.handle == a && !s.cancelled) {
        s.cancelled = true;
        return;
      }
    }
  }
  [[nodiscard]] size_t count(std::string_view uri) const {
    size_t n = 0;
    for (const auto& s : started) {
      n += s.uri == uri ? 1 : 0;
    }
    return n;
  }
  std::vector<Started> started;

 private:
  const test::FakeClock& clock_;
  std::array<uint64_t, 64> tokens_{};
};

class RetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    cache::CacheOptions opts;
    opts.max_memory = 8U << 20U;
    cache_ = std::make_unique<cache::PacketCache>(opts);
    reader_ = cache_->registerReader();
    client_ = *SocketAddress::parse("127.0.0.1:40000");
    handle_.transport = Transport::Udp;
    handle_.peer = client_;
  }
  void TearDown() override {
    pipeline_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  /// Tiers of upstreams named dns://127.0.0.1:PORT; publishes the runtime and makes the
  /// pipeline.
  void setTiers(const std::vector<std::pair<std::string, std::vector<int>>>& tiers,
                Nanos budget = Millis{1500},
                failover::SelectionPolicyKind policy = failover::SelectionPolicyKind::Ordered) {
    auto rt = std::make_shared<Runtime>();
    rt->config.allow = Acl({*Cidr::parse("127.0.0.0/8")});
    rt->config.query_budget = budget;
    std::vector<failover::TierConfig> configs;
    for (const auto& [name, ports] : tiers) {
      failover::TierConfig t;
      t.name = name;
      t.policy = policy;
      configs.push_back(t);
      for (int port : ports) {
        auto uri = *failover::UpstreamUri::parse("dns://127.0.0.1:" + std::to_string(port));
        rt->upstreams.push_back(UpstreamTarget{uri, name, &stats_.upstream(name, uri.text)});
      }
    }
    rt->layoutTiers(configs);
    rt->plan_id = 7;
    holder_.publish(rt);
    Pipeline::Options o;
    o.clock = &clock_;
    o.sender = &sender_;
    o.random = &random_;
    o.passive = &passive_;
    pipeline_ = std::make_unique<Pipeline>(&loop_, *cache_, reader_, holder_, stats_.worker(0), 0,
                                           sink_, o);
  }

  /// Publishes a health snapshot: `usable` per upstream, `active` tier.
  void setHealth(std::vector<uint8_t> usable, int active) {
    auto rt = std::make_shared<Runtime>(*holder_.get());
    auto snap = std::make_shared<failover::PlanSnapshot>();
    snap->tiers = rt->tiers;
    snap->usable = usable;
    snap->drained.assign(usable.size(), 0);
    for (uint8_t u : usable) {
      snap->health.push_back(u != 0 ? failover::Health::Healthy : failover::Health::Unhealthy);
    }
    snap->active_tier = active;
    rt->plan = snap;
    holder_.publish(rt);
    pipeline_->refresh();
  }

  std::vector<uint8_t> ask(std::string_view name, uint16_t id = 1) {
    auto query = makeQuery(name, id, 1);
    size_t len = 0;
    Pipeline::BatchScope scope(*pipeline_);
    EXPECT_EQ(pipeline_->process(query, client_, handle_, out_, len), Verdict::Pending);
    return query;
  }

  /// Ends attempt `i` with a NOERROR answer (or `rcode`) after `rtt`.
  void answerAttempt(size_t i, const std::vector<uint8_t>& query, uint16_t rcode = 0,
                     Nanos rtt = Millis{1}) {
    wire::Query q;
    ASSERT_EQ(wire::parseQuery(query, q), wire::QueryParse::Ok);
    auto a = makeAnswer(query, q.question_end, 300);
    wire::writeU16(a.data(), 0);
    wire::writeU16(a.data() + 2,
                   static_cast<uint16_t>(wire::kFlagQr | wire::kFlagRd | wire::kFlagRa | rcode));
    if (rcode != 0) {
      wire::writeU16(a.data() + 6, 0);
      a.resize(q.question_end);
    }
    wire::ResponseInfo info;
    ASSERT_EQ(wire::analyzeResponse(a, 0, q, info), wire::ResponseCheck::Ok);
    const auto& s = sender_.started.at(i);
    ASSERT_FALSE(s.cancelled) << "attempt " << i << " was cancelled";
    pipeline_->onAttemptDone(s.handle, s.cookie, upstream::AttemptOutcome::Answer, a, info, rtt);
  }

  void advance(Nanos d) {
    clock_.advance(d);
    pipeline_->runDueTimers();
  }

  std::vector<PassiveEvent> drainPassive() {
    std::vector<PassiveEvent> out;
    passive_.drain([&](const PassiveEvent& e) { out.push_back(e); });
    return out;
  }

  uint64_t errors(std::string_view uri, UpstreamError e) {
    uint64_t n = 0;
    stats_.forEachUpstream([&](const UpstreamStats& u) {
      if (u.uri == uri) {
        n += u.per_worker[0].errors[static_cast<size_t>(e)].get();
      }
    });
    return n;
  }

  uv_loop_t loop_{};
  test::FakeClock clock_;
  test::FakeRandom random_{{test::FakeRandom::forUnit(0.5)}};
  FakeSender sender_{clock_};
  PassiveChannel passive_;
  StatsRegistry stats_{1};
  RuntimeHolder holder_;
  std::unique_ptr<cache::PacketCache> cache_;
  cache::ReaderId reader_ = 0;
  NullSink sink_;
  std::unique_ptr<Pipeline> pipeline_;
  SocketAddress client_;
  ClientHandle handle_;
  std::array<uint8_t, 4096> out_{};
};

constexpr std::string_view kA = "dns://127.0.0.1:1001";
constexpr std::string_view kB = "dns://127.0.0.1:1002";

TEST_F(RetryTest, UnmeasuredUpstreamIsHedgedAfter100ms) {
  setTiers({{"primary", {1001}}, {"union", {1002}}});
  auto q = ask("a.example.test.");
  ASSERT_EQ(sender_.started.size(), 1U);
  EXPECT_EQ(sender_.started[0].uri, kA);
  advance(Millis{99});
  EXPECT_EQ(sender_.started.size(), 1U) << "asked the next tier before the wait";
  advance(Millis{1});
  ASSERT_EQ(sender_.started.size(), 2U);
  EXPECT_EQ(sender_.started[1].uri, kB);
  EXPECT_FALSE(sender_.started[0].cancelled) << "the first attempt must keep listening";
  answerAttempt(1, q);
  ASSERT_EQ(sink_.delivered, 1);
  EXPECT_EQ(wire::headerRcode(wire::messageFlags(sink_.last)), 0);
  EXPECT_TRUE(sender_.started[0].cancelled);
  // A waited its full wait without answering: a timeout for the stats and for health.
  EXPECT_EQ(errors(kA, UpstreamError::Timeout), 1U);
  auto events = drainPassive();
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].upstream, 0);
  EXPECT_EQ(events[0].outcome, failover::Outcome::Timeout);
  EXPECT_EQ(events[0].plan_id, 7U);
}

TEST_F(RetryTest, MeasuredFastUpstreamIsHedgedAtTheFloor) {
  setTiers({{"primary", {1001}}, {"union", {1002}}});
  for (int i = 0; i < 5; ++i) {  // five quick answers: srtt ~1 ms
    auto q = ask("m" + std::to_string(i) + ".example.test.");
    answerAttempt(sender_.started.size() - 1, q, 0, Millis{1});
  }
  const size_t before = sender_.started.size();
  ask("slow.example.test.");
  advance(Millis{49});
  EXPECT_EQ(sender_.started.size(), before + 1);
  advance(Millis{1});  // the 50 ms floor, not a third of the budget
  ASSERT_EQ(sender_.started.size(), before + 2);
  EXPECT_EQ(sender_.started.back().uri, kB);
  const auto* est = pipeline_->rtt(0);
  ASSERT_NE(est, nullptr);
  EXPECT_EQ(est->samples(), 5U);
}

TEST_F(RetryTest, LateAnswerFromTheFirstUpstreamStillWins) {
  setTiers({{"primary", {1001}}, {"union", {1002}}});
  auto q = ask("late.example.test.");
  advance(Millis{100});
  ASSERT_EQ(sender_.started.size(), 2U);
  advance(Millis{5});
  answerAttempt(0, q, 0, Millis{105});  // A answers late, before B
  ASSERT_EQ(sink_.delivered, 1);
  EXPECT_TRUE(sender_.started[1].cancelled);
  // B was asked 5 ms ago, well within its own wait: no verdict on it.
  EXPECT_EQ(errors(kB, UpstreamError::Timeout), 0U);
  EXPECT_EQ(errors(kA, UpstreamError::Timeout), 0U);
  // Health heard "late" when the wait passed, and the late success that resets it.
  auto events = drainPassive();
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[0].outcome, failover::Outcome::Timeout);
  EXPECT_EQ(events[1].outcome, failover::Outcome::Ok);
}

TEST_F(RetryTest, LatenessIsPostedWhenTheWaitPassesNotWhenTheQueryEnds) {
  setTiers({{"primary", {1001}}, {"union", {1002}}});
  ask("early.example.test.");
  advance(Millis{100});
  auto events = drainPassive();
  ASSERT_EQ(events.size(), 1U) << "the timeout must reach health while the query goes on";
  EXPECT_EQ(events[0].outcome, failover::Outcome::Timeout);
  advance(Millis{1400});  // the budget ends: no second post for A, one for B (silent too)
  events = drainPassive();
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].upstream, 1);
  EXPECT_EQ(events[0].outcome, failover::Outcome::Timeout);
  EXPECT_EQ(errors(kA, UpstreamError::Timeout), 1U);
  EXPECT_EQ(errors(kB, UpstreamError::Timeout), 1U);
}

TEST_F(RetryTest, ProbeMeasurementSetsTheWaitOfAnUpstreamThisWorkerNeverAsked) {
  setTiers({{"primary", {1001}}, {"union", {1002}}});
  setHealth({1, 1}, 0);
  {
    auto rt = std::make_shared<Runtime>(*holder_.get());
    auto snap = std::make_shared<failover::PlanSnapshot>(*rt->plan);
    snap->probe_wait = {Millis{60}, Millis{70}};
    rt->plan = snap;
    holder_.publish(rt);
    pipeline_->refresh();
  }
  ask("probed.example.test.");
  advance(Millis{59});
  EXPECT_EQ(sender_.started.size(), 1U);
  advance(Millis{1});
  EXPECT_EQ(sender_.started.size(), 2U) << "the probes' 60 ms, not the unmeasured 100 ms";
}

TEST_F(RetryTest, NothingUsableServesStaleAtOnce) {
  setTiers({{"primary", {1001}}, {"union", {1002}}});
  // A stale entry: TTL 1 s, inserted 2 s ago.
  {
    auto query = makeQuery("stale.example.test.", 1, 1);
    wire::Query q;
    ASSERT_EQ(wire::parseQuery(query, q), wire::QueryParse::Ok);
    auto answer = makeAnswer(query, q.question_end, 1);
    wire::ResponseInfo info;
    ASSERT_EQ(wire::analyzeResponse(answer, 1, q, info), wire::ResponseCheck::Ok);
    cache_->insert(cache::CacheKey::forQuery(q),
                   cache::CacheableAnswer{
                       answer, std::span<const uint16_t>(info.ttl_offsets.data(), info.ttl_count),
                       info.min_ttl, false},
                   clock_.now() - Seconds{2});
  }
  auto query = makeQuery("stale.example.test.", 9, 1);
  size_t len = 0;
  {
    Pipeline::BatchScope scope(*pipeline_);
    // While upstreams are thought usable, a stale entry does not stop the query going out.
    ASSERT_EQ(pipeline_->process(query, client_, handle_, out_, len), Verdict::Pending);
  }
  ASSERT_EQ(sender_.started.size(), 1U);
  setHealth({0, 0}, -1);
  {
    Pipeline::BatchScope scope(*pipeline_);
    ASSERT_EQ(pipeline_->process(query, client_, handle_, out_, len), Verdict::Answered)
        << "no tier is usable: the stale answer at once";
  }
  EXPECT_EQ(sender_.started.size(), 1U);
  EXPECT_EQ(wire::headerRcode(wire::messageFlags(out_)), 0);
}

TEST_F(RetryTest, ServfailMovesOnAtOnceAndIsCountedAsItsKind) {
  setTiers({{"primary", {1001}}, {"union", {1002}}});
  auto q = ask("sf.example.test.");
  answerAttempt(0, q, static_cast<uint16_t>(wire::Rcode::ServFail));
  ASSERT_EQ(sender_.started.size(), 2U) << "SERVFAIL must move on without waiting";
  EXPECT_EQ(sender_.started[1].at, sender_.started[0].at);
  EXPECT_EQ(errors(kA, UpstreamError::ServFail), 1U);
  answerAttempt(1, q);
  EXPECT_EQ(sink_.delivered, 1);
  auto events = drainPassive();
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].outcome, failover::Outcome::ServFail);
}

TEST_F(RetryTest, FormerrAndNotimpAreTheirOwnKinds) {
  setTiers({{"primary", {1001, 1003}}, {"union", {1002}}});
  auto q = ask("fe.example.test.");
  answerAttempt(0, q, static_cast<uint16_t>(wire::Rcode::FormErr));
  answerAttempt(1, q, static_cast<uint16_t>(wire::Rcode::NotImp));
  EXPECT_EQ(errors(kA, UpstreamError::FormErr), 1U);
  EXPECT_EQ(errors("dns://127.0.0.1:1003", UpstreamError::NotImp), 1U);
  EXPECT_EQ(errors(kA, UpstreamError::Network), 0U);
  ASSERT_EQ(sender_.started.size(), 3U);
  answerAttempt(2, q);
  EXPECT_EQ(sink_.delivered, 1);
}

TEST_F(RetryTest, SilentUpstreamsEndInServfailWithEde22AtTheBudget) {
  setTiers({{"primary", {1001}}, {"union", {1002}}}, Millis{1500});
  auto q = ask("silent.example.test.");
  advance(Millis{100});
  ASSERT_EQ(sender_.started.size(), 2U);
  advance(Millis{1399});
  EXPECT_EQ(sink_.delivered, 0) << "answered before the budget ended";
  advance(Millis{1});
  ASSERT_EQ(sink_.delivered, 1) << "no answer at the budget's end";
  EXPECT_EQ(wire::headerRcode(wire::messageFlags(sink_.last)), 2);
  EXPECT_EQ(edeCodeOf(sink_.last, q), 22);
  EXPECT_TRUE(sender_.started[0].cancelled);
  EXPECT_TRUE(sender_.started[1].cancelled);
  EXPECT_EQ(pipeline_->pending(), 0U);
}

TEST_F(RetryTest, NetworkErrorsOnlyEndInEde23) {
  setTiers({{"primary", {1001}}, {"union", {1002}}});
  auto q = ask("net.example.test.");
  wire::ResponseInfo none;
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_EQ(sender_.started.size(), i + 1);
    const auto& s = sender_.started[i];
    pipeline_->onAttemptDone(s.handle, s.cookie, upstream::AttemptOutcome::Network, {}, none,
                             Nanos{0});
  }
  ASSERT_EQ(sink_.delivered, 1);
  EXPECT_EQ(edeCodeOf(sink_.last, q), 23);
  EXPECT_EQ(errors(kA, UpstreamError::Network), 1U);
}

TEST_F(RetryTest, EightPrimariesStillReachTheUnionTierWithinTheBudget) {
  setTiers({{"primary", {1001, 1003, 1004, 1005, 1006, 1007, 1008, 1009}}, {"union", {1002}}});
  auto q = ask("eight.example.test.");
  for (int i = 0; i < 10 && sender_.count(kB) == 0; ++i) {
    advance(Millis{100});
  }
  ASSERT_EQ(sender_.count(kB), 1U) << "the union tier was never asked";
  EXPECT_LE(sender_.started.back().at - sender_.started.front().at, Millis{400})
      << "at most 4 primaries (100 ms each) before the union tier";
  answerAttempt(sender_.started.size() - 1, q);
  EXPECT_EQ(sink_.delivered, 1);
}

TEST_F(RetryTest, UnhealthyPrimaryIsSkippedAndTriedOnlyLast) {
  setTiers({{"primary", {1001}}, {"union", {1002}}});
  setHealth({0, 1}, 1);
  auto q = ask("skip.example.test.");
  ASSERT_EQ(sender_.started.size(), 1U);
  EXPECT_EQ(sender_.started[0].uri, kB) << "the active tier is union";
  answerAttempt(0, q, static_cast<uint16_t>(wire::Rcode::ServFail));
  ASSERT_EQ(sender_.started.size(), 2U) << "the unhealthy primary is the last hope";
  EXPECT_EQ(sender_.started[1].uri, kA);
}

TEST_F(RetryTest, PassiveSuccessIsPostedOnlyAfterAFailure) {
  setTiers({{"primary", {1001}}, {"union", {1002}}});
  auto q1 = ask("p1.example.test.");
  answerAttempt(0, q1);
  EXPECT_TRUE(drainPassive().empty());
  auto q2 = ask("p2.example.test.");
  answerAttempt(1, q2, static_cast<uint16_t>(wire::Rcode::Refused));
  answerAttempt(2, q2);  // union answers
  auto q3 = ask("p3.example.test.");
  answerAttempt(3, q3);  // primary answers again: the reset is posted once
  auto q4 = ask("p4.example.test.");
  answerAttempt(4, q4);
  auto events = drainPassive();
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[0].outcome, failover::Outcome::Refused);
  EXPECT_EQ(events[1].outcome, failover::Outcome::Ok);
  EXPECT_EQ(events[1].upstream, 0);
}

TEST_F(RetryTest, FastestExplorationWaitsNoLongerThanForTheBestAndJudgesNothing) {
  // Draws per query: pick, then the explore share. Queries 1 and 2 do not explore by draw,
  // query 3 does.
  random_ = test::FakeRandom({0, test::FakeRandom::forUnit(0.5), 0, test::FakeRandom::forUnit(0.5),
                              0, test::FakeRandom::forUnit(0.01)});
  setTiers({{"primary", {1001, 1003}}, {"union", {1002}}}, Millis{1500},
           failover::SelectionPolicyKind::Fastest);
  constexpr std::string_view kC = "dns://127.0.0.1:1003";
  auto q1 = ask("e1.example.test.");
  ASSERT_EQ(sender_.started.size(), 1U);
  ASSERT_EQ(sender_.started[0].uri, kA);
  answerAttempt(0, q1, 0, Millis{1});  // A measured: ~1 ms, wait 50 ms (the floor)

  // Query 2: C was never measured, so it goes first to be measured, but the query waits for
  // it only as long as for A (50 ms), not the 100 ms of an unmeasured upstream.
  auto q2 = ask("e2.example.test.");
  ASSERT_EQ(sender_.started.size(), 2U);
  EXPECT_EQ(sender_.started[1].uri, kC);
  advance(Millis{49});
  EXPECT_EQ(sender_.started.size(), 2U);
  advance(Millis{1});
  ASSERT_EQ(sender_.started.size(), 3U);
  EXPECT_EQ(sender_.started[2].uri, kA);
  answerAttempt(2, q2, 0, Millis{1});
  EXPECT_EQ(sink_.delivered, 2);
  EXPECT_EQ(errors(kC, UpstreamError::Timeout), 0U)
      << "exploration beaten by the best says nothing against the explored upstream";
  EXPECT_TRUE(drainPassive().empty());
  const auto* est = pipeline_->rtt(1);
  ASSERT_NE(est, nullptr);
  EXPECT_EQ(est->samples(), 1U) << "its wait became a lower bound of its RTT";
  EXPECT_EQ(est->srtt(), Millis{50});

  // Query 3: now A ranks first (1 ms < 50 ms); the 5% draw puts C first, again with A's wait.
  auto q3 = ask("e3.example.test.");
  ASSERT_EQ(sender_.started.size(), 4U);
  EXPECT_EQ(sender_.started[3].uri, kC);
  advance(Millis{50});
  ASSERT_EQ(sender_.started.size(), 5U);
  EXPECT_EQ(sender_.started[4].uri, kA);
  answerAttempt(4, q3, 0, Millis{1});
  EXPECT_EQ(errors(kC, UpstreamError::Timeout), 0U);
}

TEST_F(RetryTest, MismatchBurstIsOnePassiveFailure) {
  setTiers({{"primary", {1001}}, {"union", {1002}}});
  ask("mm.example.test.");
  for (uint32_t i = 0; i < Pipeline::kMismatchBurst - 1; ++i) {
    pipeline_->onMismatch(sender_.started[0].cookie);
  }
  EXPECT_TRUE(drainPassive().empty()) << "single mismatches are noise";
  pipeline_->onMismatch(sender_.started[0].cookie);
  auto events = drainPassive();
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].outcome, failover::Outcome::Mismatch);
  EXPECT_EQ(errors(kA, UpstreamError::Mismatch), Pipeline::kMismatchBurst);
}

}  // namespace
}  // namespace steadfast::pipeline
