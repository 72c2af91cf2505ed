// SPDX-License-Identifier: Apache-2.0
// Connection life cycle: Connecting (TCP connect) -> [Handshaking (TLS)] -> Ready -> Closing
// (handles closed, freed when their close callbacks have run). Queries sent before Ready wait
// in `queued_` and go out when the connection is Ready.
#include "resolver/upstream/stream_pool.h"

#include <array>
#include <cstring>

#include <openssl/ssl.h>

#include "resolver/base/log.h"
#include "resolver/io/tls_client.h"
#include "resolver/wire/message.h"
#include "resolver/wire/stream_framing.h"

namespace steadfast::upstream {

namespace {

/// One uv_write with its own bytes.
struct WriteReq {
  uv_write_t req{};
  std::vector<uint8_t> data;
};

void onWritten(uv_write_t* req, int /*status*/) {
  // A failed write shows as a read error or EOF on the same stream; the read side reports.
  delete static_cast<WriteReq*>(req->data);
}

}  // namespace

class StreamConn {
 public:
  enum class State : uint8_t { Connecting, Handshaking, Ready, Closing };

  StreamConn(StreamPool& pool, StreamPool::Upstream& up, const failover::UpstreamUri& uri)
      : pool_(pool),
        up_(up),
        uri_(uri),
        ids_(pool.cfg_.max_in_flight),
        last_activity_(pool.clock_.now()) {
    tcp_.data = this;
    timer_.data = this;
    connect_req_.data = this;
  }

  bool open(std::string* why) {
    if (uri_.transport == failover::UpstreamTransport::Tls) {
      io::TlsClientContext* ctx = pool_.tlsContext(uri_.ca_file, why);
      if (ctx == nullptr) {
        return false;
      }
      tls_ = std::make_unique<io::TlsClientSession>(*ctx, uri_.tls_name, uri_.spki_pin,
                                                    static_cast<SSL_SESSION*>(up_.session));
    }
    if (uv_tcp_init(pool_.loop_, &tcp_) != 0) {
      return false;
    }
    ++open_handles_;
    uv_tcp_nodelay(&tcp_, 1);
    uv_timer_init(pool_.loop_, &timer_);
    ++open_handles_;
    if (uv_tcp_connect(&connect_req_, &tcp_, uri_.address.sockaddrPtr(), &StreamConn::onConnect) !=
        0) {
      close(AttemptOutcome::Network, false);
      return true;  // failed queued waiters already; the caller's waiter too
    }
    return true;
  }

  [[nodiscard]] ConnView view() const noexcept {
    return ConnView{state_ == State::Ready, ids_.size(), pool_.cfg_.max_in_flight};
  }
  [[nodiscard]] State state() const noexcept { return state_; }

  /// Adds `waiter` with a fresh ID written into `query`; false only when the table is full.
  bool add(StreamWaiter* waiter, std::span<uint8_t> query, uint16_t* id) {
    for (int tries = 0; tries < 64; ++tries) {
      const uint16_t candidate = threadRandom().next16();
      if (ids_.add(candidate, reinterpret_cast<uintptr_t>(waiter))) {
        *id = candidate;
        wire::writeU16(query.data(), candidate);
        waiter->stream_conn = this;
        std::vector<uint8_t> framed(query.size() + 2);
        wire::StreamReader::writePrefix(query.size(), std::span<uint8_t, 2>(framed.data(), 2));
        std::memcpy(framed.data() + 2, query.data(), query.size());
        if (state_ == State::Ready) {
          sendPlain(framed);
        } else {
          queued_.insert(queued_.end(), framed.begin(), framed.end());
        }
        uv_timer_stop(&timer_);
        return true;
      }
      if (ids_.full()) {
        return false;
      }
    }
    return false;
  }

  void forget(StreamWaiter* waiter) noexcept {
    ids_.forget(reinterpret_cast<uintptr_t>(waiter));
    waiter->stream_conn = nullptr;
    armIdle();
  }

