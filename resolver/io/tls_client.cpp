// SPDX-License-Identifier: Apache-2.0
#include "resolver/io/tls_client.h"

#include <arpa/inet.h>
#include <array>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace steadfast::io {
namespace {

std::string opensslError() {
  const unsigned long e = ERR_get_error();  // NOLINT(google-runtime-int): OpenSSL's type
  ERR_clear_error();
  if (e == 0) {
    return "TLS protocol error";
  }
  std::array<char, 256> buf{};
  ERR_error_string_n(e, buf.data(), buf.size());
  return buf.data();
}

bool isIpLiteral(const std::string& host) {
  std::array<uint8_t, 16> tmp{};
  return inet_pton(AF_INET, host.c_str(), tmp.data()) == 1 ||
         inet_pton(AF_INET6, host.c_str(), tmp.data()) == 1;
}

}  // namespace

Result<std::unique_ptr<TlsClientContext>> TlsClientContext::create(const std::string& ca_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    return makeError(Errc::TlsFailed, "SSL_CTX_new: " + opensslError());
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  const int ok = ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                                 : SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
  if (ok != 1) {
    std::string why = opensslError();
    SSL_CTX_free(ctx);
    return makeError(Errc::TlsFailed,
                     (ca_file.empty() ? std::string("system CA store") : ca_file) + ": " + why);
  }
  return std::unique_ptr<TlsClientContext>(new TlsClientContext(ctx));
}

TlsClientContext::~TlsClientContext() {
  SSL_CTX_free(ctx_);
}

TlsClientSession::TlsClientSession(TlsClientContext& ctx, std::string_view host,
                                   std::string_view spki_pin, SSL_SESSION* resume)
    : pin_(spki_pin) {
  ssl_ = SSL_new(ctx.raw());
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  if (ssl_ == nullptr || in_ == nullptr || out_ == nullptr) {
    BIO_free(in_);
    BIO_free(out_);
    in_ = out_ = nullptr;
    failed_ = true;
    failure_ = "out of memory";
    return;
  }
  BIO_set_mem_eof_return(in_, -1);  // an empty input BIO means "want more", not EOF
  SSL_set_bio(ssl_, in_, out_);     // ssl_ owns both BIOs from here
  SSL_set_connect_state(ssl_);
  const std::string name(host);
  if (isIpLiteral(name)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_, name.c_str());
    SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    SSL_set1_host(ssl_, name.c_str());
  }
  if (resume != nullptr) {
    SSL_set_session(ssl_, resume);
  }
}

TlsClientSession::~TlsClientSession() {
  SSL_free(ssl_);
}

TlsStep TlsClientSession::fail(std::string why) {
  failed_ = true;
  failure_ = std::move(why);
  return TlsStep::Failed;
}

TlsStep TlsClientSession::handshake() {
  if (failed_) {
    return TlsStep::Failed;
  }
  if (ready_) {
    return TlsStep::Progress;
  }
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    if (SSL_get_verify_result(ssl_) != X509_V_OK) {
      return fail(X509_verify_cert_error_string(SSL_get_verify_result(ssl_)));
    }
    if (!pin_.empty() && !pinMatches()) {
      return fail("SPKI pin mismatch");
    }
    ready_ = true;
    return TlsStep::Ready;
  }
  const int err = SSL_get_error(ssl_, r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    return TlsStep::Progress;
  }
  const long vr = SSL_get_verify_result(ssl_);  // NOLINT(google-runtime-int): OpenSSL's type
  if (vr != X509_V_OK) {
    ERR_clear_error();
    return fail(std::string("certificate verification failed: ") +
                X509_verify_cert_error_string(vr));
  }
  return fail(opensslError());
}

bool TlsClientSession::pinMatches() {
  X509* cert = SSL_get0_peer_certificate(ssl_);
  if (cert == nullptr) {
    return false;
  }
  unsigned char* der = nullptr;
  const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  if (len <= 0) {
    return false;
  }
  const std::string got = spkiPinOf(std::span<const uint8_t>(der, static_cast<size_t>(len)));
  OPENSSL_free(der);
  return got == pin_;
}

void TlsClientSession::feed(std::span<const uint8_t> ciphertext) {
  if (in_ != nullptr && !ciphertext.empty()) {
    BIO_write(in_, ciphertext.data(), static_cast<int>(ciphertext.size()));
  }
}

void TlsClientSession::drainOutput(std::vector<uint8_t>& out) {
  if (out_ == nullptr) {
    return;
  }
  const size_t pending = BIO_ctrl_pending(out_);
  if (pending == 0) {
    return;
  }
  const size_t at = out.size();
  out.resize(at + pending);
  const int n = BIO_read(out_, out.data() + at, static_cast<int>(pending));
  out.resize(at + static_cast<size_t>(n > 0 ? n : 0));
}

bool TlsClientSession::write(std::span<const uint8_t> plain) {
  if (!ready_ || failed_) {
    return false;
  }
  size_t written = 0;
  if (SSL_write_ex(ssl_, plain.data(), plain.size(), &written) != 1 || written != plain.size()) {
    fail(opensslError());
    return false;
  }
  return true;
}

ptrdiff_t TlsClientSession::read(std::span<uint8_t> out) {
  if (!ready_ || failed_) {
    return failed_ ? -1 : 0;
  }
  size_t n = 0;
  const int r = SSL_read_ex(ssl_, out.data(), out.size(), &n);
  if (r == 1) {
    return static_cast<ptrdiff_t>(n);
  }
  const int err = SSL_get_error(ssl_, r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    return 0;
  }
  fail(err == SSL_ERROR_ZERO_RETURN ? std::string("peer closed") : opensslError());
  return -1;
}

bool TlsClientSession::resumed() const noexcept {
  return SSL_session_reused(ssl_) == 1;
}

SSL_SESSION* TlsClientSession::takeSession() const noexcept {
  return ready_ ? SSL_get1_session(ssl_) : nullptr;
}

std::string spkiPinOf(std::span<const uint8_t> spki_der) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(spki_der.data(), spki_der.size(), digest.data());
  std::array<unsigned char, 4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1> b64{};
  const int n = EVP_EncodeBlock(b64.data(), digest.data(), static_cast<int>(digest.size()));
  return std::string(reinterpret_cast<const char*>(b64.data()), static_cast<size_t>(n));
}

}  // namespace steadfast::io
