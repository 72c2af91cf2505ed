// SPDX-License-Identifier: Apache-2.0
// TSIG (RFC 8945) for zone transfers and NOTIFY: the key file in BIND syntax, signing a request
// or a response, and verifying a request or every message of a response stream (a transfer
// spans many messages; each one must carry a valid TSIG here, which RFC 8945 5.3.1 allows a
// verifier to demand and which BIND, Knot and NSD all send). HMAC by OpenSSL.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/base/result.h"

namespace steadfast::fetch {

enum class TsigAlgorithm : uint8_t { HmacSha1, HmacSha224, HmacSha256, HmacSha384, HmacSha512 };

struct TsigKey {
  std::vector<uint8_t> name;  // key name, lower-cased uncompressed wire form
  TsigAlgorithm algorithm = TsigAlgorithm::HmacSha256;
  std::vector<uint8_t> secret;
};

/// `key "NAME" { algorithm hmac-sha256; secret "BASE64"; };` with `//`, `#` and `/* */`
/// comments; exactly one key. Errors: "LINE:COL: message" (the caller prefixes the file).
Result<TsigKey> parseTsigKey(std::string_view text);
/// Reads and parses a key file; errors "FILE:LINE:COL: message".
Result<TsigKey> loadTsigKeyFile(const std::string& path);

/// "hmac-sha256." as a wire name and back.
std::string_view tsigAlgorithmName(TsigAlgorithm a) noexcept;

/// Appends a TSIG RR to `msg` (a complete DNS message without one) and bumps ARCOUNT.
/// For a request leave `request_mac` empty; for a response pass the request's MAC. Returns
/// the MAC, which a response stream's verifier needs. `timers_only` signs a later message
/// of a stream (prior MAC, message, time and fudge: RFC 8945 5.3.1).
std::vector<uint8_t> tsigSign(std::vector<uint8_t>& msg, const TsigKey& key, uint64_t time_signed,
                              std::span<const uint8_t> request_mac = {}, uint16_t fudge = 300,
                              uint16_t error = 0, bool timers_only = false);

/// TSIG RR fields as found at the end of a message.
struct TsigRecord {
  size_t offset = 0;               // where the TSIG RR starts (the message without it ends here)
  std::vector<uint8_t> key_name;   // lower-cased wire form
  std::vector<uint8_t> algorithm;  // lower-cased wire form
  uint64_t time_signed = 0;
  uint16_t fudge = 0;
  std::vector<uint8_t> mac;
  uint16_t original_id = 0;
  uint16_t error = 0;
  std::vector<uint8_t> other;
};

/// Finds the TSIG RR: present only as the last record of the additional section. Ok with
/// `found == false` when the message has none; Malformed when a TSIG RR is elsewhere or the
/// message is broken.
struct TsigLookup {
  bool found = false;
  TsigRecord record;
};
Result<TsigLookup> findTsig(std::span<const uint8_t> msg);

/// Verifies a signed request (a NOTIFY) with `key` at wall time `now_unix`; returns its MAC
/// (for signing the answer). Refused: no TSIG, another key or algorithm, a bad MAC or a time
/// outside the fudge.
Result<std::vector<uint8_t>> tsigVerifyRequest(std::span<const uint8_t> msg, const TsigKey& key,
                                               uint64_t now_unix);

/// Verifies each message of a response (AXFR/IXFR over TCP) in order: the first against the
/// request's MAC, each next one against the previous message's MAC, timers only (RFC 8945
/// 5.3.1).
class TsigStreamVerifier {
 public:
  TsigStreamVerifier(const TsigKey& key, std::vector<uint8_t> request_mac)
      : key_(key), prior_mac_(std::move(request_mac)) {}
  Status verify(std::span<const uint8_t> msg, uint64_t now_unix);
  [[nodiscard]] size_t verified() const noexcept { return count_; }

 private:
  const TsigKey& key_;
  std::vector<uint8_t> prior_mac_;
  size_t count_ = 0;
};

}  // namespace steadfast::fetch
