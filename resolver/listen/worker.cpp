// SPDX-License-Identifier: Apache-2.0
#include "resolver/listen/worker.h"

#include <array>
#include <cerrno>
#include <cstring>
#include <sys/socket.h>

#include "resolver/io/socket_util.h"

namespace steadfast::listen {
namespace {
constexpr unsigned kBatch = 32;               // datagrams per recvmmsg/sendmmsg
constexpr size_t kUdpBuf = 4096;              // per datagram; larger queries are malformed here
constexpr int kUdpRounds = 8;                 // batches per readable event before yielding
constexpr uint32_t kMaxPendingPerConn = 128;  // stop reading a TCP client past this
// Unsent answer bytes queued on one TCP connection before it stops being read: a client that
// sends queries and never reads the answers must not grow our memory without bound.
constexpr size_t kMaxQueuedBytes = size_t{256} << 10U;
constexpr int kTcpBacklog = 1024;
}  // namespace

struct Worker::UdpSocket {
  Worker* worker = nullptr;
  int fd = -1;
  uv_poll_t poll{};
  bool polling = false;
  std::array<std::array<uint8_t, kUdpBuf>, kBatch> in{};
  std::array<std::array<uint8_t, kUdpBuf>, kBatch> out{};
  std::array<mmsghdr, kBatch> in_msgs{};
  std::array<mmsghdr, kBatch> out_msgs{};
  std::array<iovec, kBatch> in_iov{};
  std::array<iovec, kBatch> out_iov{};
  std::array<sockaddr_storage, kBatch> addrs{};
};

struct Worker::TcpListener {
  Worker* worker = nullptr;
  int fd = -1;
  uv_tcp_t handle{};
  bool open = false;
};

struct Worker::Connection {
  Worker* worker = nullptr;
  uv_tcp_t handle{};
  uv_timer_t idle{};
  SocketAddress peer;
  std::vector<uint8_t> buf;
  size_t used = 0;
  uint32_t pending = 0;  // queries handed to the pipeline and not yet delivered
  int handles_open = 0;
  bool closed = false;
  bool reading = false;
  Connection* next = nullptr;
  Connection* prev = nullptr;
};

namespace {
struct WriteReq {
  uv_write_t req{};
  Worker::Connection* conn = nullptr;
  std::vector<uint8_t> data;
};
}  // namespace

Worker::Worker(size_t index, cache::PacketCache& cache, pipeline::RuntimeHolder& runtime,
               pipeline::WorkerStats& stats, TcpBudget& tcp_budget,
               pipeline::PassiveChannel* passive)
    : index_(index),
      cache_(cache),
      runtime_(runtime),
      stats_(stats),
      tcp_budget_(tcp_budget),
      passive_(passive) {
  reader_ = cache_.registerReader();
}

Worker::~Worker() {
  join();
  for (auto& u : udp_) {
    io::closeFd(u->fd);
  }
  for (auto& t : tcp_) {
    if (!t->open) {
      io::closeFd(t->fd);
    }
  }
}

Status Worker::bind(const std::vector<SocketAddress>& addresses) {
  for (const auto& addr : addresses) {
    auto udp = io::openUdpListener(addr);
    if (!udp) {
      return Unexpected<Error>{udp.error()};
    }
    auto s = std::make_unique<UdpSocket>();
    s->worker = this;
    s->fd = *udp;
    udp_.push_back(std::move(s));
    auto tcp = io::openTcpListener(addr, kTcpBacklog);
    if (!tcp) {
      return Unexpected<Error>{tcp.error()};
    }
    auto l = std::make_unique<TcpListener>();
    l->worker = this;
    l->fd = *tcp;
    tcp_.push_back(std::move(l));
  }
  return Ok{};
}

void Worker::start() {
  // The loop and the stop handle exist before the thread does, so requestStop() from another
  // thread (a SIGTERM right after start) always finds an initialised handle; the thread's
  // creation orders these writes before everything the thread does (found by TSan).
  uv_loop_init(&loop_);
  stop_async_.data = this;
  uv_async_init(&loop_, &stop_async_,
                [](uv_async_t* a) { static_cast<Worker*>(a->data)->beginStop(); });
  thread_ = std::thread([this] { run(); });
}

void Worker::requestStop() {
  if (thread_.joinable()) {
    uv_async_send(&stop_async_);
  }
}

void Worker::join() {
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Worker::run() {
  pipeline::Pipeline::Options options;
  options.passive = passive_;
  pipeline_ = std::make_unique<pipeline::Pipeline>(&loop_, cache_, reader_, runtime_, stats_,
                                                   index_, *this, options);
  uv_timer_init(&loop_, &drain_timer_);
  drain_timer_.data = this;

  for (auto& s : udp_) {
    UdpSocket& u = *s;
    for (unsigned i = 0; i < kBatch; ++i) {
      u.in_iov[i] = iovec{u.in[i].data(), kUdpBuf};
      u.in_msgs[i].msg_hdr.msg_iov = &u.in_iov[i];
      u.in_msgs[i].msg_hdr.msg_iovlen = 1;
      u.in_msgs[i].msg_hdr.msg_name = &u.addrs[i];
      u.out_msgs[i].msg_hdr.msg_iov = &u.out_iov[i];
      u.out_msgs[i].msg_hdr.msg_iovlen = 1;
    }
    uv_poll_init(&loop_, &u.poll, u.fd);
    u.poll.data = &u;
    u.polling = true;
    uv_poll_start(&u.poll, UV_READABLE, [](uv_poll_t* h, int status, int /*events*/) {
      if (status >= 0) {
        auto* sock = static_cast<UdpSocket*>(h->data);
        sock->worker->onUdpReadable(*sock);
      }
    });
  }
  for (auto& l : tcp_) {
    uv_tcp_init(&loop_, &l->handle);
    l->handle.data = l.get();
    uv_tcp_open(&l->handle, l->fd);
    l->open = true;
    uv_listen(reinterpret_cast<uv_stream_t*>(&l->handle), kTcpBacklog,
              [](uv_stream_t* server, int status) {
                if (status >= 0) {
                  auto* listener = static_cast<TcpListener*>(server->data);
                  listener->worker->onConnection(*listener);
                }
              });
  }

  uv_run(&loop_, UV_RUN_DEFAULT);
  // Everything is closed by checkDrained(); run once more for late close callbacks.
  while (uv_loop_close(&loop_) == UV_EBUSY) {
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void*) {
          if (uv_is_closing(h) == 0) {
            uv_close(h, nullptr);
          }
        },
        nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
  }
}

void Worker::onUdpReadable(UdpSocket& s) {
  pipeline_->refresh();
  pipeline::Pipeline::BatchScope scope(*pipeline_);
  for (int round = 0; round < kUdpRounds; ++round) {
    for (unsigned i = 0; i < kBatch; ++i) {
      s.in_msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      s.in_msgs[i].msg_hdr.msg_flags = 0;
    }
    const int n = recvmmsg(s.fd, s.in_msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) {
      return;
    }
    unsigned k = 0;
    for (int i = 0; i < n; ++i) {
      auto& m = s.in_msgs[static_cast<size_t>(i)];
      const SocketAddress peer(reinterpret_cast<const sockaddr*>(m.msg_hdr.msg_name),
                               m.msg_hdr.msg_namelen);
      if ((m.msg_hdr.msg_flags & MSG_TRUNC) != 0) {
        // Larger than any sane query: counted, not answered.
        stats_.queries[static_cast<size_t>(pipeline::Transport::Udp)].inc();
        stats_.malformed.inc();
        continue;
      }
      pipeline::ClientHandle handle;
      handle.transport = pipeline::Transport::Udp;
      handle.udp_fd = s.fd;
      handle.peer = peer;
      size_t out_len = 0;
      const auto verdict = pipeline_->process(
          std::span<const uint8_t>(s.in[static_cast<size_t>(i)].data(), m.msg_len), peer, handle,
          std::span<uint8_t>(s.out[k].data(), kUdpBuf), out_len);
      if (verdict == pipeline::Verdict::Answered) {
        s.out_iov[k].iov_base = s.out[k].data();
        s.out_iov[k].iov_len = out_len;
        s.out_msgs[k].msg_hdr.msg_name = m.msg_hdr.msg_name;
        s.out_msgs[k].msg_hdr.msg_namelen = m.msg_hdr.msg_namelen;
        ++k;
      }
    }
    unsigned sent = 0;
    while (sent < k) {
      const int r = sendmmsg(s.fd, s.out_msgs.data() + sent, k - sent, 0);
      if (r <= 0) {
        if (r < 0 && errno == EINTR) {
          continue;
        }
        break;  // socket buffer full: the clients retry, as with any UDP loss
      }
      sent += static_cast<unsigned>(r);
    }
    if (static_cast<unsigned>(n) < kBatch) {
      return;
    }
  }
}

void Worker::onConnection(TcpListener& l) {
  auto* c = new Connection();
  c->worker = this;
  uv_tcp_init(&loop_, &c->handle);
  c->handle.data = c;
  c->handles_open = 1;
  auto close_cb = [](uv_handle_t* h) {
    auto* conn = static_cast<Connection*>(h->data);
    if (--conn->handles_open == 0) {
      conn->worker->maybeFreeConnection(conn);
    }
  };
  if (uv_accept(reinterpret_cast<uv_stream_t*>(&l.handle),
                reinterpret_cast<uv_stream_t*>(&c->handle)) != 0) {
    c->closed = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->handle), close_cb);
    return;
  }
  const uint32_t open = tcp_budget_.open.fetch_add(1, std::memory_order_relaxed) + 1;
  if (stopping_ || open > tcp_budget_.max.load(std::memory_order_relaxed)) {
    // Past max_tcp_connections: accept and close at once, so the client sees a clean close
    // instead of a backlog that never drains.
    tcp_budget_.open.fetch_sub(1, std::memory_order_relaxed);
    stats_.tcp_rejected.inc();
    c->closed = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->handle), close_cb);
    return;
  }
  stats_.tcp_connections[static_cast<size_t>(pipeline::Transport::Tcp)].add(1);
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getpeername(&c->handle, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    c->peer = SocketAddress(reinterpret_cast<sockaddr*>(&ss), static_cast<socklen_t>(len));
  }
  uv_timer_init(&loop_, &c->idle);
  c->idle.data = c;
  c->handles_open = 2;
  c->next = connections_;
  if (connections_ != nullptr) {
    connections_->prev = c;
  }
  connections_ = c;
  auto idle_cb = [](uv_timer_t* t) {
    auto* conn = static_cast<Connection*>(t->data);
    // RFC 7766 6.2.3: close an idle connection; one with answers outstanding is not idle.
    if (conn->pending == 0) {
      conn->worker->closeConnection(*conn);
    }
  };
  const auto idle_ms =
      static_cast<uint64_t>(std::max<int64_t>(1, tcp_budget_.idle_timeout_ms.load()));
  uv_timer_start(&c->idle, idle_cb, idle_ms, idle_ms);
  startReading(*c);
}

