// SPDX-License-Identifier: Apache-2.0
// Worker: one thread, one libuv loop, its own SO_REUSEPORT UDP and TCP sockets on every
// listen address, and its own Pipeline. UDP is read and answered in recvmmsg/sendmmsg
// batches straight on the fd (uv_poll), which is where the cache-hit speed comes from.
// TCP follows RFC 7766: pipelined queries, answers in completion order, idle timeout, and a
// process-wide connection cap (connections past it are accepted and closed at once, counted).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include <uv.h>

#include "resolver/base/result.h"
#include "resolver/cache/packet_cache.h"
#include "resolver/listen/listen_config.h"
#include "resolver/pipeline/pipeline.h"
#include "resolver/pipeline/runtime.h"
#include "resolver/pipeline/stats.h"

namespace steadfast::listen {

/// Shared by all workers: the process-wide count of open client TCP connections.
struct TcpBudget {
  std::atomic<uint32_t> open{0};
  std::atomic<uint32_t> max{4096};
  std::atomic<int64_t> idle_timeout_ms{10000};
};

class Worker final : public pipeline::DeliverySink {
 public:
  /// `passive` (may be null) carries this worker's passive health signals to the control
  /// thread; it must outlive the worker.
  Worker(size_t index, cache::PacketCache& cache, pipeline::RuntimeHolder& runtime,
         pipeline::WorkerStats& stats, TcpBudget& tcp_budget,
         pipeline::PassiveChannel* passive = nullptr);
  ~Worker() override;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// Opens this worker's sockets (caller's thread, before start()). Error: cannot bind.
  Status bind(const std::vector<SocketAddress>& addresses);
  /// Starts the thread.
  void start();
  /// Asks the worker to stop accepting, answer what is in flight, and end. Any thread.
  void requestStop();
  /// Waits for the thread to end.
  void join();

  // pipeline::DeliverySink (loop thread)
  void deliver(const pipeline::ClientHandle& client,
               std::span<const uint8_t> answer) noexcept override;

  struct UdpSocket;
  struct TcpListener;
  struct Connection;

  /// A write on `c` completed: reading resumes when its queue has drained (loop thread).
  void resumeIfDrained(Connection& c);

 private:
  void run();
  void onUdpReadable(UdpSocket& s);
  void onConnection(TcpListener& l);
  void onTcpData(Connection& c, size_t nread);
  void writeTcp(Connection& c, std::span<const uint8_t> answer);
  /// Stops or resumes reading `c` by its outstanding queries and queued answer bytes.
  void updateReading(Connection& c);
  /// (Re)starts reading `c`.
  void startReading(Connection& c);
  /// Restarts the idle timer of `c`.
  void touch(Connection& c);
  void closeConnection(Connection& c);
  void maybeFreeConnection(Connection* c);
  void beginStop();
  void checkDrained();

  size_t index_;
  cache::PacketCache& cache_;
  pipeline::RuntimeHolder& runtime_;
  pipeline::WorkerStats& stats_;
  TcpBudget& tcp_budget_;
  pipeline::PassiveChannel* passive_;
  cache::ReaderId reader_ = 0;
  uv_loop_t loop_{};
  uv_async_t stop_async_{};
  uv_timer_t drain_timer_{};
  std::unique_ptr<pipeline::Pipeline> pipeline_;
  std::vector<std::unique_ptr<UdpSocket>> udp_;
  std::vector<std::unique_ptr<TcpListener>> tcp_;
  std::vector<uint8_t> tcp_out_ = std::vector<uint8_t>(65535);  // TCP answers are built here
  Connection* connections_ = nullptr;  // intrusive list of open connections
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace steadfast::listen
