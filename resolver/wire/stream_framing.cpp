// SPDX-License-Identifier: Apache-2.0
#include "resolver/wire/stream_framing.h"

#include <algorithm>
#include <cstring>

namespace steadfast::wire {

StreamReader::StreamReader() : body_(std::make_unique<std::array<uint8_t, 65535>>()) {}

StreamReader::Status StreamReader::consume(std::span<const uint8_t>& in,
                                           std::span<const uint8_t>& msg) noexcept {
  if (broken_) {
    return Status::Error;
  }
  while (!in.empty()) {
    if (header_got_ < 2) {
      header_[header_got_++] = in.front();
      in = in.subspan(1);
      if (header_got_ == 2) {
        want_ = (static_cast<size_t>(header_[0]) << 8U) | header_[1];
        body_got_ = 0;
        if (want_ == 0) {
          broken_ = true;
          return Status::Error;
        }
      }
      continue;
    }
    const size_t n = std::min(want_ - body_got_, in.size());
    std::memcpy(body_->data() + body_got_, in.data(), n);
    body_got_ += n;
    in = in.subspan(n);
    if (body_got_ == want_) {
      header_got_ = 0;
      msg = std::span<const uint8_t>(body_->data(), want_);
      return Status::Message;
    }
  }
  return Status::NeedMore;
}

void StreamReader::writePrefix(size_t len, std::span<uint8_t, 2> out) noexcept {
  out[0] = static_cast<uint8_t>((len >> 8U) & 0xffU);
  out[1] = static_cast<uint8_t>(len & 0xffU);
}

}  // namespace steadfast::wire