void Worker::onTcpData(Connection& c, size_t nread) {
  c.used += nread;
  touch(c);
  pipeline_->refresh();
  pipeline::Pipeline::BatchScope scope(*pipeline_);
  auto& out = tcp_out_;
  size_t off = 0;
  while (!c.closed && c.used - off >= 2) {
    const size_t need = wire::readU16(c.buf.data() + off);
    if (c.used - off < need + 2) {
      break;
    }
    pipeline::ClientHandle handle;
    handle.transport = pipeline::Transport::Tcp;
    handle.conn = &c;
    size_t out_len = 0;
    const auto verdict = pipeline_->process(std::span<const uint8_t>(c.buf.data() + off + 2, need),
                                            c.peer, handle, out, out_len);
    off += need + 2;
    if (verdict == pipeline::Verdict::Answered) {
      writeTcp(c, std::span<const uint8_t>(out.data(), out_len));
    } else if (verdict == pipeline::Verdict::Pending) {
      ++c.pending;
    }
  }
  if (off > 0 && !c.closed) {
    std::memmove(c.buf.data(), c.buf.data() + off, c.used - off);
    c.used -= off;
  }
  updateReading(c);
}

void Worker::writeTcp(Connection& c, std::span<const uint8_t> answer) {
  std::array<uint8_t, 2> prefix{};
  wire::writeU16(prefix.data(), static_cast<uint16_t>(answer.size()));
  // Common case: the kernel takes the whole answer at once, and nothing is allocated.
  // uv_try_write refuses (UV_EAGAIN) while earlier writes are queued, which keeps answers
  // in order on the connection.
  std::array<uv_buf_t, 2> bufs = {
      uv_buf_init(reinterpret_cast<char*>(prefix.data()), 2),
      uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(answer.data())),
                  static_cast<unsigned>(answer.size()))};
  const int wrote = uv_try_write(reinterpret_cast<uv_stream_t*>(&c.handle), bufs.data(), 2);
  const size_t total = answer.size() + 2;
  size_t done = wrote > 0 ? static_cast<size_t>(wrote) : 0;
  if (wrote < 0 && wrote != UV_EAGAIN) {
    closeConnection(c);
    return;
  }
  if (done == total) {
    return;
  }
  // The rest waits in a request of its own until the socket drains.
  auto* w = new WriteReq();
  w->data.resize(total - done);
  size_t pos = 0;
  for (size_t i = done; i < 2; ++i) {
    w->data[pos++] = prefix[i];
  }
  const size_t answer_from = done > 2 ? done - 2 : 0;
  std::memcpy(w->data.data() + pos, answer.data() + answer_from, answer.size() - answer_from);
  w->req.data = w;
  w->conn = &c;
  uv_buf_t b =
      uv_buf_init(reinterpret_cast<char*>(w->data.data()), static_cast<unsigned>(w->data.size()));
  auto on_written = [](uv_write_t* req, int /*status*/) {
    auto* written = static_cast<WriteReq*>(req->data);
    // Write callbacks run before the connection's close callback, so the connection is still
    // there (closed or not).
    written->conn->worker->resumeIfDrained(*written->conn);
    delete written;
  };
  if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c.handle), &b, 1, on_written) != 0) {
    delete w;
    closeConnection(c);
    return;
  }
  updateReading(c);
}

