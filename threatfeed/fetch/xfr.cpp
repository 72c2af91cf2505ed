// SPDX-License-Identifier: Apache-2.0
#include "threatfeed/fetch/xfr.h"

#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sstream>
#include <stdbool.h>  // before any ldns header (DESIGN.md)
#include <sys/socket.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "resolver/base/random.h"
#include "resolver/base/socket_address.h"
#include "resolver/wire/message.h"

namespace steadfast::fetch {
namespace {

constexpr uint16_t kTypeSoa = 6;

struct PktDeleter {
  void operator()(ldns_pkt* p) const noexcept { ldns_pkt_free(p); }
};
struct RrDeleter {
  void operator()(ldns_rr* r) const noexcept { ldns_rr_free(r); }
};
struct RdfDeleter {
  void operator()(ldns_rdf* r) const noexcept { ldns_rdf_deep_free(r); }
};

std::string rdfText(const ldns_rdf* rdf) {
  char* s = ldns_rdf2str(rdf);
  std::string out = s != nullptr ? s : "";
  free(s);  // NOLINT: ldns allocates with malloc
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

XfrRecord toRecord(const ldns_rr* rr, SoaTimers* soa) {
  XfrRecord r;
  r.owner = lower(rdfText(ldns_rr_owner(rr)));
  r.type = static_cast<uint16_t>(ldns_rr_get_type(rr));
  r.ttl = ldns_rr_ttl(rr);
  for (size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
    if (i > 0) {
      r.rdata.push_back(' ');
    }
    r.rdata += rdfText(ldns_rr_rdf(rr, i));
  }
  if (soa != nullptr && r.type == kTypeSoa && ldns_rr_rd_count(rr) == 7) {
    soa->serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
    soa->refresh = ldns_rdf2native_int32(ldns_rr_rdf(rr, 3));
    soa->retry = ldns_rdf2native_int32(ldns_rr_rdf(rr, 4));
    soa->expire = ldns_rdf2native_int32(ldns_rr_rdf(rr, 5));
  }
  return r;
}

std::string typeText(uint16_t type) {
  char* s = ldns_rr_type2str(static_cast<ldns_rr_type>(type));
  std::string out = s != nullptr ? s : "TYPE" + std::to_string(type);
  free(s);  // NOLINT
  return out;
}

std::string errnoText(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

}  // namespace

std::string XfrRecord::toLine() const {
  return owner + " " + std::to_string(ttl) + " IN " + typeText(type) + " " + rdata;
}

// ---- ZoneCopy -------------------------------------------------------------------------------

Status ZoneCopy::apply(const XfrResult& r) {
  switch (r.kind) {
    case XfrResult::Kind::UpToDate:
      return Ok{};
    case XfrResult::Kind::Full: {
      ZoneCopy next;
      next.serial = r.soa.serial;
      next.soa = r.soa;
      next.soa_record = r.soa_record;
      next.records.insert(r.records.begin(), r.records.end());
      *this = std::move(next);
      return Ok{};
    }
    case XfrResult::Kind::Incremental:
      break;
  }
  if (!serial) {
    return makeError(Errc::Mismatch, "incremental transfer without a zone to apply it to");
  }
  std::set<XfrRecord> next = records;
  uint32_t at = *serial;
  for (const auto& d : r.diffs) {
    if (d.from_serial != at) {
      return makeError(Errc::Mismatch, "IXFR diff from serial " + std::to_string(d.from_serial) +
                                           " but the zone is at " + std::to_string(at));
    }
    for (const auto& rr : d.deleted) {
      if (next.erase(rr) == 0) {
        return makeError(Errc::Mismatch,
                         "IXFR deletes a record the zone does not have: " + rr.toLine());
      }
    }
    for (const auto& rr : d.added) {
      next.insert(rr);
    }
    at = d.to_serial;
  }
  if (at != r.soa.serial) {
    return makeError(Errc::Mismatch, "IXFR diffs end at " + std::to_string(at) + ", SOA says " +
                                         std::to_string(r.soa.serial));
  }
  records = std::move(next);
  serial = r.soa.serial;
  soa = r.soa;
  soa_record = r.soa_record;
  return Ok{};
}

std::string ZoneCopy::toMasterFile() const {
  std::string out;
  if (serial) {
    out += soa_record.toLine() + "\n";
  }
  for (const auto& rr : records) {
    out += rr.toLine() + "\n";
  }
  return out;
}

Result<ZoneCopy> ZoneCopy::fromMasterFile(std::string_view text) {
  ZoneCopy z;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string line(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (line.empty()) {
      continue;
    }
    ldns_rr* raw = nullptr;
    if (ldns_rr_new_frm_str(&raw, line.c_str(), 0, nullptr, nullptr) != LDNS_STATUS_OK) {
      return makeError(Errc::Malformed, "line " + std::to_string(line_no) + ": bad record");
    }
    std::unique_ptr<ldns_rr, RrDeleter> rr(raw);
    SoaTimers soa;
    XfrRecord rec = toRecord(rr.get(), &soa);
    if (rec.type == kTypeSoa && !z.serial) {
      z.serial = soa.serial;
      z.soa = soa;
      z.soa_record = rec;
    } else {
      z.records.insert(std::move(rec));
    }
  }
  return z;
}

// ---- XfrParser ------------------------------------------------------------------------------

XfrParser::XfrParser(std::string zone, uint16_t query_id, std::optional<uint32_t> ixfr_from,
                     TsigStreamVerifier* verifier, XfrLimits limits)
    : zone_(lower(std::move(zone))),
      id_(query_id),
      ixfr_from_(ixfr_from),
      verifier_(verifier),
      limits_(limits) {
  if (zone_.empty() || zone_.back() != '.') {
    zone_.push_back('.');
  }
}

Status XfrParser::onRecord(const XfrRecord& rr, const SoaTimers* soa) {
  if (done_) {
    return makeError(Errc::Malformed, "records after the closing SOA");
  }
  if (++rr_count_ > limits_.max_records) {
    return makeError(Errc::Truncated,
                     "transfer over " + std::to_string(limits_.max_records) + " records");
  }
  if (soa != nullptr && rr.owner != zone_) {
    return makeError(Errc::Malformed, "SOA of " + rr.owner + " in a transfer of " + zone_);
  }
  switch (phase_) {
    case 0:
      if (soa == nullptr) {
        return makeError(Errc::Malformed, "transfer does not start with the zone's SOA");
      }
      new_serial_ = soa->serial;
      result_.soa = *soa;
      result_.soa_record = rr;
      phase_ = 1;
      return Ok{};
    case 1:
      if (soa != nullptr && soa->serial != new_serial_) {
        current_ = IxfrDiff{};
        current_.from_serial = soa->serial;
        phase_ = 2;
        result_.kind = XfrResult::Kind::Incremental;
        return Ok{};
      }
      result_.kind = XfrResult::Kind::Full;
      phase_ = 4;
      if (soa != nullptr) {  // an empty zone: SOA, SOA
        done_ = true;
        return Ok{};
      }
      result_.records.push_back(rr);
      return Ok{};
    case 2:
      if (soa != nullptr) {
        current_.to_serial = soa->serial;
        phase_ = 3;
        return Ok{};
      }
      current_.deleted.push_back(rr);
      return Ok{};
    case 3:
      if (soa != nullptr) {
        const uint32_t to = current_.to_serial;
        result_.diffs.push_back(std::move(current_));
        current_ = IxfrDiff{};
        if (soa->serial == new_serial_ && to == new_serial_) {
          done_ = true;
          return Ok{};
        }
        if (soa->serial != to) {
          return makeError(Errc::Malformed, "IXFR diff starts at serial " +
                                                std::to_string(soa->serial) + ", expected " +
                                                std::to_string(to));
        }
        current_.from_serial = soa->serial;
        phase_ = 2;
        return Ok{};
      }
      current_.added.push_back(rr);
      return Ok{};
    default:  // 4: full zone
      if (soa != nullptr) {
        if (soa->serial != new_serial_) {
          return makeError(Errc::Malformed, "AXFR closes with another serial");
        }
        done_ = true;
        return Ok{};
      }
      result_.records.push_back(rr);
      return Ok{};
  }
}

Status XfrParser::feed(std::span<const uint8_t> msg, uint64_t now_unix) {
  if (done_) {
    return makeError(Errc::Malformed, "message after the end of the transfer");
  }
  if (++messages_ > limits_.max_messages) {
    return makeError(Errc::Truncated, "transfer over the message limit");
  }
  if (msg.size() < 12) {
    return makeError(Errc::Malformed, "message shorter than a header");
  }
  if (wire::readU16(msg.data()) != id_) {
    return makeError(Errc::Mismatch, "message ID does not match the request");
  }
  const uint16_t flags = wire::readU16(msg.data() + 2);
  if ((flags & 0x8000U) == 0) {
    return makeError(Errc::Malformed, "not a response");
  }
  const unsigned rcode = flags & 0xFU;
  if (rcode != 0) {
    if (ixfr_from_ && messages_ == 1 && (rcode == 4 || rcode == 1 || rcode == 5)) {
      ixfr_unsupported_ = rcode != 5;  // NOTIMP/FORMERR: no IXFR here; REFUSED: refused
    }
    if (rcode == 5 || rcode == 9) {
      return makeError(Errc::Refused, rcode == 5 ? "the primary answered REFUSED"
                                                 : "the primary answered NOTAUTH (TSIG)");
    }
    return makeError(Errc::Refused, "the primary answered rcode " + std::to_string(rcode));
  }
  if (verifier_ != nullptr) {
    if (auto st = verifier_->verify(msg, now_unix); !st) {
      return st;
    }
  }
  ldns_pkt* raw = nullptr;
  if (ldns_wire2pkt(&raw, msg.data(), msg.size()) != LDNS_STATUS_OK) {
    return makeError(Errc::Malformed, "unparsable message");
  }
  std::unique_ptr<ldns_pkt, PktDeleter> pkt(raw);
  const ldns_rr_list* question = ldns_pkt_question(pkt.get());
  if (messages_ == 1 && ldns_rr_list_rr_count(question) != 1) {
    return makeError(Errc::Mismatch, "first message without the question");
  }
  if (ldns_rr_list_rr_count(question) >= 1) {
    const ldns_rr* q = ldns_rr_list_rr(question, 0);
    const auto want = ixfr_from_ ? LDNS_RR_TYPE_IXFR : LDNS_RR_TYPE_AXFR;
    if (lower(rdfText(ldns_rr_owner(q))) != zone_ || ldns_rr_get_type(q) != want) {
      return makeError(Errc::Mismatch, "question does not match the request");
    }
  }
  const ldns_rr_list* answer = ldns_pkt_answer(pkt.get());
  const size_t n = ldns_rr_list_rr_count(answer);
  if (n == 0) {
    return makeError(Errc::Malformed, "transfer message without records");
  }
  for (size_t i = 0; i < n; ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(answer, i);
    SoaTimers soa;
    const XfrRecord rec = toRecord(rr, &soa);
    const bool is_soa = rec.type == kTypeSoa;
    // A lone SOA answering our IXFR: the zone has not changed since `ixfr_from_`.
    if (messages_ == 1 && n == 1 && is_soa && ixfr_from_) {
      if (soa.serial != *ixfr_from_) {
        ixfr_unsupported_ = true;  // a lone SOA with another serial: ask the full zone
        return makeError(Errc::Malformed, "IXFR answered by a lone SOA of another serial");
      }
      if (rec.owner != zone_) {
        return makeError(Errc::Malformed, "SOA of another zone");
      }
      result_.kind = XfrResult::Kind::UpToDate;
      result_.soa = soa;
      result_.soa_record = rec;
      done_ = true;
      return Ok{};
    }
    if (auto st = onRecord(rec, is_soa ? &soa : nullptr); !st) {
      return st;
    }
  }
  return Ok{};
}

// ---- queries, URIs, TCP ---------------------------------------------------------------------

std::vector<uint8_t> buildXfrQuery(std::string_view zone, uint16_t id,
                                   std::optional<uint32_t> ixfr_from) {
  const std::string z(zone);
  ldns_pkt* raw = nullptr;
  if (ldns_pkt_query_new_frm_str(&raw, z.c_str(), ixfr_from ? LDNS_RR_TYPE_IXFR : LDNS_RR_TYPE_AXFR,
                                 LDNS_RR_CLASS_IN, 0) != LDNS_STATUS_OK) {
    return {};
  }
  std::unique_ptr<ldns_pkt, PktDeleter> pkt(raw);
  ldns_pkt_set_id(pkt.get(), id);
  if (ixfr_from) {
    const std::string soa = z + " 0 IN SOA . . " + std::to_string(*ixfr_from) + " 0 0 0 0";
    ldns_rr* rr = nullptr;
    if (ldns_rr_new_frm_str(&rr, soa.c_str(), 0, nullptr, nullptr) != LDNS_STATUS_OK) {
      return {};
    }
    ldns_pkt_push_rr(pkt.get(), LDNS_SECTION_AUTHORITY, rr);
  }
  uint8_t* buf = nullptr;
  size_t len = 0;
  if (ldns_pkt2wire(&buf, pkt.get(), &len) != LDNS_STATUS_OK) {
    return {};
  }
  std::vector<uint8_t> out(buf, buf + len);
  free(buf);  // NOLINT
  return out;
}

Result<XfrTarget> parseAxfrUri(std::string_view uri) {
  constexpr std::string_view kScheme = "axfr://";
  if (uri.substr(0, kScheme.size()) != kScheme) {
    return makeError(Errc::InvalidArgument, "expected axfr://HOST:PORT/ZONE");
  }
  uri.remove_prefix(kScheme.size());
  const size_t slash = uri.find('/');
  if (slash == std::string_view::npos || slash + 1 >= uri.size()) {
    return makeError(Errc::InvalidArgument, "axfr:// URI without a zone");
  }
  auto addr = SocketAddress::parse(uri.substr(0, slash), 53);
  if (!addr) {
    return makeError(Errc::InvalidArgument,
                     "axfr:// needs an IP address and optional port: " + addr.error().detail);
  }
  XfrTarget t;
  t.host = addr->addressString();
  t.port = addr->port();
  t.zone = lower(std::string(uri.substr(slash + 1)));
  if (t.zone.back() != '.') {
    t.zone.push_back('.');
  }
  std::array<uint8_t, wire::kMaxNameWire> buf{};
  size_t len = 0;
  if (!wire::nameFromText(t.zone, buf, len)) {
    return makeError(Errc::InvalidArgument, "invalid zone name in axfr:// URI");
  }
  return t;
}

namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

int msLeft(const Clock& clock, MonoTime deadline) {
  const auto left = std::chrono::duration_cast<Millis>(deadline - clock.now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left, 1'000'000));
}

Status waitFor(int fd, short events, const Clock& clock, MonoTime deadline, const char* what) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int ms = msLeft(clock, deadline);
    if (ms == 0) {
      return makeError(Errc::Timeout, std::string("timed out ") + what);
    }
    const int rc = ::poll(&p, 1, ms);
    if (rc < 0 && errno == EINTR) {
      continue;
    }
    if (rc < 0) {
      return makeError(Errc::Io, errnoText("poll"));
    }
    if (rc > 0) {
      return Ok{};
    }
  }
}

