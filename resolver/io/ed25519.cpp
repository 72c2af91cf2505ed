// SPDX-License-Identifier: Apache-2.0
#include "resolver/io/ed25519.h"

#include <fstream>
#include <iterator>
#include <sstream>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

namespace steadfast::io {

struct Ed25519PublicKey::Impl {
  EVP_PKEY* key = nullptr;
  ~Impl() { EVP_PKEY_free(key); }
};

Result<Ed25519PublicKey> Ed25519PublicKey::fromPem(std::string_view pem) {
  if (pem.size() > 16384) {
    return makeError(Errc::InvalidArgument, "public key file too large");
  }
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) {
    return makeError(Errc::Internal, "out of memory reading the public key");
  }
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key == nullptr) {
    return makeError(Errc::InvalidArgument, "not a PEM public key");
  }
  auto impl = std::make_shared<Impl>();
  impl->key = key;
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
    return makeError(Errc::InvalidArgument, "the public key is not an Ed25519 key");
  }
  return Ed25519PublicKey(std::move(impl));
}

Result<Ed25519PublicKey> Ed25519PublicKey::fromPemFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return makeError(Errc::Io, path + ": cannot open the public key file");
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto key = fromPem(text.str());
  if (!key) {
    return makeError(key.error().code, path + ": " + key.error().detail);
  }
  return key;
}

bool Ed25519PublicKey::verify(std::string_view message, std::string_view signature) const noexcept {
  if (!impl_ || signature.size() != 64) {
    return false;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) {
    return false;
  }
  // Ed25519 is one-shot: no digest (nullptr), EVP_DigestVerify over the whole message.
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, impl_->key) == 1 &&
            EVP_DigestVerify(
                ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

}  // namespace steadfast::io
