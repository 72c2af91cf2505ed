// SPDX-License-Identifier: Apache-2.0
// Recursor: libunbound as a full recursive resolver from the root (or a configured stub for
// "."), DNSSEC-validating from the built-in root trust anchor or a trust-anchor file, driven
// from one worker's libuv loop: ub_fd watched with uv_poll, ub_resolve_async, ub_process on
// readiness. libunbound does its network work in its own background thread; no loop thread
// ever waits. Loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <uv.h>

#include "resolver/base/result.h"

struct ub_ctx;
struct ub_result;

namespace steadfast::recursion {

struct RecursionConfig {
  bool enabled = false;  // the config loader sets it from [last_resort] (default on there)
  bool dnssec = true;
  std::string trust_anchor_file;          // empty: the built-in root DS records
  std::vector<std::string> root_servers;  // "ADDR:PORT"/"[V6]:PORT"; empty: root hints
  size_t msg_cache_bytes = size_t{4} << 20U;
  size_t rrset_cache_bytes = size_t{8} << 20U;
};

/// The root zone's KSK DS records (IANA root-anchors: KSK-2017 and KSK-2024).
inline constexpr const char* kRootTrustAnchors[] = {
    ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D",
    ". IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16",
};

enum class Security : uint8_t { Insecure, Secure, Bogus };

struct RecursionAnswer {
  bool ok = false;  // false: libunbound failed (err), no packet
  Security security = Security::Insecure;
  std::span<const uint8_t> packet;  // the answer in wire form (valid during the callback)
  std::string_view why_bogus;
};

class RecursionListener {
 public:
  virtual ~RecursionListener() = default;
  virtual void onRecursionDone(uint64_t cookie, const RecursionAnswer& answer) noexcept = 0;
};

/// Converts one root_servers entry ("127.0.0.1:5399", "[::1]:53", "192.0.2.1") to
/// libunbound's "ADDR@PORT" form. Empty on a malformed entry.
[[nodiscard]] std::string toUnboundAddress(std::string_view entry);

class Recursor {
 public:
  /// Builds the libunbound context and starts watching its fd on `loop`.
  [[nodiscard]] static Result<std::unique_ptr<Recursor>> create(uv_loop_t* loop,
                                                                const RecursionConfig& config,
                                                                RecursionListener& listener);
  ~Recursor();
  Recursor(const Recursor&) = delete;
  Recursor& operator=(const Recursor&) = delete;

  /// Starts resolving `name` (text form) of `qtype`/IN. Returns the async id (>= 0) or -1.
  /// The listener hears exactly once for a started query unless cancel() is called first.
  [[nodiscard]] int resolve(const std::string& name, uint16_t qtype, uint64_t cookie);
  void cancel(int id);
  [[nodiscard]] size_t inFlight() const noexcept { return in_flight_; }
  [[nodiscard]] bool dnssec() const noexcept { return dnssec_; }

 private:
  Recursor(uv_loop_t* loop, RecursionListener& listener, ub_ctx* ctx, bool dnssec);
  struct Request;
  static void onPoll(uv_poll_t* handle, int status, int events);
  static void onResult(void* data, int err, ub_result* result);

  RecursionListener& listener_;
  ub_ctx* ctx_;
  bool dnssec_;
  uv_poll_t* poll_ = nullptr;  // closed and freed by its close callback
  size_t in_flight_ = 0;
  std::vector<std::unique_ptr<Request>> requests_;  // pooled
  std::vector<Request*> free_;
};

}  // namespace steadfast::recursion
