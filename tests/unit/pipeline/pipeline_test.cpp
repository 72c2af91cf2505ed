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
