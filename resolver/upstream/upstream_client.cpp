// SPDX-License-Identifier: Apache-2.0
// Attempt life cycle: Udp (poll on a connected socket) -> [TC] -> Tcp (connect, write, read)
// -> report -> closing (handles closed, freed when their close callbacks have run).
#include "resolver/upstream/upstream_client.h"

#include <array>
#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <vector>

#include "resolver/base/log.h"
#include "resolver/base/random.h"
#include "resolver/io/socket_util.h"

namespace steadfast::upstream {

class Attempt final : public StreamWaiter {
 public:
  Attempt(UpstreamClient& client, const failover::UpstreamUri& uri, const wire::Query& q,
          uint16_t edns_size, Nanos timeout, uint64_t cookie)
      : client_(client),
        uri_(uri),
        query_(q),
        edns_size_(edns_size),
        timeout_(timeout),
        cookie_(cookie) {
    poll_.data = this;
    tcp_.data = this;
    timer_.data = this;
    connect_req_.data = this;
    write_req_.data = this;
  }

  bool start() {
    started_at_ = MonoClock::now();
    id_ = threadRandom().next16();
    query_len_ = wire::buildUpstreamQuery(query_, id_, edns_size_,
                                          std::span<uint8_t>(query_buf_.data() + 2, kMaxQuery),
                                          uri_.send_client_subnet);
    if (query_len_ == 0) {
      return false;
    }
    uv_timer_init(client_.loop_, &timer_);
    timer_open_ = true;
    armTimer();
    if (uri_.transport == failover::UpstreamTransport::Dns) {
      return startUdp();
    }
    return startStream();
  }

  void onStreamAnswer(std::span<const uint8_t> msg) override {
    if (!closing_) {
      consider(msg, true);
    }
  }

  void onStreamFailed(AttemptOutcome outcome) override {
    if (!closing_) {
      report(outcome, {});
    }
  }

  [[nodiscard]] uint64_t cookie() const noexcept { return cookie_; }

  /// Starts closing: unlinks from the client and closes every handle. Never frees `this`;
  /// that happens in onClosed() or releaseIfClosed(), once no handle is left open.
  void finish() {
    if (closing_) {
      return;
    }
    closing_ = true;
    unlink();
    client_.pool_->forget(this);
    if (timer_open_) {
      uv_timer_stop(&timer_);
      ++pending_closes_;
      uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &Attempt::onClosed);
    }
    closeUdp();
    closeTcp();
  }

  /// Frees a finished attempt that has no handle left to close.
  void releaseIfClosed() {
    if (closing_ && pending_closes_ == 0) {
      delete this;
    }
  }

  Attempt* next = nullptr;
  Attempt* prev = nullptr;

 private:
  static constexpr size_t kMaxQuery = 512 + 64;

  void unlink() {
    if (prev != nullptr) {
      prev->next = next;
    } else if (client_.head_ == this) {
      client_.head_ = next;
    }
    if (next != nullptr) {
      next->prev = prev;
    }
    next = prev = nullptr;
    --client_.in_flight_;
  }

  void armTimer() {
    auto ms = std::chrono::duration_cast<Millis>(timeout_).count();
    uv_timer_start(&timer_, &Attempt::onTimeout, static_cast<uint64_t>(ms > 0 ? ms : 1), 0);
  }

  bool startUdp() {
    auto fd = io::openUpstreamUdp(uri_.address);
    if (!fd) {
      return false;
    }
    udp_fd_ = *fd;
    if (uv_poll_init(client_.loop_, &poll_, udp_fd_) != 0) {
      io::closeFd(udp_fd_);
      udp_fd_ = -1;
      return false;
    }
    poll_open_ = true;
    if (::send(udp_fd_, query_buf_.data() + 2, query_len_, 0) < 0) {
      // An unreachable network fails here at once: report it on the next loop turn.
      deferred_network_ = true;
    }
    uv_poll_start(&poll_, UV_READABLE, &Attempt::onUdpReadable);
    if (deferred_network_) {
      uv_timer_stop(&timer_);
      uv_timer_start(&timer_, &Attempt::onTimeout, 0, 0);
    }
    return true;
  }

  void closeUdp() {
    if (poll_open_) {
      poll_open_ = false;
      uv_poll_stop(&poll_);
      ++pending_closes_;
      uv_close(reinterpret_cast<uv_handle_t*>(&poll_), &Attempt::onClosed);
    } else if (udp_fd_ >= 0) {
      io::closeFd(udp_fd_);
      udp_fd_ = -1;
    }
  }

