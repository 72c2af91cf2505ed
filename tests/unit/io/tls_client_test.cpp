// SPDX-License-Identifier: Apache-2.0
// The DoT client engine against an in-memory OpenSSL server: certificates are made here with a
// test CA (no files from the outside), bytes are pumped between the two memory-BIO ends. Good
// chain, wrong name, unknown CA, expired, self-signed, pin match and mismatch.
#include "resolver/io/tls_client.h"

#include <cstdio>
#include <string>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace steadfast::io {
namespace {

struct KeyCert {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  KeyCert() = default;
  KeyCert(const KeyCert&) = delete;
  KeyCert& operator=(const KeyCert&) = delete;
  ~KeyCert() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

void addExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(ext, nullptr);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

/// A certificate for `cn` signed by `issuer` (itself when null), valid from `from_days` to
/// `to_days` relative to now.
void makeCert(KeyCert& out, const char* cn, const char* san, const KeyCert* issuer, bool ca,
              long from_days = -1, long to_days = 30) {  // NOLINT(google-runtime-int)
  out.key = EVP_EC_gen("P-256");
  ASSERT_NE(out.key, nullptr);
  out.cert = X509_new();
  X509_set_version(out.cert, 2);
  static long serial = 1;  // NOLINT(google-runtime-int)
  ASN1_INTEGER_set(X509_get_serialNumber(out.cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(out.cert), from_days * 86400);
  X509_gmtime_adj(X509_getm_notAfter(out.cert), to_days * 86400);
  X509_set_pubkey(out.cert, out.key);
  X509_NAME* name = X509_get_subject_name(out.cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509* signer_cert = issuer != nullptr ? issuer->cert : out.cert;
  EVP_PKEY* signer_key = issuer != nullptr ? issuer->key : out.key;
  X509_set_issuer_name(out.cert, X509_get_subject_name(signer_cert));
  if (ca) {
    addExt(out.cert, signer_cert, NID_basic_constraints, "critical,CA:TRUE");
    addExt(out.cert, signer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    addExt(out.cert, signer_cert, NID_basic_constraints, "CA:FALSE");
  }
  if (san != nullptr) {
    addExt(out.cert, signer_cert, NID_subject_alt_name, san);
  }
  ASSERT_GT(X509_sign(out.cert, signer_key, EVP_sha256()), 0);
}

std::string writeCaFile(const KeyCert& ca) {
  char path[] = "/tmp/steadfast-tls-test-XXXXXX";
  const int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  FILE* f = fdopen(fd, "w");
  PEM_write_X509(f, ca.cert);
  fclose(f);
  return path;
}

std::string pinOf(const KeyCert& kc) {
  unsigned char* der = nullptr;
  const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(kc.cert), &der);
  std::string pin = spkiPinOf(std::span<const uint8_t>(der, static_cast<size_t>(len)));
  OPENSSL_free(der);
  return pin;
}

/// An OpenSSL server end over memory BIOs.
class MemServer {
 public:
  explicit MemServer(const KeyCert& kc) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(ctx_, kc.cert);
    SSL_CTX_use_PrivateKey(ctx_, kc.key);
    SSL_CTX_set_session_id_context(ctx_, reinterpret_cast<const unsigned char*>("t"), 1);
  }
  ~MemServer() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  MemServer(const MemServer&) = delete;
  MemServer& operator=(const MemServer&) = delete;

  void newConnection() {
    SSL_free(ssl_);
    ssl_ = SSL_new(ctx_);
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(in_, -1);
    SSL_set_bio(ssl_, in_, out_);
    SSL_set_accept_state(ssl_);
  }

  /// Runs the handshake to its end; returns the client's final step.
  TlsStep handshake(TlsClientSession& client) {
    for (int round = 0; round < 20; ++round) {
      const TlsStep s = client.handshake();
      std::vector<uint8_t> to_server;
      client.drainOutput(to_server);
      if (!to_server.empty()) {
        BIO_write(in_, to_server.data(), static_cast<int>(to_server.size()));
      }
      if (s != TlsStep::Progress) {
        return s;
      }
      SSL_do_handshake(ssl_);
      pumpToClient(client);
    }
    return TlsStep::Progress;
  }

  void pumpToClient(TlsClientSession& client) {
    std::vector<uint8_t> buf(BIO_ctrl_pending(out_));
    if (!buf.empty()) {
      BIO_read(out_, buf.data(), static_cast<int>(buf.size()));
      client.feed(buf);
    }
  }

  /// Echoes whatever the client sent, after reading it.
  void echo(TlsClientSession& client) {
    std::vector<uint8_t> to_server;
    client.drainOutput(to_server);
    BIO_write(in_, to_server.data(), static_cast<int>(to_server.size()));
    std::vector<uint8_t> plain(4096);
    size_t n = 0;
    if (SSL_read_ex(ssl_, plain.data(), plain.size(), &n) == 1) {
      size_t w = 0;
      SSL_write_ex(ssl_, plain.data(), n, &w);
    }
    pumpToClient(client);
  }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;
  BIO* out_ = nullptr;
};

class TlsClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    makeCert(ca_, "steadfast test CA", nullptr, nullptr, true);
    ca_file_ = writeCaFile(ca_);
    auto ctx = TlsClientContext::create(ca_file_);
    ASSERT_TRUE(ctx.ok()) << ctx.error().detail;
    ctx_ = std::move(*ctx);
  }
  void TearDown() override { ::unlink(ca_file_.c_str()); }

