// SPDX-License-Identifier: Apache-2.0
#include "resolver/upstream/prober.h"

#include <array>
#include <cctype>
#include <charconv>
#include <string>

namespace steadfast::upstream {
namespace {

struct TypeName {
  std::string_view name;
  uint16_t value;
};
// The types an operator plausibly probes with; anything else can be written TYPEnnn
// (RFC 3597 section 5).
constexpr std::array<TypeName, 16> kTypes = {{{"A", 1},
                                              {"NS", 2},
                                              {"CNAME", 5},
                                              {"SOA", 6},
                                              {"PTR", 12},
                                              {"MX", 15},
                                              {"TXT", 16},
                                              {"AAAA", 28},
                                              {"SRV", 33},
                                              {"DS", 43},
                                              {"RRSIG", 46},
                                              {"DNSKEY", 48},
                                              {"SVCB", 64},
                                              {"HTTPS", 65},
                                              {"CAA", 257},
                                              {"ANY", 255}}};

bool parseType(std::string_view text, uint16_t& out) {
  std::string upper(text);
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  for (const auto& t : kTypes) {
    if (upper == t.name) {
      out = t.value;
      return true;
    }
  }
  if (upper.size() > 4 && upper.compare(0, 4, "TYPE") == 0) {
    unsigned v = 0;
    const auto* end = upper.data() + upper.size();
    const auto r = std::from_chars(upper.data() + 4, end, v);
    if (r.ec == std::errc{} && r.ptr == end && v <= 65535) {
      out = static_cast<uint16_t>(v);
      return true;
    }
  }
  return false;
}

}  // namespace

Result<wire::Query> makeProbeQuery(std::string_view probe) {
  const size_t space = probe.find(' ');
  if (space == std::string_view::npos) {
    return makeError(Errc::InvalidArgument, "probe must be \"NAME TYPE\"");
  }
  std::string_view name = probe.substr(0, space);
  std::string_view type = probe.substr(space + 1);
  wire::Query q;
  size_t len = 0;
  if (!wire::nameFromText(name, std::span<uint8_t, wire::kMaxNameWire>(q.qname), len)) {
    return makeError(Errc::InvalidArgument, "probe name '" + std::string(name) + "' is invalid");
  }
  if (!parseType(type, q.qtype)) {
    return makeError(Errc::InvalidArgument, "probe type '" + std::string(type) +
                                                "' is unknown (use e.g. A, NS, SOA or TYPEnnn)");
  }
  q.qname_len = static_cast<uint16_t>(len);
  wire::lowerName(q.name(), q.qname_lower.data());
  q.qclass = wire::kClassIn;
  q.flags = wire::kFlagRd;
  q.has_edns = true;
  return q;
}

failover::Outcome classifyProbeAnswer(uint16_t rcode) noexcept {
  switch (rcode) {
    case static_cast<uint16_t>(wire::Rcode::ServFail):
      return failover::Outcome::ServFail;
    case static_cast<uint16_t>(wire::Rcode::Refused):
      return failover::Outcome::Refused;
    case static_cast<uint16_t>(wire::Rcode::FormErr):
      return failover::Outcome::FormErr;
    case static_cast<uint16_t>(wire::Rcode::NotImp):
      return failover::Outcome::NotImp;
    default:
      return failover::Outcome::Ok;
  }
}

UpstreamProber::UpstreamProber(uv_loop_t* loop, std::vector<failover::UpstreamUri> upstreams,
                               const wire::Query& probe, uint16_t edns_size, Nanos timeout,
                               ResultFn on_result)
    : upstreams_(std::move(upstreams)),
      probe_(probe),
      edns_size_(edns_size),
      timeout_(timeout),
      on_result_(std::move(on_result)),
      flush_timer_(new uv_timer_t{}),
      client_(loop, *this) {
  uv_timer_init(loop, flush_timer_);
  flush_timer_->data = this;
}

UpstreamProber::~UpstreamProber() {
  flush_timer_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(flush_timer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  // client_'s destructor cancels the probes in flight (no callbacks follow).
}

void UpstreamProber::send(size_t upstream, uint64_t probe_id) {
  if (upstream < upstreams_.size()) {
    in_flight_[probe_id] = upstream;
    if (client_.start(upstreams_[upstream], probe_, edns_size_, timeout_, probe_id) != nullptr) {
      return;
    }
    in_flight_.erase(probe_id);
  }
  // No socket: a network failure, reported from the loop (never from inside send()).
  failed_.emplace_back(upstream, probe_id);
  uv_timer_start(
      flush_timer_,
      [](uv_timer_t* t) {
        if (t->data != nullptr) {
          static_cast<UpstreamProber*>(t->data)->flushFailed();
        }
      },
      0, 0);
}

void UpstreamProber::flushFailed() {
  auto failed = std::move(failed_);
  failed_.clear();
  for (const auto& [u, id] : failed) {
    on_result_(u, id, failover::Outcome::Network, Nanos{0});
  }
}

void UpstreamProber::onAttemptDone(Attempt* /*attempt*/, uint64_t cookie, AttemptOutcome outcome,
                                   std::span<const uint8_t> /*msg*/, const wire::ResponseInfo& info,
                                   Nanos rtt) noexcept {
  auto it = in_flight_.find(cookie);
  if (it == in_flight_.end()) {
    return;
  }
  const size_t u = it->second;
  in_flight_.erase(it);
  failover::Outcome o = failover::Outcome::Timeout;
  switch (outcome) {
    case AttemptOutcome::Answer:
      o = classifyProbeAnswer(info.rcode);
      break;
    case AttemptOutcome::Timeout:
      o = failover::Outcome::Timeout;
      break;
    case AttemptOutcome::Network:
      o = failover::Outcome::Network;
      break;
    case AttemptOutcome::Malformed:
      o = failover::Outcome::Malformed;
      break;
    case AttemptOutcome::Tls:
      o = failover::Outcome::Tls;
      break;
  }
  on_result_(u, cookie, o, rtt);
}

void UpstreamProber::onMismatch(uint64_t /*cookie*/) noexcept {
  // Ignored, as for client queries: the probe keeps waiting for its real answer.
}

}  // namespace steadfast::upstream
