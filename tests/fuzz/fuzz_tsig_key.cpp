// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the TSIG key file parser (BIND syntax): never crashes; a key it accepts has a
// valid wire name and a secret, and signing then verifying a message with it succeeds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "threatfeed/fetch/tsig.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace steadfast::fetch;
  auto key = parseTsigKey(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!key) {
    return 0;
  }
  if (key->name.empty() || key->secret.empty()) {
    __builtin_trap();
  }
  std::vector<uint8_t> msg{0x12, 0x34, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0};
  tsigSign(msg, *key, 1000);
  if (!tsigVerifyRequest(msg, *key, 1000).ok()) {
    __builtin_trap();
  }
  return 0;
}