  /// Closes the connection, failing every waiter still on it with `outcome` (after the
  /// connection is unlinked, so a waiter that retries does not land here again).
  void close(AttemptOutcome outcome, bool peer_closed_after_answers) {
    if (state_ == State::Closing) {
      return;
    }
    state_ = State::Closing;
    saveSession();
    pool_.connDone(up_, this);
    if (outcome != AttemptOutcome::Answer && !peer_closed_after_answers) {
      up_.backoff.onFailure();
      up_.last_failure = outcome;
    }
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &StreamConn::onClosed);
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &StreamConn::onClosed);
    // A peer that closes a connection that worked (its idle or query limit) costs no backoff;
    // the queries still waiting on it fail as Network and the pipeline tries the next upstream.
    const AttemptOutcome report =
        outcome == AttemptOutcome::Answer ? AttemptOutcome::Network : outcome;
    for (uint64_t cookie : ids_.drain()) {
      auto* waiter = reinterpret_cast<StreamWaiter*>(static_cast<uintptr_t>(cookie));
      waiter->stream_conn = nullptr;
      waiter->onStreamFailed(report);
    }
  }

 private:
  void saveSession() {
    if (!tls_ || !tls_->ready()) {
      return;
    }
    SSL_SESSION* s = tls_->takeSession();
    if (s == nullptr) {
      return;
    }
    SSL_SESSION_free(static_cast<SSL_SESSION*>(up_.session));
    up_.session = s;
  }

  void armIdle() {
    if (state_ == State::Closing || !ids_.empty()) {
      return;
    }
    last_activity_ = pool_.clock_.now();
    const auto ms = std::chrono::duration_cast<Millis>(pool_.cfg_.idle_timeout).count();
    uv_timer_start(&timer_, &StreamConn::onIdle, static_cast<uint64_t>(ms > 0 ? ms : 1), 0);
  }

  static void onIdle(uv_timer_t* t) {
    auto* self = static_cast<StreamConn*>(t->data);
    if (shouldCloseIdle(self->pool_.clock_.now(), self->last_activity_, self->ids_.size(),
                        self->pool_.cfg_.idle_timeout)) {
      self->close(AttemptOutcome::Answer, true);
    }
  }

  void writeRaw(std::vector<uint8_t> bytes) {
    if (bytes.empty()) {
      return;
    }
    auto* w = new WriteReq;
    w->data = std::move(bytes);
    w->req.data = w;
    uv_buf_t b =
        uv_buf_init(reinterpret_cast<char*>(w->data.data()), static_cast<unsigned>(w->data.size()));
    if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1, &onWritten) != 0) {
      delete w;
    }
  }

  void sendPlain(std::span<const uint8_t> framed) {
    if (!tls_) {
      writeRaw(std::vector<uint8_t>(framed.begin(), framed.end()));
      return;
    }
    if (!tls_->write(framed)) {
      return;  // the read side sees the failure
    }
    std::vector<uint8_t> out;
    tls_->drainOutput(out);
    writeRaw(std::move(out));
  }

  void flushTlsOutput() {
    std::vector<uint8_t> out;
    tls_->drainOutput(out);
    writeRaw(std::move(out));
  }

  void becomeReady() {
    state_ = State::Ready;
    up_.backoff.onSuccess();
    if (!queued_.empty()) {
      std::vector<uint8_t> q = std::move(queued_);
      queued_.clear();
      sendPlain(q);
    }
    armIdle();
  }

  static void onConnect(uv_connect_t* req, int status) {
    auto* self = static_cast<StreamConn*>(req->data);
    if (self->state_ == State::Closing) {
      return;
    }
    if (status < 0) {
      self->close(AttemptOutcome::Network, false);
      return;
    }
    if (uv_read_start(reinterpret_cast<uv_stream_t*>(&self->tcp_), &StreamConn::onAlloc,
                      &StreamConn::onRead) != 0) {
      self->close(AttemptOutcome::Network, false);
      return;
    }
    if (!self->tls_) {
      self->becomeReady();
      return;
    }
    self->state_ = State::Handshaking;
    self->stepHandshake();
  }

  /// Runs the handshake as far as the bytes allow; false when the connection closed.
  bool stepHandshake() {
    const io::TlsStep s = tls_->handshake();
    flushTlsOutput();
    if (s == io::TlsStep::Failed) {
      if (pool_.listener_ != nullptr) {
        pool_.listener_->onTlsFailure(uri_, tls_->failure());
      }
      close(AttemptOutcome::Tls, false);
      return false;
    }
    if (s == io::TlsStep::Ready) {
      becomeReady();
    }
    return true;
  }

  static void onAlloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
    auto* self = static_cast<StreamConn*>(handle->data);
    auto& rb = self->pool_.read_buf_;
    *buf = uv_buf_init(reinterpret_cast<char*>(rb.data()), static_cast<unsigned>(rb.size()));
  }

  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<StreamConn*>(stream->data);
    if (self->state_ == State::Closing || nread == 0) {
      return;
    }
    if (nread < 0) {
      const bool handshaking = self->state_ != State::Ready;
      // A TLS server that rejects us during the handshake just closes: that is a TLS failure.
      if (handshaking && self->tls_) {
        if (self->pool_.listener_ != nullptr) {
          self->pool_.listener_->onTlsFailure(self->uri_, "closed during the TLS handshake");
        }
        self->close(AttemptOutcome::Tls, false);
        return;
      }
      self->close(AttemptOutcome::Network, self->answered_ > 0);
      return;
    }
    std::span<const uint8_t> in(reinterpret_cast<const uint8_t*>(buf->base),
                                static_cast<size_t>(nread));
    if (!self->tls_) {
      self->consumePlain(in);
      return;
    }
    self->tls_->feed(in);
    if (self->state_ == State::Handshaking && !self->stepHandshake()) {
      return;
    }
    if (self->state_ != State::Ready) {
      return;
    }
    std::array<uint8_t, 16384> plain{};
    for (;;) {
      const ptrdiff_t n = self->tls_->read(plain);
      if (n < 0) {
        self->close(AttemptOutcome::Network, self->answered_ > 0);
        return;
      }
      if (n == 0) {
        break;
      }
      if (!self->consumePlain(std::span<const uint8_t>(plain.data(), static_cast<size_t>(n)))) {
        return;
      }
    }
    self->flushTlsOutput();
  }

  /// Frames and dispatches; false when the connection closed.
  bool consumePlain(std::span<const uint8_t> in) {
    std::span<const uint8_t> msg;
    while (!in.empty()) {
      const wire::StreamReader::Status s = reader_.consume(in, msg);
      if (s == wire::StreamReader::Status::Error) {
        close(AttemptOutcome::Malformed, false);
        return false;
      }
      if (s == wire::StreamReader::Status::NeedMore) {
        break;
      }
      if (msg.size() < 2) {
        continue;
      }
      const auto cookie = ids_.take(wire::readU16(msg.data()));
      if (!cookie) {
        continue;  // nobody asked (a late answer to a forgotten query): ignore it
      }
      ++answered_;
      auto* waiter = reinterpret_cast<StreamWaiter*>(static_cast<uintptr_t>(*cookie));
      waiter->stream_conn = nullptr;
      waiter->onStreamAnswer(msg);
      if (state_ == State::Closing) {
        return false;
      }
    }
    armIdle();
    return true;
  }

  static void onClosed(uv_handle_t* handle) {
    auto* self = static_cast<StreamConn*>(handle->data);
    if (--self->open_handles_ == 0) {
      delete self;
    }
  }

  StreamPool& pool_;
  StreamPool::Upstream& up_;
  failover::UpstreamUri uri_;
  StreamIds ids_;
  wire::StreamReader reader_;
  std::unique_ptr<io::TlsClientSession> tls_;
  std::vector<uint8_t> queued_;
  uint64_t answered_ = 0;
  MonoTime last_activity_;
  uv_tcp_t tcp_{};
  uv_timer_t timer_{};
  uv_connect_t connect_req_{};
  int open_handles_ = 0;
  State state_ = State::Connecting;
};