Status readExact(int fd, uint8_t* out, size_t n, const Clock& clock, MonoTime deadline) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::recv(fd, out + got, n - got, 0);
    if (r > 0) {
      got += static_cast<size_t>(r);
      continue;
    }
    if (r == 0) {
      return makeError(Errc::Truncated, "the primary closed the connection mid-transfer");
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return makeError(Errc::Io, errnoText("recv"));
    }
    if (auto st = waitFor(fd, POLLIN, clock, deadline, "reading the transfer"); !st) {
      return st;
    }
  }
  return Ok{};
}

Result<XfrResult> transferOnce(const XfrTarget& target, std::optional<uint32_t> have,
                               const XfrOptions& o, const Clock& clock, bool& ixfr_unsupported) {
  auto addr = SocketAddress::parse(target.host, target.port);
  if (!addr) {
    return makeError(Errc::InvalidArgument, addr.error().detail);
  }
  const std::string where = target.host + ":" + std::to_string(target.port);
  const MonoTime start = clock.now();
  const MonoTime total_deadline = start + o.total_timeout;
  Fd fd(::socket(addr->family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    return makeError(Errc::Io, errnoText("socket"));
  }
  if (::connect(fd.get(), addr->sockaddrPtr(), addr->length()) != 0) {
    if (errno != EINPROGRESS) {
      return makeError(Errc::ConnectFailed, errnoText("connect to " + where));
    }
    if (auto st = waitFor(fd.get(), POLLOUT, clock,
                          std::min(total_deadline, start + o.connect_timeout), "connecting");
        !st) {
      return makeError(st.error().code, where + ": " + st.error().detail);
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      return makeError(Errc::ConnectFailed, "connect to " + where + ": " + std::strerror(err));
    }
  }
  const uint16_t id = threadRandom().next16();
  auto query = buildXfrQuery(target.zone, id, have);
  if (query.empty()) {
    return makeError(Errc::Internal, "cannot build the transfer query");
  }
  std::vector<uint8_t> request_mac;
  std::optional<TsigStreamVerifier> verifier;
  const auto wall = [&] {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<Seconds>(clock.wallNow().time_since_epoch()).count());
  };
  if (o.key != nullptr) {
    request_mac = tsigSign(query, *o.key, wall());
    verifier.emplace(*o.key, request_mac);
  }
  std::vector<uint8_t> out(query.size() + 2);
  wire::writeU16(out.data(), static_cast<uint16_t>(query.size()));
  std::copy(query.begin(), query.end(), out.begin() + 2);
  size_t sent = 0;
  while (sent < out.size()) {
    const ssize_t w = ::send(fd.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (w > 0) {
      sent += static_cast<size_t>(w);
    } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (auto st = waitFor(fd.get(), POLLOUT, clock, total_deadline, "sending"); !st) {
        return st.error().code == Errc::Timeout ? makeError(Errc::Timeout, where + ": timed out")
                                                : makeError(st.error().code, st.error().detail);
      }
    } else {
      return makeError(Errc::Io, errnoText("send to " + where));
    }
  }
  XfrParser parser(target.zone, id, have, verifier ? &*verifier : nullptr, o.limits);
  std::vector<uint8_t> msg;
  while (!parser.done()) {
    uint8_t len_buf[2];
    if (auto st = readExact(fd.get(), len_buf, 2, clock, total_deadline); !st) {
      return makeError(st.error().code, where + ": " + st.error().detail);
    }
    msg.resize(wire::readU16(len_buf));
    if (auto st = readExact(fd.get(), msg.data(), msg.size(), clock, total_deadline); !st) {
      return makeError(st.error().code, where + ": " + st.error().detail);
    }
    if (auto st = parser.feed(msg, wall()); !st) {
      ixfr_unsupported = parser.ixfrUnsupported();
      return makeError(st.error().code, where + " " + target.zone + ": " + st.error().detail);
    }
  }
  return parser.result();
}

}  // namespace

Result<XfrResult> transfer(const XfrTarget& target, std::optional<uint32_t> have,
                           const XfrOptions& options, const Clock& clock) {
  bool ixfr_unsupported = false;
  auto r = transferOnce(target, have, options, clock, ixfr_unsupported);
  if (!r && have && ixfr_unsupported) {
    bool unused = false;
    return transferOnce(target, std::nullopt, options, clock, unused);
  }
  return r;
}

}  // namespace steadfast::fetch