void Worker::updateReading(Connection& c) {
  if (c.closed) {
    return;
  }
  const size_t queued = c.handle.write_queue_size;
  const bool may_read = !stopping_ && c.pending < kMaxPendingPerConn && queued < kMaxQueuedBytes;
  if (c.reading && !may_read) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&c.handle));
    c.reading = false;
  } else if (!c.reading && may_read && c.pending < kMaxPendingPerConn / 2 &&
             queued < kMaxQueuedBytes / 2) {
    startReading(c);
  }
}

void Worker::startReading(Connection& c) {
  // Named callbacks: uv_read_stop() clears the stream's own copies, so a resume cannot take
  // them from the handle.
  auto on_alloc = [](uv_handle_t* h, size_t /*suggested*/, uv_buf_t* buf) {
    auto* conn = static_cast<Connection*>(h->data);
    if (conn->buf.size() < conn->used + 4096) {
      conn->buf.resize(conn->used + 4096);
    }
    *buf = uv_buf_init(reinterpret_cast<char*>(conn->buf.data() + conn->used),
                       static_cast<unsigned>(conn->buf.size() - conn->used));
  };
  auto on_read = [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* /*buf*/) {
    auto* conn = static_cast<Connection*>(stream->data);
    if (nread < 0) {
      conn->worker->closeConnection(*conn);
    } else if (nread > 0) {
      conn->worker->onTcpData(*conn, static_cast<size_t>(nread));
    }
  };
  c.reading = uv_read_start(reinterpret_cast<uv_stream_t*>(&c.handle), on_alloc, on_read) == 0;
}