  /// tcp:// and tls://: the query goes over a kept-open connection of the pool.
  bool startStream() {
    const AttemptOutcome o = client_.pool_->send(
        uri_, this, std::span<uint8_t>(query_buf_.data() + 2, query_len_), &id_);
    if (closing_) {
      return true;  // the connection failed at once and reported through onStreamFailed
    }
    if (o != AttemptOutcome::Answer) {
      deferOutcome(o);
    }
    return true;
  }

  /// Reports `o` on the next loop turn (never from inside start()).
  void deferOutcome(AttemptOutcome o) {
    deferred_network_ = true;
    deferred_outcome_ = o;
    uv_timer_stop(&timer_);
    uv_timer_start(&timer_, &Attempt::onTimeout, 0, 0);
  }

  bool startTcp() {
    if (uv_tcp_init(client_.loop_, &tcp_) != 0) {
      return false;
    }
    tcp_open_ = true;
    if (uv_tcp_connect(&connect_req_, &tcp_, uri_.address.sockaddrPtr(), &Attempt::onConnect) !=
        0) {
      deferred_network_ = true;
      uv_timer_stop(&timer_);
      uv_timer_start(&timer_, &Attempt::onTimeout, 0, 0);
    }
    return true;
  }

  void closeTcp() {
    if (tcp_open_) {
      tcp_open_ = false;
      ++pending_closes_;
      uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &Attempt::onClosed);
    }
  }

  void report(AttemptOutcome outcome, std::span<const uint8_t> msg) {
    auto rtt = MonoClock::now() - started_at_;
    auto& listener = client_.listener_;
    uint64_t cookie = cookie_;
    finish();
    // `this` (and info_, msg) stay valid through the callback; freed only afterwards.
    listener.onAttemptDone(this, cookie, outcome, msg, info_, rtt);
    releaseIfClosed();
  }

  /// Checks a response; returns true when it ended the attempt.
  bool consider(std::span<const uint8_t> msg, bool over_tcp) {
    auto check = wire::analyzeResponse(msg, id_, query_, info_);
    if (check == wire::ResponseCheck::Mismatch) {
      client_.listener_.onMismatch(cookie_);
      if (over_tcp) {
        report(AttemptOutcome::Malformed, {});
        return true;
      }
      return false;  // RFC 5452: ignore it and keep waiting for the real answer
    }
    if (check == wire::ResponseCheck::Malformed) {
      report(AttemptOutcome::Malformed, {});
      return true;
    }
    if (info_.truncated && !over_tcp) {
      // RFC 7766 / RFC 1035 4.2.1: retry the same question over TCP.
      closeUdp();
      client_.listener_.onTcpFallback(cookie_);
      uv_timer_stop(&timer_);
      armTimer();
      if (!startTcp()) {
        report(AttemptOutcome::Network, {});
      }
      return true;
    }
    report(AttemptOutcome::Answer, msg);
    return true;
  }

  static void onUdpReadable(uv_poll_t* handle, int status, int /*events*/) {
    auto* self = static_cast<Attempt*>(handle->data);
    if (self->closing_) {
      return;
    }
    if (status < 0) {
      self->report(AttemptOutcome::Network, {});
      return;
    }
    auto& buf = self->client_.recv_buf_;
    for (int i = 0; i < 16; ++i) {
      ssize_t n = ::recv(self->udp_fd_, buf.data(), buf.size(), 0);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
          return;
        }
        // ECONNREFUSED: ICMP port unreachable on the connected socket.
        self->report(AttemptOutcome::Network, {});
        return;
      }
      if (self->consider(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)), false)) {
        return;
      }
    }
  }

  static void onTimeout(uv_timer_t* handle) {
    auto* self = static_cast<Attempt*>(handle->data);
    if (self->closing_) {
      return;
    }
    self->report(self->deferred_network_ ? self->deferred_outcome_ : AttemptOutcome::Timeout, {});
  }

  static void onConnect(uv_connect_t* req, int status) {
    auto* self = static_cast<Attempt*>(req->data);
    if (self->closing_) {
      return;
    }
    if (status < 0) {
      self->report(AttemptOutcome::Network, {});
      return;
    }
    wire::writeU16(self->query_buf_.data(), static_cast<uint16_t>(self->query_len_));
    uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(self->query_buf_.data()),
                             static_cast<unsigned>(self->query_len_ + 2));
    if (uv_write(&self->write_req_, reinterpret_cast<uv_stream_t*>(&self->tcp_), &b, 1,
                 &Attempt::onWrite) != 0 ||
        uv_read_start(reinterpret_cast<uv_stream_t*>(&self->tcp_), &Attempt::onAlloc,
                      &Attempt::onRead) != 0) {
      self->report(AttemptOutcome::Network, {});
    }
  }

  static void onWrite(uv_write_t* req, int status) {
    auto* self = static_cast<Attempt*>(req->data);
    if (!self->closing_ && status < 0) {
      self->report(AttemptOutcome::Network, {});
    }
  }

  static void onAlloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
    auto* self = static_cast<Attempt*>(handle->data);
    if (self->tcp_buf_.size() < self->tcp_used_ + 4096) {
      self->tcp_buf_.resize(self->tcp_used_ + 4096);
    }
    *buf = uv_buf_init(reinterpret_cast<char*>(self->tcp_buf_.data() + self->tcp_used_),
                       static_cast<unsigned>(self->tcp_buf_.size() - self->tcp_used_));
  }

  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* /*buf*/) {
    auto* self = static_cast<Attempt*>(stream->data);
    if (self->closing_) {
      return;
    }
    if (nread < 0) {
      self->report(AttemptOutcome::Network, {});
      return;
    }
    self->tcp_used_ += static_cast<size_t>(nread);
    if (self->tcp_used_ < 2) {
      return;
    }
    size_t need = wire::readU16(self->tcp_buf_.data());
    if (self->tcp_used_ < need + 2) {
      return;
    }
    self->consider(std::span<const uint8_t>(self->tcp_buf_.data() + 2, need), true);
  }

  static void onClosed(uv_handle_t* handle) {
    auto* self = static_cast<Attempt*>(handle->data);
    if (handle == reinterpret_cast<uv_handle_t*>(&self->poll_)) {
      // libuv: the fd must stay open until the poll handle is closed.
      io::closeFd(self->udp_fd_);
      self->udp_fd_ = -1;
    }
    // Closing the UDP leg on a truncated answer is not the end of the attempt: only a
    // finished attempt is freed, once its last handle is closed.
    if (--self->pending_closes_ == 0 && self->closing_) {
      delete self;
    }
  }

  UpstreamClient& client_;
  const failover::UpstreamUri& uri_;
  const wire::Query& query_;
  uint16_t edns_size_;
  Nanos timeout_;
  uint64_t cookie_;
  uint16_t id_ = 0;
  size_t query_len_ = 0;
  MonoTime started_at_{};
  std::array<uint8_t, kMaxQuery + 2> query_buf_{};
  wire::ResponseInfo info_{};
  uv_timer_t timer_{};
  uv_poll_t poll_{};
  uv_tcp_t tcp_{};
  uv_connect_t connect_req_{};
  uv_write_t write_req_{};
  std::vector<uint8_t> tcp_buf_;
  size_t tcp_used_ = 0;
  int udp_fd_ = -1;
  int pending_closes_ = 0;
  bool timer_open_ = false;
  bool poll_open_ = false;
  bool tcp_open_ = false;
  bool closing_ = false;
  bool deferred_network_ = false;
  AttemptOutcome deferred_outcome_ = AttemptOutcome::Network;
};

