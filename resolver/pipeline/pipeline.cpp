// SPDX-License-Identifier: Apache-2.0
#include "resolver/pipeline/pipeline.h"

#include <algorithm>
#include <array>

#include "resolver/base/log.h"
#include "resolver/recursion/budget.h"

namespace steadfast::pipeline {

/// A cache miss on its way through the upstreams. Pooled: the timer handle is initialised
/// once and only closed when the Pipeline goes away, so reuse costs no allocation.
struct PendingQuery {
  static constexpr size_t kMaxAttempts = failover::kMaxCandidates;

  Pipeline* owner = nullptr;
  uint32_t index = 0;
  bool in_use = false;
  wire::Query q;
  ClientHandle client;
  std::shared_ptr<const Runtime> runtime;  // keeps the upstream URIs alive across a reload
  MonoTime started{};
  MonoTime deadline{};
  MonoTime next_launch{};         // when the next candidate is asked too
  MonoTime wake{};                // when the timer is due (min of next_launch, deadline)
  failover::CandidateList order;  // the upstreams this query may ask, in order
  size_t next = 0;                // index into order of the next candidate
  std::array<upstream::Attempt*, kMaxAttempts> attempts{};
  std::array<size_t, kMaxAttempts> attempt_upstream{};
  std::array<MonoTime, kMaxAttempts> attempt_started{};
  std::array<Nanos, kMaxAttempts> attempt_wait{};    // its hedge wait: late after this
  std::array<bool, kMaxAttempts> attempt_explore{};  // asked to be measured (fastest)
  std::array<bool, kMaxAttempts> attempt_late{};     // its wait passed: posted as a timeout
  size_t last_slot = 0;                              // the attempt started last
  bool saw_timeout = false;
  bool saw_network = false;
  bool saw_rcode = false;
  bool recursing = false;  // the last resort has it (recursion_id while in flight)
  int recursion_id = -1;
  uv_timer_t timer{};

