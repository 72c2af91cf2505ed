// SPDX-License-Identifier: Apache-2.0
// The client side of TLS for DNS over TLS (RFC 7858, RFC 8310 strict profile) as a byte
// engine: ciphertext goes in and out through memory BIOs, so the transport moves it over a
// libuv stream and nothing here touches a socket. TLS 1.2 or newer; the chain is verified
// against a CA file, or the system store (which honours SSL_CERT_FILE); the host name against
// the configured name (SSL_set1_host); an optional SPKI SHA-256 pin must match as well. A
// failure is never retried in cleartext: the caller marks the upstream unhealthy (kind tls).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/base/result.h"

using SSL_CTX = struct ssl_ctx_st;
using SSL = struct ssl_st;
using SSL_SESSION = struct ssl_session_st;
using BIO = struct bio_st;

namespace steadfast::io {

/// One SSL_CTX (trust store, protocol floor) plus the last session per peer for resumption.
/// Loop thread only.
class TlsClientContext {
 public:
  /// `ca_file` empty: the system store (SSL_CERT_FILE / SSL_CERT_DIR honoured).
  static Result<std::unique_ptr<TlsClientContext>> create(const std::string& ca_file);
  ~TlsClientContext();
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;
  [[nodiscard]] SSL_CTX* raw() const noexcept { return ctx_; }

 private:
  explicit TlsClientContext(SSL_CTX* ctx) noexcept : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

enum class TlsStep : uint8_t {
  Progress,  // nothing to report; write out pending ciphertext, feed more when it comes
  Ready,     // handshake done and verified (returned once)
  Failed,    // verification or protocol failure: close, never fall back to cleartext
};

class TlsClientSession {
 public:
  /// `host` is checked against the certificate (and sent as SNI when it is a name);
  /// `spki_pin` is the base64 SHA-256 of the SubjectPublicKeyInfo, empty for none;
  /// `resume` (may be null, not taken) is a session to resume.
  TlsClientSession(TlsClientContext& ctx, std::string_view host, std::string_view spki_pin,
                   SSL_SESSION* resume);
  ~TlsClientSession();
  TlsClientSession(const TlsClientSession&) = delete;
  TlsClientSession& operator=(const TlsClientSession&) = delete;

  /// Starts or continues the handshake.
  TlsStep handshake();
  /// Ciphertext received from the peer.
  void feed(std::span<const uint8_t> ciphertext);
  /// Moves ciphertext waiting to go to the peer into `out` (appended).
  void drainOutput(std::vector<uint8_t>& out);
  /// Encrypts `plain` (after Ready). False on a failure.
  bool write(std::span<const uint8_t> plain);
  /// Decrypts into `out`: bytes read, 0 when nothing is ready yet, -1 when the peer closed or
  /// the stream failed.
  ptrdiff_t read(std::span<uint8_t> out);

  [[nodiscard]] bool ready() const noexcept { return ready_; }
  [[nodiscard]] bool resumed() const noexcept;
  /// Why it failed, for the log (certificate verify reason, pin mismatch, protocol error).
  [[nodiscard]] const std::string& failure() const noexcept { return failure_; }
  /// The session to resume next time (a new reference the caller frees with
  /// SSL_SESSION_free), null if none.
  [[nodiscard]] SSL_SESSION* takeSession() const noexcept;

 private:
  TlsStep fail(std::string why);
  bool pinMatches();
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // network -> SSL
  BIO* out_ = nullptr;  // SSL -> network
  std::string pin_;
  std::string failure_;
  bool ready_ = false;
  bool failed_ = false;
};

/// The base64 SHA-256 of a DER SubjectPublicKeyInfo (the `?pin=sha256/...` value).
std::string spkiPinOf(std::span<const uint8_t> spki_der);

}  // namespace steadfast::io
