// SPDX-License-Identifier: Apache-2.0
// Domain names in wire form (RFC 1035 sections 3.1 and 4.1.4): reading possibly compressed
// names out of untrusted messages, lower-casing for cache keys, and text conversion for
// logs, config and tests.
#include <cstring>
#include <string>

#include "resolver/wire/message.h"

namespace steadfast::wire {
namespace {

// Every pointer must go strictly below the previous one, so loops are impossible anyway;
// the cap bounds the work per name on top of that (a 255-octet name has at most 127 labels).
constexpr unsigned kMaxJumps = 128;
constexpr uint8_t kLabelTypeMask = 0xC0;
constexpr uint8_t kLabelPointer = 0xC0;

// Walks the name at `pos`, copying it to `out` unless that is null. Shared by readName and
// skipName so both apply exactly the same checks.
bool walkName(std::span<const uint8_t> msg, size_t& pos, uint8_t* out, size_t& out_len) noexcept {
  size_t cur = pos;
  size_t segment_start = pos;  // a pointer must target an offset strictly below this
  size_t resume = 0;           // where the name ends in the message once we have jumped
  bool jumped = false;
  unsigned jumps = 0;
  size_t total = 0;
  for (;;) {
    if (cur >= msg.size()) {
      return false;
    }
    const uint8_t len = msg[cur];
    const uint8_t kind = len & kLabelTypeMask;
    if (kind == kLabelPointer) {
      if (msg.size() - cur < 2) {
        return false;
      }
      const size_t target = (size_t{len & 0x3FU} << 8U) | msg[cur + 1];
      // Only backwards, and never into the header: no name can start there.
      if (target >= segment_start || target < kHeaderSize || ++jumps > kMaxJumps) {
        return false;
      }
      if (!jumped) {
        resume = cur + 2;
        jumped = true;
      }
      cur = target;
      segment_start = target;
      continue;
    }
    if (kind != 0) {
      return false;  // 0x40 (extended, RFC 6891 section 5: deprecated) and 0x80 (reserved)
    }
    if (len == 0) {
      if (out != nullptr) {
        out[total] = 0;
      }
      ++total;
      break;
    }
    if (msg.size() - cur - 1 < len) {
      return false;
    }
    // The label plus the root label still to come must fit in 255 octets (RFC 1035 2.3.4).
    if (total + 1U + len + 1U > kMaxNameWire) {
      return false;
    }
    if (out != nullptr) {
      std::memcpy(out + total, msg.data() + cur, size_t{1} + len);
    }
    total += size_t{1} + len;
    cur += size_t{1} + len;
  }
  pos = jumped ? resume : cur + 1;
  out_len = total;
  return true;
}

bool needsEscape(uint8_t c) noexcept {
  return c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' ||
         c == '$';
}

bool isDigit(char c) noexcept {
  return c >= '0' && c <= '9';
}
unsigned digitValue(char c) noexcept {
  return static_cast<unsigned>(c - '0');
}

}  // namespace

bool readName(std::span<const uint8_t> msg, size_t& pos, std::span<uint8_t, kMaxNameWire> out,
              size_t& out_len) noexcept {
  return walkName(msg, pos, out.data(), out_len);
}

bool skipName(std::span<const uint8_t> msg, size_t& pos) noexcept {
  size_t len = 0;
  return walkName(msg, pos, nullptr, len);
}

void lowerName(std::span<const uint8_t> in, uint8_t* out) noexcept {
  // Label lengths are at most 63, below 'A' (65), so a byte-wise fold leaves them untouched.
  // RFC 4343: only ASCII letters compare case-insensitively.
  for (size_t i = 0; i < in.size(); ++i) {
    const uint8_t c = in[i];
    out[i] = (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + ('a' - 'A')) : c;
  }
}

std::string nameToText(std::span<const uint8_t> wire) {
  std::string text;
  size_t pos = 0;
  while (pos < wire.size()) {
    const uint8_t len = wire[pos];
    if (len == 0) {
      break;
    }
    if (len > kMaxLabel || wire.size() - pos - 1 < len) {
      text += "?";  // not a valid uncompressed name; show where it breaks
      return text;
    }
    for (size_t i = pos + 1; i <= pos + len; ++i) {
      const uint8_t c = wire[i];
      if (c < 0x21 || c > 0x7E) {
        // RFC 4343 section 2.1: \DDD for octets that are not printable.
        const char digits[5] = {'\\', static_cast<char>('0' + c / 100),
                                static_cast<char>('0' + (c / 10) % 10),
                                static_cast<char>('0' + c % 10), '\0'};
        text += digits;
      } else {
        if (needsEscape(c)) {
          text += '\\';
        }
        text += static_cast<char>(c);
      }
    }
    text += '.';
    pos += size_t{1} + len;
  }
  if (text.empty()) {
    text.push_back('.');
  }
  return text;
}

bool nameFromText(std::string_view text, std::span<uint8_t, kMaxNameWire> out,
                  size_t& out_len) noexcept {
  if (text == ".") {
    out[0] = 0;
    out_len = 1;
    return true;
  }
  if (text.empty()) {
    return false;
  }
  size_t total = 0;     // bytes written so far
  size_t label_at = 0;  // offset of the current label's length byte
  size_t label_len = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '.') {
      if (label_len == 0) {
        return false;  // empty label: "a..b" or ".a"
      }
      out[label_at] = static_cast<uint8_t>(label_len);
      label_len = 0;
      continue;
    }
    uint8_t byte = static_cast<uint8_t>(text[i]);
    if (text[i] == '\\') {
      if (i + 1 >= text.size()) {
        return false;
      }
      if (i + 3 < text.size() && isDigit(text[i + 1]) && isDigit(text[i + 2]) &&
          isDigit(text[i + 3])) {
        const unsigned v = digitValue(text[i + 1]) * 100U + digitValue(text[i + 2]) * 10U +
                           digitValue(text[i + 3]);
        if (v > 0xFFU) {
          return false;
        }
        byte = static_cast<uint8_t>(v);
        i += 3;
      } else {
        byte = static_cast<uint8_t>(text[i + 1]);
        i += 1;
      }
    }
    if (label_len == 0) {
      label_at = total++;  // reserve the new label's length byte
    }
    // Label > 63, or no room left for this byte plus the root label (RFC 1035 2.3.4).
    if (label_len == kMaxLabel || total + 1 >= kMaxNameWire) {
      return false;
    }
    out[total++] = byte;
    ++label_len;
  }
  if (label_len > 0) {
    out[label_at] = static_cast<uint8_t>(label_len);  // no trailing dot
  }
  out[total++] = 0;
  out_len = total;
  return true;
}

bool validWireName(std::span<const uint8_t> name) noexcept {
  if (name.empty() || name.size() > kMaxNameWire) {
    return false;
  }
  size_t pos = 0;
  while (pos < name.size()) {
    const uint8_t len = name[pos];
    if (len == 0) {
      return pos + 1 == name.size();
    }
    if (len > kMaxLabel) {
      return false;
    }
    pos += size_t{1} + len;
  }
  return false;
}

}  // namespace steadfast::wire
