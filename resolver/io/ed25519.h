// SPDX-License-Identifier: Apache-2.0
// Detached Ed25519 signatures (RFC 8032) checked with OpenSSL's EVP interface: the crisis
// directive's `.sig` file against [crisis] directive_public_key.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "resolver/base/result.h"

namespace steadfast::io {

/// An Ed25519 public key loaded from PEM (SubjectPublicKeyInfo, as `openssl pkey -pubout`
/// writes it).
class Ed25519PublicKey {
 public:
  /// Fails for anything that is not a PEM Ed25519 public key.
  static Result<Ed25519PublicKey> fromPem(std::string_view pem);
  static Result<Ed25519PublicKey> fromPemFile(const std::string& path);

  /// True only if `signature` (64 raw bytes) signs `message` under this key.
  [[nodiscard]] bool verify(std::string_view message, std::string_view signature) const noexcept;

 private:
  struct Impl;
  explicit Ed25519PublicKey(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace steadfast::io
