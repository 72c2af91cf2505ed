// SPDX-License-Identifier: Apache-2.0
// DNS over a byte stream (TCP, TLS): every message is preceded by its length as two bytes in
// network order (RFC 1035 section 4.2.2, RFC 7766 section 8, RFC 7858 section 3.3). The reader
// takes bytes as they arrive, in any split, and hands out whole messages. It owns one
// 64 KiB buffer allocated at construction; consuming never allocates.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace steadfast::wire {

class StreamReader {
 public:
  enum class Status : uint8_t {
    NeedMore,  // every byte of `in` was taken, no whole message yet
    Message,   // `msg` holds one whole message; `in` was advanced past it
    Error,     // a zero length prefix: the stream is broken, close it
  };

  StreamReader();

  /// Takes bytes from the front of `in` (advancing it) until one message is whole or `in` is
  /// empty. `msg` stays valid until the next call. After Error every call returns Error.
  Status consume(std::span<const uint8_t>& in, std::span<const uint8_t>& msg) noexcept;

  /// True when no partial message is buffered (a clean point to close the stream).
  [[nodiscard]] bool idle() const noexcept { return header_got_ == 0 && !broken_; }

  /// Writes the two-byte prefix for a message of `len` bytes (1..65535) into `out`.
  static void writePrefix(size_t len, std::span<uint8_t, 2> out) noexcept;

 private:
  std::unique_ptr<std::array<uint8_t, 65535>> body_;
  uint8_t header_[2] = {};
  size_t header_got_ = 0;  // 0, 1 or 2 prefix bytes read for the current message
  size_t want_ = 0;        // body length once both prefix bytes are in
  size_t body_got_ = 0;
  bool broken_ = false;
};

}  // namespace steadfast::wire