void Worker::resumeIfDrained(Connection& c) {
  if (!c.closed) {
    // Answers draining to the client are activity: only a connection that neither sends
    // queries nor takes answers for tcp_idle_timeout is idle (a client that stops reading
    // is closed then, its queued answers dropped).
    touch(c);
  }
  updateReading(c);
}

void Worker::touch(Connection& c) {
  const auto idle_ms =
      static_cast<uint64_t>(std::max<int64_t>(1, tcp_budget_.idle_timeout_ms.load()));
  uv_timer_start(&c.idle, c.idle.timer_cb, idle_ms, idle_ms);
}

void Worker::deliver(const pipeline::ClientHandle& client,
                     std::span<const uint8_t> answer) noexcept {
  if (client.transport == pipeline::Transport::Udp) {
    if (!answer.empty()) {
      (void)::sendto(client.udp_fd, answer.data(), answer.size(), 0, client.peer.sockaddrPtr(),
                     client.peer.length());
    }
    return;
  }
  auto* c = static_cast<Connection*>(client.conn);
  --c->pending;
  if (c->closed) {
    maybeFreeConnection(c);
    return;
  }
  if (!answer.empty()) {
    writeTcp(*c, answer);
  }
  updateReading(*c);
}

void Worker::closeConnection(Connection& c) {
  if (c.closed) {
    return;
  }
  c.closed = true;
  tcp_budget_.open.fetch_sub(1, std::memory_order_relaxed);
  stats_.tcp_connections[static_cast<size_t>(pipeline::Transport::Tcp)].add(-1);
  if (c.prev != nullptr) {
    c.prev->next = c.next;
  } else {
    connections_ = c.next;
  }
  if (c.next != nullptr) {
    c.next->prev = c.prev;
  }
  c.next = c.prev = nullptr;
  auto close_cb = [](uv_handle_t* h) {
    auto* conn = static_cast<Connection*>(h->data);
    if (--conn->handles_open == 0) {
      conn->worker->maybeFreeConnection(conn);
    }
  };
  uv_timer_stop(&c.idle);
  uv_close(reinterpret_cast<uv_handle_t*>(&c.idle), close_cb);
  uv_close(reinterpret_cast<uv_handle_t*>(&c.handle), close_cb);
}