  [[nodiscard]] size_t active() const noexcept {
    size_t n = 0;
    for (auto* a : attempts) {
      n += a != nullptr ? 1 : 0;
    }
    return n;
  }
  [[nodiscard]] bool moreCandidates() const noexcept { return next < order.count; }
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
constexpr std::string_view kEdeBogus = "steadfast: last-resort answer failed DNSSEC validation";

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
    : Pipeline(loop, cache, reader, runtime, stats, worker_index, sink, Options{}) {}

Pipeline::Pipeline(uv_loop_t* loop, cache::PacketCache& cache, cache::ReaderId reader,
                   RuntimeHolder& runtime, WorkerStats& stats, size_t worker_index,
                   DeliverySink& sink, Options options)
    : loop_(loop),
      cache_(cache),
      reader_(reader),
      holder_(runtime),
      stats_(stats),
      worker_index_(worker_index),
      sink_(sink),
      clock_(options.clock != nullptr ? *options.clock : system_clock_),
      own_client_(options.sender == nullptr
                      ? std::make_unique<upstream::UpstreamClient>(loop, *this)
                      : nullptr),
      sender_(options.sender != nullptr ? options.sender : own_client_.get()),
      own_random_(options.random == nullptr ? std::make_unique<FastRandom>() : nullptr),
      random_(options.random != nullptr ? *options.random : *own_random_),
      passive_(options.passive),
      scratch_(65536) {
  generation_ = holder_.generation();
  runtime_ = holder_.get();
  syncLocal();
  syncBlock();
}

Pipeline::~Pipeline() {
  for (auto& p : pool_) {
    for (auto*& a : p->attempts) {
      sender_->cancel(a);
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
    syncLocal();
  }
  syncBlock();
}

void Pipeline::syncBlock() {
  BlockHolder* h = runtime_ != nullptr ? runtime_->block : nullptr;
  if (h != block_holder_) {
    block_holder_ = h;
    block_generation_ = ~uint64_t{0};
  }
  if (h == nullptr) {
    block_.reset();
    return;
  }
  const uint64_t g = h->generation();
  if (g != block_generation_) {
    block_generation_ = g;
    block_ = h->get();
  }
}

std::optional<Verdict> Pipeline::answerBlocked(const wire::Query& q, const BlockMatch& m,
                                               Transport t, std::span<uint8_t> out,
                                               size_t& out_len) noexcept {
  const BlockPolicy& policy = *block_;
  const BlockFeed& feed = policy.feeds[m.feed];
  wire::BlockAnswerParams params;
  // The [[feed]] action overrides the rule's own, except a PASSTHRU rule (an exception the
  // feed itself makes, not a block).
  params.action = m.action;
  if (feed.action.has_value() && m.action != wire::BlockAction::Passthru) {
    params.action = *feed.action;
  }
  params.ede_text = feed.ede_text;
  params.sinkhole_ipv4 = policy.sinkhole_ipv4;
  params.sinkhole_ipv6 = policy.sinkhole_ipv6;
  params.local = m.local;
  params.ttl = policy.ttl;
  params.our_udp_size = runtime_->config.edns_buffer_size;
  params.udp = t == Transport::Udp;
  params.max_size = maxAnswerSize(q, t);
  const wire::BlockAnswer a = wire::buildBlockAnswer(q, params, out);
  if (a.outcome == wire::BlockOutcome::Resolve && params.action == wire::BlockAction::TcpOnly) {
    return std::nullopt;  // TCP-only over TCP: not blocked
  }
  if (feed.stats != nullptr) {
    FeedWorkerStats& fs = feed.stats->worker(worker_index_);
    fs.countBlocked(params.action);
    fs.top.hit(m.trigger, clock_.wallNow());
  }
  switch (a.outcome) {
    case wire::BlockOutcome::Answered:
      out_len = a.length;
      return Verdict::Answered;
    case wire::BlockOutcome::Resolve:
      return std::nullopt;
    case wire::BlockOutcome::Drop:
    case wire::BlockOutcome::NoRoom:
      break;
  }
  return Verdict::Dropped;
}

void Pipeline::syncLocal() {
  if (runtime_ == nullptr) {
    local_.clear();
    rtt_.clear();
    local_plan_id_ = ~uint64_t{0};
    return;
  }
  if (runtime_->plan_id != local_plan_id_ || local_.size() != runtime_->upstreams.size()) {
    // A new upstream list (reload): what was learnt about the old indices does not apply.
    local_.assign(runtime_->upstreams.size(), LocalUpstream{});
    rtt_.assign(runtime_->upstreams.size(), failover::RttEstimator{});
    local_plan_id_ = runtime_->plan_id;
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
  const MonoTime now = clock_.now();
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

  if (block_ != nullptr) {
    // Block stage, before the cache: a blocked name never reaches an upstream.
    BlockMatch match;
    if (block_->matchName(q.nameLower(), match)) {
      if (auto v = answerBlocked(q, match, handle.transport, out, out_len)) {
        if (*v == Verdict::Answered) {
          stats_.countResponse(answerRcode(out.first(out_len)), Source::Blocked);
        }
        return *v;
      }
    }
  }

  const auto key = cache::CacheKey::forQuery(q);
  size_t len = 0;
  if (cache_.lookup(key, now, false, out, len) == cache::LookupResult::Hit) {
    out_len = wire::finishAnswer(out, len, q, edns, maxAnswerSize(q, handle.transport), nullptr);
    if (out_len != 0) {
      stats_.cache_hits.inc();
      stats_.countResponse(answerRcode(out.first(out_len)), Source::Cache);
      stats_.duration[static_cast<size_t>(Source::Cache)].observe(clock_.now() - now);
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

  const failover::SelectionView view = runtime_->view();
  if (view.active_tier < 0 && runtime_->plan != nullptr &&
      cache_.lookup(key, now, true, out, len) == cache::LookupResult::Stale) {
    // No tier has a usable upstream (RFC 8767 section 5: the upstreams are known to be
    // failing): the stale answer now, not after a budget spent on upstreams known down.
    const wire::Ede ede{wire::EdeCode::StaleAnswer, kEdeStale};
    out_len = wire::finishAnswer(out, len, q, edns, maxAnswerSize(q, handle.transport), &ede);
    if (out_len != 0) {
      stats_.countResponse(answerRcode(out.first(out_len)), Source::Stale);
      stats_.duration[static_cast<size_t>(Source::Stale)].observe(clock_.now() - now);
      return Verdict::Answered;
    }
  }

  PendingQuery* p = acquire();
  p->q = q;
  p->client = handle;
  p->runtime = runtime_;
  p->started = now;
  p->deadline = now + runtime_->config.query_budget;
  p->next = 0;
  p->saw_timeout = p->saw_network = p->saw_rcode = false;
  p->recursing = false;
  p->recursion_id = -1;
  if (view.active_tier < 0 && runtime_->plan != nullptr && startLastResort(*p, true, now)) {
    return Verdict::Pending;
  }
  const uint64_t pick = random_.next64();
  const failover::SelectionDraw draw{rotation_++, random_.unit(), pick};
  failover::buildCandidates(view, rtt_, now, draw, p->order);
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
  if (p->recursion_id >= 0 && recursor_ != nullptr) {
    recursor_->cancel(p->recursion_id);
  }
  p->recursion_id = -1;
  p->recursing = false;
  p->in_use = false;
  p->runtime.reset();
  --pending_count_;
  free_.push_back(p);
}

void Pipeline::launchNext(PendingQuery& p, MonoTime now) {
  const auto& ups = p.runtime->upstreams;
  while (p.moreCandidates() && p.deadline - now >= kMinAttemptTime) {
    const size_t u = p.order.upstream[p.next++];
    if (u >= ups.size()) {
      continue;
    }
    size_t slot = 0;
    while (slot < PendingQuery::kMaxAttempts && p.attempts[slot] != nullptr) {
      ++slot;
    }
    if (slot == PendingQuery::kMaxAttempts) {
      break;
    }
    ups[u].stats->per_worker[worker_index_].queries.inc();
    const uint64_t cookie = (uint64_t{p.index} << 8U) | slot;
    auto* a = sender_->start(ups[u].uri, p.q, p.runtime->config.edns_buffer_size,
                             p.deadline - now + kAttemptGrace, cookie);
    if (a == nullptr) {
      countUpstreamError(p, u, UpstreamError::Network);
      passive(p, u, failover::Outcome::Network);
      p.saw_network = true;
      continue;  // no socket for this one: the next upstream at once
    }
    p.attempts[slot] = a;
    p.attempt_upstream[slot] = u;
    p.attempt_started[slot] = now;
    const bool same_list = p.runtime->plan_id == local_plan_id_;
    const auto wait_for = [&](size_t upstream) {
      if (same_list && upstream < rtt_.size() && rtt_[upstream].measured()) {
        return rtt_[upstream].hedgeWait(p.runtime->hedge);
      }
      // Not measured by this worker yet: the probes' measurement, if any.
      const auto* plan = p.runtime->plan.get();
      if (plan != nullptr && upstream < plan->probe_wait.size() &&
          plan->probe_wait[upstream] > Nanos{0}) {
        return plan->probe_wait[upstream];
      }
      return p.runtime->hedge.unmeasured;
    };
    p.attempt_wait[slot] = wait_for(u);
    // `fastest` explored: this one is asked to be measured. The query waits no longer for it
    // than for the best upstream (second in the list), so exploring costs no tail latency.
    p.attempt_explore[slot] = p.next == 1 && p.order.explored && p.order.count > 1;
    if (p.attempt_explore[slot]) {
      p.attempt_wait[slot] = std::min(p.attempt_wait[slot], wait_for(p.order.upstream[1]));
    }
    p.attempt_late[slot] = false;
    p.last_slot = slot;
    p.next_launch = now + p.attempt_wait[slot];
    break;
  }
  if (p.active() == 0) {
    finishWithoutAnswer(p);
    return;
  }
  armTimer(p, now);
}

void Pipeline::armTimer(PendingQuery& p, MonoTime now) {
  p.wake = p.deadline;
  if (p.moreCandidates()) {
    p.wake = std::min(p.wake, p.next_launch);
  }
  uv_timer_start(&p.timer, &Pipeline::onTimer, msUntil(now, p.wake), 0);
}

void Pipeline::onTimer(uv_timer_t* timer) {
  auto* p = static_cast<PendingQuery*>(timer->data);
  p->owner->onPendingTimer(*p);
}

void Pipeline::runDueTimers() {
  const MonoTime now = clock_.now();
  for (auto& p : pool_) {
    if (p->in_use && p->wake <= now) {
      onPendingTimer(*p);
    }
  }
}

void Pipeline::onPendingTimer(PendingQuery& p) {
  const MonoTime now = clock_.now();
  if (now >= p.deadline) {
    for (size_t i = 0; i < PendingQuery::kMaxAttempts; ++i) {
      if (p.attempts[i] != nullptr) {
        abandon(p, i, now, false);
        p.saw_timeout = true;
      }
    }
    finishWithoutAnswer(p);
    return;
  }
  if (p.moreCandidates() && now >= p.next_launch) {
    // The candidate asked last is late: ask the next one too (the earlier ones keep
    // listening; the first valid answer wins). Health hears of it now, not when the query
    // ends, so several upstreams dying together are all noticed within their waits.
    const size_t s = p.last_slot;
    if (p.attempts[s] != nullptr && !p.attempt_late[s] && !p.attempt_explore[s]) {
      p.attempt_late[s] = true;
      passive(p, p.attempt_upstream[s], failover::Outcome::Timeout);
    }
    launchNext(p, now);
    return;
  }
  armTimer(p, now);  // woken early (a millisecond timer, or a test): wait for the rest
}

void Pipeline::abandon(PendingQuery& p, size_t slot, MonoTime now, bool beaten) {
  sender_->cancel(p.attempts[slot]);
  p.attempts[slot] = nullptr;
  const size_t u = p.attempt_upstream[slot];
  const Nanos waited = now - p.attempt_started[slot];
  if (waited < p.attempt_wait[slot]) {
    return;  // another upstream was simply faster: no verdict on this one
  }
  if (p.attempt_explore[slot] && beaten) {
    // Asked only to be measured and beaten by the best one: a lower bound for its RTT, no
    // verdict on its health (probes and its own queries judge that).
    if (p.runtime->plan_id == local_plan_id_ && u < rtt_.size()) {
      rtt_[u].atLeast(waited, now);
    }
    return;
  }
  // No valid answer within its adaptive wait: a timeout as far as health goes, and a lower
  // bound for its RTT so a slow upstream gets a longer wait rather than being hedged forever.
  countUpstreamError(p, u, UpstreamError::Timeout);
  if (!p.attempt_late[slot]) {
    passive(p, u, failover::Outcome::Timeout);
  }
  if (p.runtime->plan_id == local_plan_id_ && u < local_.size()) {
    rtt_[u].atLeast(waited, now);
  }
}

void Pipeline::countUpstreamError(const PendingQuery& p, size_t upstream, UpstreamError e) {
  p.runtime->upstreams[upstream]
      .stats->per_worker[worker_index_]
      .errors[static_cast<size_t>(e)]
      .inc();
}

void Pipeline::passive(const PendingQuery& p, size_t upstream, failover::Outcome o) {
  if (passive_ == nullptr || p.runtime->plan_id != local_plan_id_ || upstream >= local_.size()) {
    return;
  }
  LocalUpstream& l = local_[upstream];
  const bool failure = o != failover::Outcome::Ok;
  if (!failure && !l.posted_failure) {
    return;  // nothing to reset: keep the channel quiet under normal traffic
  }
  l.posted_failure = failure;
  if (passive_->push(PassiveEvent{p.runtime->plan_id, static_cast<uint16_t>(upstream), o}) &&
      failure) {
    passive_->notify();
  }
}

void Pipeline::onConnectionOpened(uint64_t cookie) noexcept {
  auto& p = *pool_[cookie >> 8U];
  const size_t u = p.attempt_upstream[cookie & 0xFFU];
  p.runtime->upstreams[u].stats->per_worker[worker_index_].connections_opened.inc();
}

void Pipeline::onMismatch(uint64_t cookie) noexcept {
  auto& p = *pool_[cookie >> 8U];
  const size_t slot = cookie & 0xFFU;
  const size_t u = p.attempt_upstream[slot];
  countUpstreamError(p, u, UpstreamError::Mismatch);
  if (p.runtime->plan_id != local_plan_id_ || u >= local_.size()) {
    return;
  }
  // Single mismatches are expected noise (late answers to a reused port, RFC 5452 probing);
  // a burst within a second is a health signal.
  LocalUpstream& l = local_[u];
  const MonoTime now = clock_.now();
  if (now - l.mismatch_window >= kMismatchWindow) {
    l.mismatch_window = now;
    l.mismatches = 0;
  }
  if (++l.mismatches == kMismatchBurst) {
    passive(p, u, failover::Outcome::Mismatch);
  }
}

void Pipeline::onAttemptDone(upstream::Attempt* /*attempt*/, uint64_t cookie,
                             upstream::AttemptOutcome outcome, std::span<const uint8_t> msg,
                             const wire::ResponseInfo& info, Nanos rtt) noexcept {
  auto& p = *pool_[cookie >> 8U];
  const size_t slot = cookie & 0xFFU;
  p.attempts[slot] = nullptr;
  const size_t u = p.attempt_upstream[slot];
  const MonoTime now = clock_.now();
  const bool same_list = p.runtime->plan_id == local_plan_id_ && u < local_.size();
  failover::Outcome failure = failover::Outcome::Ok;
  switch (outcome) {
    case upstream::AttemptOutcome::Answer: {
      p.runtime->upstreams[u].stats->per_worker[worker_index_].rtt.observe(rtt);
      if (same_list) {
        rtt_[u].sample(rtt, now);  // an error answer measures the path as well
      }
      switch (info.rcode) {
        case static_cast<uint16_t>(wire::Rcode::ServFail):
          failure = failover::Outcome::ServFail;
          break;
        case static_cast<uint16_t>(wire::Rcode::Refused):
          failure = failover::Outcome::Refused;
          break;
        case static_cast<uint16_t>(wire::Rcode::FormErr):
          failure = failover::Outcome::FormErr;
          break;
        case static_cast<uint16_t>(wire::Rcode::NotImp):
          failure = failover::Outcome::NotImp;
          break;
        default:
          passive(p, u, failover::Outcome::Ok);
          finishWithAnswer(p, msg, info);
          return;
      }
      p.saw_rcode = true;
      break;
    }
    case upstream::AttemptOutcome::Timeout:
      failure = failover::Outcome::Timeout;
      p.saw_timeout = true;
      break;
    case upstream::AttemptOutcome::Network:
      failure = failover::Outcome::Network;
      p.saw_network = true;
      break;
    case upstream::AttemptOutcome::Malformed:
      failure = failover::Outcome::Malformed;
      p.saw_network = true;
      break;
    case upstream::AttemptOutcome::Tls:  // verification failed: never retried in cleartext
      failure = failover::Outcome::Tls;
      p.saw_network = true;
      break;
  }
  countUpstreamError(p, u, failure);
  passive(p, u, failure);
  // This upstream failed: try the next one at once, within the budget.
  if (p.deadline - now >= kMinAttemptTime && p.moreCandidates()) {
    launchNext(p, now);
  } else if (p.active() == 0) {
    finishWithoutAnswer(p);
  }
}

void Pipeline::finishWithAnswer(PendingQuery& p, std::span<const uint8_t> msg,
                                const wire::ResponseInfo& info) {
  const MonoTime now = clock_.now();
  for (size_t i = 0; i < PendingQuery::kMaxAttempts; ++i) {
    if (p.attempts[i] != nullptr) {
      abandon(p, i, now, true);
    }
  }
  size_t len = wire::copyWithoutOpt(msg, info, scratch_);
  if (len == 0) {
    finishWithoutAnswer(p);
    return;
  }
  if (block_ != nullptr && block_->has_ip_rules && info.ancount > 0) {
    // Response-IP (rpz-ip) triggers on the upstream's A/AAAA answers: the block answer goes
    // out and nothing is cached, so the next query is checked again.
    struct Ctx {
      const BlockPolicy* policy;
      BlockMatch* match;
    };
    BlockMatch match;
    const Ctx ctx{block_.get(), &match};
    const auto matcher = [](const void* c, std::span<const uint8_t> addr) noexcept {
      const auto* x = static_cast<const Ctx*>(c);
      return x->policy->matchAddress(addr, *x->match);
    };
    if (wire::anyAnswerAddress(std::span<const uint8_t>(scratch_.data(), len), matcher, &ctx)) {
      size_t out_len = 0;
      const auto v = answerBlocked(p.q, match, p.client.transport, scratch_, out_len);
      if (v.has_value()) {
        complete(p,
                 std::span<const uint8_t>(scratch_.data(), *v == Verdict::Answered ? out_len : 0),
                 Source::Blocked);
        return;
      }
    }
  }
  const bool opt_inside = info.has_opt && !info.opt_is_last;
  const bool cacheable = !info.truncated && !opt_inside && !info.too_many_rrs && !info.ecs_scoped &&
                         (info.rcode == 0 || info.rcode == 3);
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
  const MonoTime now = clock_.now();
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
  if (!p.recursing && startLastResort(p, false, now)) {
    return;  // stale first, then the last resort, then SERVFAIL (DESIGN.md)
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
    stats_.duration[static_cast<size_t>(source)].observe(clock_.now() - p.started);
  }
  const ClientHandle client = p.client;
  release(&p);
  sink_.deliver(client, answer);
}

recursion::Recursor* Pipeline::recursor() {
  if (recursor_ == nullptr && !recursor_failed_) {
    auto r = recursion::Recursor::create(loop_, runtime_->config.last_resort, *this);
    if (!r) {
      recursor_failed_ = true;
      LOG_ERROR("last resort off on worker %zu: %s", worker_index_, r.error().detail.c_str());
      return nullptr;
    }
    recursor_ = std::move(*r);
  }
  return recursor_.get();
}

bool Pipeline::startLastResort(PendingQuery& p, bool no_tier, MonoTime now) {
  if (!p.runtime->config.last_resort.enabled) {
    return false;
  }
  recursion::Recursor* r = recursor();
  if (r == nullptr) {
    return false;
  }
  const MonoTime deadline =
      recursion::lastResortDeadline(no_tier ? recursion::LastResortReason::NoTierUsable
                                            : recursion::LastResortReason::TiersFailed,
                                    p.started, now, p.runtime->config.query_budget);
  if (deadline <= now) {
    return false;
  }
  const int id = r->resolve(wire::nameToText(p.q.name()), p.q.qtype, p.index);
  if (id < 0) {
    return false;
  }
  p.recursing = true;
  p.recursion_id = id;
  p.deadline = deadline;
  p.next = p.order.count;  // no more upstream candidates
  armTimer(p, now);
  return true;
}

void Pipeline::onRecursionDone(uint64_t cookie, const recursion::RecursionAnswer& a) noexcept {
  if (cookie >= pool_.size()) {
    return;
  }
  PendingQuery& p = *pool_[cookie];
  if (!p.in_use || !p.recursing || p.recursion_id < 0) {
    return;
  }
  p.recursion_id = -1;
  const uint16_t edns = p.runtime->config.edns_buffer_size;
  if (a.ok && a.security == recursion::Security::Bogus) {
    const wire::Ede ede{wire::EdeCode::DnssecBogus, kEdeBogus};
    size_t out_len = wire::buildErrorResponse(p.q, static_cast<uint16_t>(wire::Rcode::ServFail),
                                              scratch_, edns, &ede);
    complete(p, std::span<const uint8_t>(scratch_.data(), out_len), Source::LastResort);
    return;
  }
  wire::ResponseInfo info;
  if (!a.ok || a.packet.size() < wire::kHeaderSize ||
      wire::analyzeResponse(a.packet, wire::readU16(a.packet.data()), p.q, info) !=
          wire::ResponseCheck::Ok) {
    finishWithoutAnswer(p);  // recursing: SERVFAIL with EDE 22/23
    return;
  }
  size_t len = wire::copyWithoutOpt(a.packet, info, scratch_);
  if (len < wire::kHeaderSize) {
    finishWithoutAnswer(p);
    return;
  }
  // RFC 6840 5.8: AD only for a validated answer and a client that set DO or AD.
  const bool ad =
      a.security == recursion::Security::Secure && (p.q.do_bit || (p.q.flags & wire::kFlagAd) != 0);
  uint16_t flags = wire::readU16(scratch_.data() + 2);
  flags = static_cast<uint16_t>(ad ? (flags | wire::kFlagAd) : (flags & ~wire::kFlagAd));
  wire::writeU16(scratch_.data() + 2, flags);
  size_t out_len =
      wire::finishAnswer(scratch_, len, p.q, edns, maxAnswerSize(p.q, p.client.transport), nullptr);
  complete(p, std::span<const uint8_t>(scratch_.data(), out_len), Source::LastResort);
}

}  // namespace steadfast::pipeline