UpstreamClient::UpstreamClient(uv_loop_t* loop, AttemptListener& listener, StreamPoolConfig stream)
    : loop_(loop),
      listener_(listener),
      pool_(std::make_unique<StreamPool>(loop, clock_, stream,
                                         static_cast<StreamPoolListener*>(this))) {}

void UpstreamClient::onConnectionOpened(const failover::UpstreamUri& /*uri*/,
                                        StreamWaiter* waiter) {
  listener_.onConnectionOpened(static_cast<Attempt*>(waiter)->cookie());
}

void UpstreamClient::onTlsFailure(const failover::UpstreamUri& uri, const std::string& why) {
  // Each failure is followed by a reconnect backoff, so this line is bounded in rate.
  LOG_WARN("upstream %s: TLS failed, not used until it verifies: %s", uri.text.c_str(),
           why.c_str());
}

UpstreamClient::~UpstreamClient() {
  for (Attempt* a = head_; a != nullptr;) {
    Attempt* next = a->next;  // taken first: `a` may be freed below
    a->finish();
    a->releaseIfClosed();
    a = next;
  }
  head_ = nullptr;
}

Attempt* UpstreamClient::start(const failover::UpstreamUri& uri, const wire::Query& q,
                               uint16_t edns_size, Nanos timeout, uint64_t cookie) {
  auto* a = new Attempt(*this, uri, q, edns_size, timeout, cookie);
  a->next = head_;
  if (head_ != nullptr) {
    head_->prev = a;
  }
  head_ = a;
  ++in_flight_;
  if (!a->start()) {
    a->finish();
    a->releaseIfClosed();
    return nullptr;
  }
  return a;
}

void UpstreamClient::cancel(Attempt* attempt) noexcept {
  if (attempt != nullptr) {
    attempt->finish();
    attempt->releaseIfClosed();
  }
}

}  // namespace steadfast::upstream