StreamPool::StreamPool(uv_loop_t* loop, const Clock& clock, StreamPoolConfig cfg,
                       StreamPoolListener* listener)
    : loop_(loop), clock_(clock), cfg_(cfg), listener_(listener), read_buf_(65536) {}

StreamPool::~StreamPool() {
  for (auto& [key, up] : upstreams_) {
    std::vector<StreamConn*> conns = up->conns;
    for (StreamConn* c : conns) {
      c->close(AttemptOutcome::Network, false);
    }
    SSL_SESSION_free(static_cast<SSL_SESSION*>(up->session));
    up->session = nullptr;
  }
}

StreamPool::Upstream& StreamPool::upstreamFor(const failover::UpstreamUri& uri) {
  std::unique_ptr<Upstream>& slot = upstreams_[uri.text + "|" + uri.ca_file];
  if (!slot) {
    slot = std::make_unique<Upstream>(clock_, random_, cfg_);
    slot->last_failure = AttemptOutcome::Network;
  }
  return *slot;
}

io::TlsClientContext* StreamPool::tlsContext(const std::string& ca_file, std::string* why) {
  std::unique_ptr<io::TlsClientContext>& slot = tls_contexts_[ca_file];
  if (!slot) {
    auto ctx = io::TlsClientContext::create(ca_file);
    if (!ctx) {
      *why = ctx.error().detail;
      tls_contexts_.erase(ca_file);
      return nullptr;
    }
    slot = std::move(*ctx);
  }
  return slot.get();
}