  TlsStep connect(const KeyCert& server_cert, const char* name, const std::string& pin,
                  std::string* why = nullptr) {
    MemServer server(server_cert);
    server.newConnection();
    TlsClientSession client(*ctx_, name, pin, nullptr);
    const TlsStep s = server.handshake(client);
    if (why != nullptr) {
      *why = client.failure();
    }
    return s;
  }

  KeyCert ca_;
  std::string ca_file_;
  std::unique_ptr<TlsClientContext> ctx_;
};

TEST_F(TlsClientTest, GoodChainAndNameCarryData) {
  KeyCert leaf;
  makeCert(leaf, "dot.test", "DNS:dot.test", &ca_, false);
  MemServer server(leaf);
  server.newConnection();
  TlsClientSession client(*ctx_, "dot.test", "", nullptr);
  ASSERT_EQ(server.handshake(client), TlsStep::Ready) << client.failure();
  const std::vector<uint8_t> msg{0, 3, 'a', 'b', 'c'};
  ASSERT_TRUE(client.write(msg));
  server.echo(client);
  std::vector<uint8_t> got(64);
  ptrdiff_t n = 0;
  for (int i = 0; i < 4 && n == 0; ++i) {  // TLS 1.3 tickets may come first
    n = client.read(got);
  }
  ASSERT_EQ(n, 5);
  got.resize(5);
  EXPECT_EQ(got, msg);
}

TEST_F(TlsClientTest, WrongNameRejected) {
  KeyCert leaf;
  makeCert(leaf, "other.test", "DNS:other.test", &ca_, false);
  std::string why;
  EXPECT_EQ(connect(leaf, "dot.test", "", &why), TlsStep::Failed);
  EXPECT_NE(why.find("hostname"), std::string::npos) << why;
}

TEST_F(TlsClientTest, UnknownCaRejected) {
  KeyCert other_ca;
  makeCert(other_ca, "other CA", nullptr, nullptr, true);
  KeyCert leaf;
  makeCert(leaf, "dot.test", "DNS:dot.test", &other_ca, false);
  EXPECT_EQ(connect(leaf, "dot.test", ""), TlsStep::Failed);
}

TEST_F(TlsClientTest, ExpiredRejected) {
  KeyCert leaf;
  makeCert(leaf, "dot.test", "DNS:dot.test", &ca_, false, -30, -1);
  std::string why;
  EXPECT_EQ(connect(leaf, "dot.test", "", &why), TlsStep::Failed);
  EXPECT_NE(why.find("expired"), std::string::npos) << why;
}

TEST_F(TlsClientTest, SelfSignedRejected) {
  KeyCert leaf;
  makeCert(leaf, "dot.test", "DNS:dot.test", nullptr, false);
  EXPECT_EQ(connect(leaf, "dot.test", ""), TlsStep::Failed);
}

TEST_F(TlsClientTest, PinMustMatchToo) {
  KeyCert leaf;
  makeCert(leaf, "dot.test", "DNS:dot.test", &ca_, false);
  KeyCert other;
  makeCert(other, "dot.test", "DNS:dot.test", &ca_, false);
  EXPECT_EQ(connect(leaf, "dot.test", pinOf(leaf)), TlsStep::Ready);
  std::string why;
  EXPECT_EQ(connect(leaf, "dot.test", pinOf(other), &why), TlsStep::Failed);
  EXPECT_EQ(why, "SPKI pin mismatch");
}

TEST_F(TlsClientTest, IpAddressNameChecked) {
  KeyCert leaf;
  makeCert(leaf, "127.0.0.1", "IP:127.0.0.1", &ca_, false);
  EXPECT_EQ(connect(leaf, "127.0.0.1", ""), TlsStep::Ready);
  EXPECT_EQ(connect(leaf, "127.0.0.2", ""), TlsStep::Failed);
}

}  // namespace
}  // namespace steadfast::io
