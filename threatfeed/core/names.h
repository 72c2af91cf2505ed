// SPDX-License-Identifier: Apache-2.0
// Domain-name helpers for feed input: validation and canonical form (lowercase presentation,
// no trailing dot, "" = root), wire-form conversion.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace steadfast::threatfeed {

/// Canonical form of a presentation name ("Evil.Example." -> "evil.example", "." -> "").
/// Refuses empty labels, labels over 63 bytes, names over 253 characters, escapes, and bytes
/// outside [A-Za-z0-9_-*] (a '*' only as a whole leftmost label). nullopt when refused.
std::optional<std::string> canonicalName(std::string_view text);

/// Number of labels of a canonical name (0 for the root).
size_t labelCount(std::string_view canonical) noexcept;

/// Canonical name -> uncompressed wire form (with the final zero byte).
std::string toWire(std::string_view canonical);

/// Uncompressed wire name -> canonical form (lowercased). nullopt when malformed or when a
/// label holds a byte canonicalName would refuse.
std::optional<std::string> fromWire(std::span<const uint8_t> wire);

/// True when `name` equals `ancestor` or is below it (canonical names).
bool isAtOrBelow(std::string_view name, std::string_view ancestor) noexcept;

}  // namespace steadfast::threatfeed