void StreamPool::connDone(Upstream& up, StreamConn* conn) noexcept {
  auto& v = up.conns;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == conn) {
      v[i] = v.back();
      v.pop_back();
      return;
    }
  }
}

AttemptOutcome StreamPool::send(const failover::UpstreamUri& uri, StreamWaiter* waiter,
                                std::span<uint8_t> query, uint16_t* id) {
  Upstream& up = upstreamFor(uri);
  std::array<ConnView, 64> views{};
  const size_t n = std::min(up.conns.size(), views.size());
  for (size_t i = 0; i < n; ++i) {
    views[i] = up.conns[i]->view();
  }
  const Choice c = chooseConnection(std::span<const ConnView>(views.data(), n),
                                    cfg_.max_connections, up.backoff.mayConnect());
  switch (c.kind) {
    case Choice::Kind::Use:
    case Choice::Kind::Wait:
      return up.conns[c.index]->add(waiter, query, id) ? AttemptOutcome::Answer
                                                       : AttemptOutcome::Network;
    case Choice::Kind::Open: {
      auto* conn = new StreamConn(*this, up, uri);
      up.conns.push_back(conn);
      std::string why;
      if (!conn->open(&why)) {
        connDone(up, conn);
        delete conn;  // no handle was opened
        if (!why.empty()) {
          LOG_WARN("upstream %s: %s", uri.text.c_str(), why.c_str());
          return AttemptOutcome::Tls;
        }
        return AttemptOutcome::Network;
      }
      if (listener_ != nullptr) {
        listener_->onConnectionOpened(uri, waiter);
      }
      if (conn->state() == StreamConn::State::Closing) {
        return up.last_failure;
      }
      return conn->add(waiter, query, id) ? AttemptOutcome::Answer : AttemptOutcome::Network;
    }
    case Choice::Kind::None:
      break;
  }
  // Every connection is full, or a reconnect waits for its backoff after a failure: report
  // the failure that caused it (Tls stays Tls, so health keeps the kind).
  return up.conns.empty() ? up.last_failure : AttemptOutcome::Network;
}

void StreamPool::forget(StreamWaiter* waiter) noexcept {
  if (waiter->stream_conn != nullptr) {
    static_cast<StreamConn*>(waiter->stream_conn)->forget(waiter);
  }
}

size_t StreamPool::connections() const noexcept {
  size_t n = 0;
  for (const auto& [key, up] : upstreams_) {
    n += up->conns.size();
  }
  return n;
}

}  // namespace steadfast::upstream
