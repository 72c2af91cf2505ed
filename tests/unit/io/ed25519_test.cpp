// SPDX-License-Identifier: Apache-2.0
// Ed25519 verification of detached signatures. The keys and signature below were made once
// with `openssl genpkey -algorithm ed25519` and `openssl pkeyutl -sign -rawin` (test data).
#include "resolver/io/ed25519.h"

#include <string>

#include <gtest/gtest.h>

namespace steadfast::io {
namespace {

constexpr std::string_view kKeyA =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAUk5lbCUeVd4Emf3zDUeodWAwrD7IqY1abLcju3IyioE=\n"
    "-----END PUBLIC KEY-----\n";
constexpr std::string_view kKeyB =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAoyAteE2b5LmQJSlgpOq4505bZEMa7BiqISNDDutt6Vc=\n"
    "-----END PUBLIC KEY-----\n";
constexpr std::string_view kP256 =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEuSjfzY8v47//B1qeYMhtEE7kvP6I\n"
    "yR/fKLDo0aj1Sc1pi1yIMaUpaEtbe0tzYF69VnSS1pqPV4uJL6L02AI0ow==\n"
    "-----END PUBLIC KEY-----\n";
constexpr std::string_view kMessage = "steadfast directive test";
const unsigned char kSig[] = {
    0x2c, 0x55, 0x80, 0x09, 0xbe, 0x21, 0x22, 0xbc, 0x3e, 0x14, 0xe9, 0x3a, 0x2b, 0x78, 0x08, 0xf2,
    0xb9, 0x6f, 0xab, 0xaf, 0xa4, 0x2c, 0xcd, 0x1d, 0x7a, 0x32, 0xfe, 0xce, 0xdc, 0x68, 0xc3, 0xcd,
    0x1b, 0x79, 0x61, 0xcd, 0x5c, 0x23, 0x15, 0x36, 0xcd, 0x65, 0x55, 0x52, 0xa8, 0xdf, 0x3c, 0x27,
    0x1a, 0x61, 0x66, 0xc0, 0xa2, 0x08, 0x4b, 0x73, 0xe0, 0x02, 0x14, 0xdc, 0x25, 0x68, 0xf4, 0x07};

std::string sig() {
  return {reinterpret_cast<const char*>(kSig), sizeof(kSig)};
}

TEST(Ed25519Test, GoodSignatureVerifies) {
  auto key = Ed25519PublicKey::fromPem(kKeyA);
  ASSERT_TRUE(key.ok()) << key.error().detail;
  EXPECT_TRUE(key->verify(kMessage, sig()));
}

TEST(Ed25519Test, AlteredMessageOrSignatureFails) {
  auto key = Ed25519PublicKey::fromPem(kKeyA);
  ASSERT_TRUE(key.ok());
  EXPECT_FALSE(key->verify("steadfast directive tesT", sig()));
  std::string bad = sig();
  bad[10] = static_cast<char>(bad[10] ^ 1);
  EXPECT_FALSE(key->verify(kMessage, bad));
  EXPECT_FALSE(key->verify(kMessage, sig().substr(0, 63)));
  EXPECT_FALSE(key->verify(kMessage, ""));
}

TEST(Ed25519Test, WrongKeyFails) {
  auto key = Ed25519PublicKey::fromPem(kKeyB);
  ASSERT_TRUE(key.ok());
  EXPECT_FALSE(key->verify(kMessage, sig()));
}

TEST(Ed25519Test, NonEd25519OrGarbageKeyIsRefused) {
  auto p256 = Ed25519PublicKey::fromPem(kP256);
  ASSERT_FALSE(p256.ok());
  EXPECT_NE(p256.error().detail.find("not an Ed25519"), std::string::npos);
  EXPECT_FALSE(Ed25519PublicKey::fromPem("garbage").ok());
  EXPECT_FALSE(Ed25519PublicKey::fromPemFile("/nonexistent/key.pem").ok());
}

}  // namespace
}  // namespace steadfast::io