void Worker::maybeFreeConnection(Connection* c) {
  if (c->closed && c->handles_open == 0 && c->pending == 0) {
    delete c;
  }
}

void Worker::beginStop() {
  if (stopping_) {
    return;
  }
  stopping_ = true;
  // Stop accepting: no new datagrams are read and no new connections taken. The UDP fds stay
  // open until the drain ends, because answers still in flight leave through them.
  for (auto& u : udp_) {
    if (u->polling) {
      uv_poll_stop(&u->poll);
    }
  }
  for (auto& l : tcp_) {
    if (l->open) {
      uv_close(reinterpret_cast<uv_handle_t*>(&l->handle), nullptr);
      l->open = false;
      l->fd = -1;  // owned by the handle now
    }
  }
  uv_timer_start(
      &drain_timer_, [](uv_timer_t* t) { static_cast<Worker*>(t->data)->checkDrained(); }, 0, 20);
}

void Worker::checkDrained() {
  for (Connection* c = connections_; c != nullptr;) {
    Connection* next = c->next;
    if (c->pending == 0) {
      closeConnection(*c);
    }
    c = next;
  }
  if (pipeline_->pending() != 0 || connections_ != nullptr) {
    return;  // answers in flight end within query_budget
  }
  uv_timer_stop(&drain_timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&drain_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&stop_async_), nullptr);
  for (auto& u : udp_) {
    if (u->polling) {
      u->polling = false;
      uv_close(reinterpret_cast<uv_handle_t*>(&u->poll), nullptr);
    }
  }
  pipeline_.reset();  // closes its timers; the loop ends when the last handle is closed
}

}  // namespace steadfast::listen
