// SPDX-License-Identifier: Apache-2.0
#include "resolver/pipeline/pipeline.h"

#include <algorithm>
#include <array>

namespace steadfast::pipeline {

/// A cache miss on its way through the upstreams. Pooled: the timer handle is initialised
/// once and only closed when the Pipeline goes away, so reuse costs no allocation.
struct PendingQuery {
  static constexpr size_t kMaxAttempts = 8;

  Pipeline* owner = nullptr;
  uint32_t index = 0;
  bool in_use = false;
  wire::Query q;
  ClientHandle client;
  std::shared_ptr<const Runtime> runtime;  // keeps the upstream URIs alive across a reload
  MonoTime started{};
  MonoTime deadline{};
  size_t next_upstream = 0;
  size_t launched = 0;
  std::array<upstream::Attempt*, kMaxAttempts> attempts{};
  std::array<size_t, kMaxAttempts> attempt_upstream{};
  std::array<MonoTime, kMaxAttempts> attempt_started{};
  bool saw_timeout = false;
  bool saw_network = false;
  bool saw_rcode = false;
  uv_timer_t timer{};

  [[nodiscard]] size_t active() const noexcept {
    size_t n = 0;
    for (auto* a : attempts) {
      n += a != nullptr ? 1 : 0;
    }
    return n;
  }
};

namespace {

// An attempt listens a little past the query's deadline so the pipeline's own deadline timer,
// not the attempt's, ends the query (both are millisecond timers).
constexpr Nanos kAttemptGrace = Millis{50};
// Starting an upstream attempt with less time than this left is pointless.
constexpr Nanos kMinAttemptTime = Millis{10};

constexpr std::string_view kEdeTimeout = "steadfast: no upstream answered within the budget";
constexpr std::string_view kEdeNetwork = "steadfast: upstreams unreachable";
constexpr std::string_view kEdeFailed = "steadfast: every upstream failed";
constexpr std::string_view kEdeStale = "steadfast: stale answer, upstreams unavailable";

uint16_t answerRcode(std::span<const uint8_t> answer) noexcept {
  return answer.size() >= wire::kHeaderSize ? wire::headerRcode(wire::messageFlags(answer)) : 0;
}

uint64_t msUntil(MonoTime now, MonoTime then) noexcept {
  if (then <= now) {
    return 0;
  }
  auto ms = std::chrono::duration_cast<Millis>(then - now).count();
  return static_cast<uint64_t>(ms) + 1;  // round up: never fire before the deadline
}

}  // namespace

Pipeline::Pipeline(uv_loop_t* loop, cache::PacketCache& cache, cache::ReaderId reader,
                   RuntimeHolder& runtime, WorkerStats& stats, size_t worker_index,
                   DeliverySink& sink)
    : loop_(loop),
      cache_(cache),
      reader_(reader),
      holder_(runtime),
      stats_(stats),
      worker_index_(worker_index),
      sink_(sink),
      client_(loop, *this),
      scratch_(65536) {
  generation_ = holder_.generation();
  runtime_ = holder_.get();
}

Pipeline::~Pipeline() {
  for (auto& p : pool_) {
    for (auto*& a : p->attempts) {
      client_.cancel(a);
      a = nullptr;
    }
    uv_timer_stop(&p->timer);
    // The PendingQuery objects outlive this call only as long as their close callbacks:
    // release ownership to the callback.
    uv_close(reinterpret_cast<uv_handle_t*>(&p->timer),
             [](uv_handle_t* h) { delete static_cast<PendingQuery*>(h->data); });
    (void)p.release();
  }
}

void Pipeline::refresh() {
  auto g = holder_.generation();
  if (g != generation_) {
    generation_ = g;
    runtime_ = holder_.get();
  }
}

size_t Pipeline::maxAnswerSize(const wire::Query& q, Transport t) const noexcept {
  if (t != Transport::Udp) {
    return 65535;
  }
  if (!q.has_edns) {
    return 512;
  }
  return std::max<size_t>(512, std::min<size_t>(q.udp_size, runtime_->config.edns_buffer_size));
}

Verdict Pipeline::process(std::span<const uint8_t> query, const SocketAddress& client,
                          const ClientHandle& handle, std::span<uint8_t> out,
                          size_t& out_len) noexcept {
  const MonoTime now = MonoClock::now();
  stats_.queries[static_cast<size_t>(handle.transport)].inc();
  // Parsed into a member first so a hit touches no pool; a miss copies it into its
  // PendingQuery.
  wire::Query& q = query_;
  const auto parsed = wire::parseQuery(query, q);
  const uint16_t edns = runtime_->config.edns_buffer_size;
  switch (parsed) {
    case wire::QueryParse::Ok:
      break;
    case wire::QueryParse::Drop:
      stats_.dropped.inc();
      return Verdict::Dropped;
    case wire::QueryParse::FormErr:
    case wire::QueryParse::NotImp: {
      const auto rcode =
          parsed == wire::QueryParse::FormErr ? wire::Rcode::FormErr : wire::Rcode::NotImp;
      if (parsed == wire::QueryParse::FormErr) {
        stats_.malformed.inc();
      }
      out_len = wire::buildHeaderOnlyError(query, rcode, out);
      if (out_len == 0) {
        return Verdict::Dropped;
      }
      stats_.countResponse(static_cast<uint16_t>(rcode), Source::Local);
      return Verdict::Answered;
    }
    case wire::QueryParse::BadVers:
      out_len = wire::buildErrorResponse(q, 16, out, edns, nullptr);  // RFC 6891 6.1.3
      if (out_len == 0) {
        return Verdict::Dropped;
      }
      stats_.countResponse(16, Source::Local);
      return Verdict::Answered;
  }

  if (!runtime_->config.allow.allows(client.sockaddrPtr())) {
    stats_.refused_acl.inc();
    out_len = wire::buildErrorResponse(q, static_cast<uint16_t>(wire::Rcode::Refused), out, edns,
                                       nullptr);
    stats_.countResponse(static_cast<uint16_t>(wire::Rcode::Refused), Source::Local);
    return out_len == 0 ? Verdict::Dropped : Verdict::Answered;
  }

  const auto key = cache::CacheKey::forQuery(q);
  size_t len = 0;
  if (cache_.lookup(key, now, false, out, len) == cache::LookupResult::Hit) {
    out_len = wire::finishAnswer(out, len, q, edns, maxAnswerSize(q, handle.transport), nullptr);
    if (out_len != 0) {
      stats_.cache_hits.inc();
      stats_.countResponse(answerRcode(out.first(out_len)), Source::Cache);
      stats_.duration[static_cast<size_t>(Source::Cache)].observe(MonoClock::now() - now);
      return Verdict::Answered;
    }
  }
  stats_.cache_misses.inc();
  if (pending_count_ >= kMaxPending) {
    // Overload (a flood of misses, or upstreams that hang): every pending query holds sockets
    // and memory, so past the cap a miss gets a stale answer if there is one, else nothing
    // (a UDP client retries; a TCP client keeps its connection).
    if (cache_.lookup(key, now, true, out, len) == cache::LookupResult::Stale) {
      const wire::Ede ede{wire::EdeCode::StaleAnswer, kEdeStale};
      out_len = wire::finishAnswer(out, len, q, edns, maxAnswerSize(q, handle.transport), &ede);
      if (out_len != 0) {
        stats_.countResponse(answerRcode(out.first(out_len)), Source::Stale);
        return Verdict::Answered;
      }
    }
    stats_.overloaded.inc();
    return Verdict::Dropped;
  }

  PendingQuery* p = acquire();
  p->q = q;
  p->client = handle;
  p->runtime = runtime_;
  p->started = now;
  p->deadline = now + runtime_->config.query_budget;
  p->next_upstream = 0;
  p->launched = 0;
  p->saw_timeout = p->saw_network = p->saw_rcode = false;
  launchNext(*p, now);
  return Verdict::Pending;
}

PendingQuery* Pipeline::acquire() {
  PendingQuery* p = nullptr;
  if (!free_.empty()) {
    p = free_.back();
    free_.pop_back();
  } else {
    pool_.push_back(std::make_unique<PendingQuery>());
    p = pool_.back().get();
    p->owner = this;
    p->index = static_cast<uint32_t>(pool_.size() - 1);
    uv_timer_init(loop_, &p->timer);
    p->timer.data = p;
  }
  p->in_use = true;
  ++pending_count_;
  return p;
}

void Pipeline::release(PendingQuery* p) {
  uv_timer_stop(&p->timer);
  p->in_use = false;
  p->runtime.reset();
  --pending_count_;
  free_.push_back(p);
}

void Pipeline::launchNext(PendingQuery& p, MonoTime now) {
  const auto& ups = p.runtime->upstreams;
  while (p.next_upstream < ups.size() && p.launched < PendingQuery::kMaxAttempts &&
         p.deadline - now >= kMinAttemptTime) {
    const size_t u = p.next_upstream++;
    size_t slot = 0;
    while (slot < PendingQuery::kMaxAttempts && p.attempts[slot] != nullptr) {
      ++slot;
    }
    if (slot == PendingQuery::kMaxAttempts) {
      break;
    }
    ++p.launched;
    ups[u].stats->per_worker[worker_index_].queries.inc();
    const uint64_t cookie = (uint64_t{p.index} << 8U) | slot;
    auto* a = client_.start(ups[u].uri, p.q, p.runtime->config.edns_buffer_size,
                            p.deadline - now + kAttemptGrace, cookie);
    if (a == nullptr) {
      countUpstreamError(p, u, UpstreamError::Network);
      p.saw_network = true;
      continue;  // no socket for this one: the next upstream at once
    }
    p.attempts[slot] = a;
    p.attempt_upstream[slot] = u;
    p.attempt_started[slot] = now;
    break;
  }
  if (p.active() == 0) {
    finishWithoutAnswer(p);
    return;
  }
  armTimer(p, now);
}

void Pipeline::armTimer(PendingQuery& p, MonoTime now) {
  MonoTime next = p.deadline;
  if (p.next_upstream < p.runtime->upstreams.size()) {
    next = std::min(next, now + p.runtime->attempt_timeout);
  }
  uv_timer_start(&p.timer, &Pipeline::onTimer, msUntil(now, next), 0);
}

void Pipeline::onTimer(uv_timer_t* timer) {
  auto* p = static_cast<PendingQuery*>(timer->data);
  Pipeline& self = *p->owner;
  const MonoTime now = MonoClock::now();
  if (now >= p->deadline) {
    for (size_t i = 0; i < PendingQuery::kMaxAttempts; ++i) {
      if (p->attempts[i] != nullptr) {
        self.client_.cancel(p->attempts[i]);
        p->attempts[i] = nullptr;
        self.countUpstreamError(*p, p->attempt_upstream[i], UpstreamError::Timeout);
        p->saw_timeout = true;
      }
    }
    self.finishWithoutAnswer(*p);
    return;
  }
  // The attempt timeout passed: ask the next upstream too (the earlier ones keep listening).
  self.launchNext(*p, now);
}

void Pipeline::countUpstreamError(PendingQuery& p, size_t upstream, UpstreamError e) {
  p.runtime->upstreams[upstream]
      .stats->per_worker[worker_index_]
      .errors[static_cast<size_t>(e)]
      .inc();
}

void Pipeline::onMismatch(uint64_t cookie) noexcept {
  auto& p = *pool_[cookie >> 8U];
  const size_t slot = cookie & 0xFFU;
  countUpstreamError(p, p.attempt_upstream[slot], UpstreamError::Mismatch);
}

void Pipeline::onAttemptDone(upstream::Attempt* /*attempt*/, uint64_t cookie,
                             upstream::AttemptOutcome outcome, std::span<const uint8_t> msg,
                             const wire::ResponseInfo& info, Nanos rtt) noexcept {
  auto& p = *pool_[cookie >> 8U];
  const size_t slot = cookie & 0xFFU;
  p.attempts[slot] = nullptr;
  const size_t u = p.attempt_upstream[slot];
  switch (outcome) {
    case upstream::AttemptOutcome::Answer: {
      p.runtime->upstreams[u].stats->per_worker[worker_index_].rtt.observe(rtt);
      const auto rcode = info.rcode;
      if (rcode == static_cast<uint16_t>(wire::Rcode::ServFail)) {
        countUpstreamError(p, u, UpstreamError::ServFail);
        p.saw_rcode = true;
      } else if (rcode == static_cast<uint16_t>(wire::Rcode::Refused)) {
        countUpstreamError(p, u, UpstreamError::Refused);
        p.saw_rcode = true;
      } else if (rcode == static_cast<uint16_t>(wire::Rcode::FormErr) ||
                 rcode == static_cast<uint16_t>(wire::Rcode::NotImp)) {
        countUpstreamError(p, u, UpstreamError::Network);
        p.saw_rcode = true;
      } else {
        finishWithAnswer(p, msg, info);
        return;
      }
      break;
    }
    case upstream::AttemptOutcome::Timeout:
      countUpstreamError(p, u, UpstreamError::Timeout);
      p.saw_timeout = true;
      break;
    case upstream::AttemptOutcome::Network:
    case upstream::AttemptOutcome::Malformed:
      countUpstreamError(p, u, UpstreamError::Network);
      p.saw_network = true;
      break;
  }
  // This upstream failed: try the next one at once, within the budget.
  const MonoTime now = MonoClock::now();
  if (p.deadline - now >= kMinAttemptTime && p.next_upstream < p.runtime->upstreams.size()) {
    launchNext(p, now);
  } else if (p.active() == 0) {
    finishWithoutAnswer(p);
  }
}

void Pipeline::finishWithAnswer(PendingQuery& p, std::span<const uint8_t> msg,
                                const wire::ResponseInfo& info) {
  const MonoTime now = MonoClock::now();
  for (size_t i = 0; i < PendingQuery::kMaxAttempts; ++i) {
    if (p.attempts[i] != nullptr) {
      client_.cancel(p.attempts[i]);
      p.attempts[i] = nullptr;
      if (now - p.attempt_started[i] >= p.runtime->attempt_timeout) {
        countUpstreamError(p, p.attempt_upstream[i], UpstreamError::Timeout);
      }
    }
  }
  size_t len = wire::copyWithoutOpt(msg, info, scratch_);
  if (len == 0) {
    finishWithoutAnswer(p);
    return;
  }
  const bool opt_inside = info.has_opt && !info.opt_is_last;
  const bool cacheable =
      !info.truncated && !opt_inside && !info.too_many_rrs && (info.rcode == 0 || info.rcode == 3);
  if (cacheable) {
    const bool negative = info.rcode == 3 || info.ancount == 0;
    const uint32_t ttl = negative ? (info.has_soa ? info.negative_ttl : 0) : info.min_ttl;
    if (ttl > 0) {
      cache::CacheableAnswer answer{
          std::span<const uint8_t>(scratch_.data(), len),
          std::span<const uint16_t>(info.ttl_offsets.data(), info.ttl_count), ttl, negative};
      cache_.insert(cache::CacheKey::forQuery(p.q), answer, now);
    }
  }
  size_t out_len = 0;
  if (opt_inside) {
    // The upstream put its OPT before other additional records: keep its message as it is
    // rather than append a second OPT (RFC 6891 6.1.1 allows only one).
    wire::Query no_edns = p.q;
    no_edns.has_edns = false;
    out_len = wire::finishAnswer(scratch_, len, no_edns, p.runtime->config.edns_buffer_size,
                                 maxAnswerSize(p.q, p.client.transport), nullptr);
  } else {
    out_len = wire::finishAnswer(scratch_, len, p.q, p.runtime->config.edns_buffer_size,
                                 maxAnswerSize(p.q, p.client.transport), nullptr);
  }
  complete(p, std::span<const uint8_t>(scratch_.data(), out_len), Source::Upstream);
}

void Pipeline::finishWithoutAnswer(PendingQuery& p) {
  const MonoTime now = MonoClock::now();
  const uint16_t edns = p.runtime->config.edns_buffer_size;
  size_t len = 0;
  cache::LookupResult r = cache::LookupResult::Miss;
  {
    BatchScope scope(*this);
    r = cache_.lookup(cache::CacheKey::forQuery(p.q), now, true, scratch_, len);
  }
  if (r != cache::LookupResult::Miss) {
    // RFC 8767: an expired answer beats no answer; EDE 3 tells the client it is stale.
    const wire::Ede ede{wire::EdeCode::StaleAnswer, kEdeStale};
    const bool stale = r == cache::LookupResult::Stale;
    size_t out_len = wire::finishAnswer(
        scratch_, len, p.q, edns, maxAnswerSize(p.q, p.client.transport), stale ? &ede : nullptr);
    complete(p, std::span<const uint8_t>(scratch_.data(), out_len),
             stale ? Source::Stale : Source::Cache);
    return;
  }
  // RFC 8914: 22 when nobody could be reached in time, 23 when the network failed.
  wire::Ede ede{wire::EdeCode::NoReachableAuthority, kEdeTimeout};
  if (p.saw_rcode) {
    ede.text = kEdeFailed;
  } else if (p.saw_network && !p.saw_timeout) {
    ede = wire::Ede{wire::EdeCode::NetworkError, kEdeNetwork};
  }
  size_t out_len = wire::buildErrorResponse(p.q, static_cast<uint16_t>(wire::Rcode::ServFail),
                                            scratch_, edns, &ede);
  complete(p, std::span<const uint8_t>(scratch_.data(), out_len), Source::Local);
}

void Pipeline::complete(PendingQuery& p, std::span<const uint8_t> answer, Source source) {
  if (!answer.empty()) {
    stats_.countResponse(answerRcode(answer), source);
    stats_.duration[static_cast<size_t>(source)].observe(MonoClock::now() - p.started);
  }
  const ClientHandle client = p.client;
  release(&p);
  sink_.deliver(client, answer);
}

}  // namespace steadfast::pipeline
