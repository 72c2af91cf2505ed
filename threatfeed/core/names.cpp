// SPDX-License-Identifier: Apache-2.0
#include "threatfeed/core/names.h"

namespace steadfast::threatfeed {
namespace {

bool labelByteOk(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

}  // namespace

std::optional<std::string> canonicalName(std::string_view text) {
  if (text == ".") {
    return std::string{};
  }
  if (!text.empty() && text.back() == '.') {
    text.remove_suffix(1);
  }
  if (text.empty() || text.size() > 253) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(text.size());
  size_t label_len = 0;
  size_t label_start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = lower(text[i]);
    if (c == '.') {
      if (label_len == 0) {
        return std::nullopt;
      }
      label_len = 0;
      label_start = i + 1;
      out.push_back('.');
      continue;
    }
    if (c == '*') {
      // only "*" as the whole leftmost label
      if (label_start != 0 || i != 0 || (text.size() > 1 && text[1] != '.')) {
        return std::nullopt;
      }
    } else if (!labelByteOk(c)) {
      return std::nullopt;
    }
    if (++label_len > 63) {
      return std::nullopt;
    }
    out.push_back(c);
  }
  if (label_len == 0) {
    return std::nullopt;
  }
  return out;
}

size_t labelCount(std::string_view canonical) noexcept {
  if (canonical.empty()) {
    return 0;
  }
  size_t n = 1;
  for (char c : canonical) {
    n += c == '.' ? 1 : 0;
  }
  return n;
}

std::string toWire(std::string_view canonical) {
  std::string out;
  out.reserve(canonical.size() + 2);
  size_t start = 0;
  while (start < canonical.size()) {
    size_t dot = canonical.find('.', start);
    if (dot == std::string_view::npos) {
      dot = canonical.size();
    }
    out.push_back(static_cast<char>(dot - start));
    out.append(canonical.substr(start, dot - start));
    start = dot + 1;
  }
  out.push_back('\0');
  return out;
}

std::optional<std::string> fromWire(std::span<const uint8_t> wire) {
  std::string out;
  size_t i = 0;
  while (true) {
    if (i >= wire.size()) {
      return std::nullopt;
    }
    const uint8_t len = wire[i++];
    if (len == 0) {
      break;
    }
    if (len > 63 || i + len > wire.size()) {
      return std::nullopt;
    }
    if (!out.empty()) {
      out.push_back('.');
    }
    for (size_t k = 0; k < len; ++k) {
      const char c = lower(static_cast<char>(wire[i + k]));
      if (!labelByteOk(c) && !(c == '*' && len == 1 && out.empty())) {
        return std::nullopt;
      }
      out.push_back(c);
    }
    i += len;
  }
  if (out.size() > 253) {
    return std::nullopt;
  }
  return out;
}

bool isAtOrBelow(std::string_view name, std::string_view ancestor) noexcept {
  if (ancestor.empty()) {
    return true;
  }
  if (name.size() < ancestor.size()) {
    return false;
  }
  if (name.substr(name.size() - ancestor.size()) != ancestor) {
    return false;
  }
  return name.size() == ancestor.size() || name[name.size() - ancestor.size() - 1] == '.';
}

}  // namespace steadfast::threatfeed
