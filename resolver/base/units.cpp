// SPDX-License-Identifier: Apache-2.0
// Durations ("400ms", "1h30m") and sizes ("128MiB") as written in the config file, and their
// canonical printed forms for --check-config and the status page.
#include "resolver/base/units.h"

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace steadfast {
namespace {

struct Unit {
  std::string_view name;
  uint64_t factor;
};

// Largest first: a combined duration must list its units in this order ("1h30m", not "30m1h").
constexpr std::array<Unit, 8> kDurationUnits{{
    {"w", uint64_t{7} * 24 * 3600 * 1000000000},
    {"d", uint64_t{24} * 3600 * 1000000000},
    {"h", uint64_t{3600} * 1000000000},
    {"m", uint64_t{60} * 1000000000},
    {"s", 1000000000},
    {"ms", 1000000},
    {"us", 1000},
    {"ns", 1},
}};

constexpr std::array<Unit, 9> kSizeUnits{{
    {"B", 1},
    {"KB", uint64_t{1000}},
    {"MB", uint64_t{1000} * 1000},
    {"GB", uint64_t{1000} * 1000 * 1000},
    {"TB", uint64_t{1000} * 1000 * 1000 * 1000},
    {"KiB", uint64_t{1} << 10U},
    {"MiB", uint64_t{1} << 20U},
    {"GiB", uint64_t{1} << 30U},
    {"TiB", uint64_t{1} << 40U},
}};

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
bool isLetter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

std::string quoted(std::string_view text) {
  return "'" + std::string(text) + "'";
}

// Reads the decimal number at text[pos...]; false on overflow of uint64_t.
bool readNumber(std::string_view text, size_t& pos, uint64_t& value) {
  value = 0;
  while (pos < text.size() && isDigit(text[pos])) {
    const auto digit = static_cast<uint64_t>(text[pos] - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      return false;
    }
    value = value * 10 + digit;
    ++pos;
  }
  return true;
}

// What is wrong with a character where a digit was expected.
std::string badStart(std::string_view text, char c, std::string_view what) {
  if (c == '-' || c == '+') {
    return std::string(what) + " " + quoted(text) + " must not have a sign";
  }
  if (c == '.' || c == ',') {
    return std::string(what) + " " + quoted(text) + " must be a whole number (no fractions)";
  }
  if (c == ' ' || c == '\t') {
    return std::string(what) + " " + quoted(text) + " must not contain spaces";
  }
  return std::string(what) + " " + quoted(text) + ": expected a digit, found " + quoted({&c, 1});
}

}  // namespace

Result<Nanos> parseDuration(std::string_view text) {
  constexpr std::string_view kUnitHelp = " (units: ns, us, ms, s, m, h, d, w)";
  if (text.empty()) {
    return makeError(Errc::InvalidArgument, "empty duration: write e.g. \"400ms\" or \"5m\"");
  }
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<Nanos::rep>::max());
  uint64_t total = 0;
  size_t last_unit = 0;  // index into kDurationUnits of the previous component, + 1
  size_t pos = 0;
  while (pos < text.size()) {
    if (!isDigit(text[pos])) {
      return makeError(Errc::InvalidArgument, badStart(text, text[pos], "duration"));
    }
    uint64_t value = 0;
    if (!readNumber(text, pos, value)) {
      return makeError(Errc::InvalidArgument, "duration " + quoted(text) + " is too large");
    }
    const size_t unit_start = pos;
    while (pos < text.size() && isLetter(text[pos])) {
      ++pos;
    }
    const std::string_view unit = text.substr(unit_start, pos - unit_start);
    if (unit.empty()) {
      if (pos < text.size()) {
        return makeError(Errc::InvalidArgument, badStart(text, text[pos], "duration"));
      }
      return makeError(Errc::InvalidArgument,
                       "duration " + quoted(text) + " needs a unit" + std::string(kUnitHelp));
    }
    size_t index = 0;
    while (index < kDurationUnits.size() && kDurationUnits[index].name != unit) {
      ++index;
    }
    if (index == kDurationUnits.size()) {
      return makeError(Errc::InvalidArgument, "unknown unit " + quoted(unit) + " in duration " +
                                                  quoted(text) + std::string(kUnitHelp));
    }
    if (index + 1 <= last_unit) {
      return makeError(Errc::InvalidArgument,
                       "duration " + quoted(text) +
                           ": units must go from largest to smallest, each once (e.g. \"1h30m\")");
    }
    last_unit = index + 1;
    const uint64_t factor = kDurationUnits[index].factor;
    if (value > kMax / factor || total > kMax - value * factor) {
      return makeError(Errc::InvalidArgument, "duration " + quoted(text) + " is too large");
    }
    total += value * factor;
  }
  return Nanos{static_cast<Nanos::rep>(total)};
}

Result<uint64_t> parseSize(std::string_view text) {
  constexpr std::string_view kUnitHelp = " (units: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)";
  if (text.empty()) {
    return makeError(Errc::InvalidArgument, "empty size: write e.g. \"128MiB\"");
  }
  size_t pos = 0;
  if (!isDigit(text[0])) {
    return makeError(Errc::InvalidArgument, badStart(text, text[0], "size"));
  }
  uint64_t value = 0;
  if (!readNumber(text, pos, value)) {
    return makeError(Errc::InvalidArgument, "size " + quoted(text) + " is too large");
  }
  const std::string_view unit = text.substr(pos);
  if (unit.empty()) {
    return value;
  }
  if (!isLetter(unit.front())) {
    return makeError(Errc::InvalidArgument, badStart(text, unit.front(), "size"));
  }
  for (const Unit& u : kSizeUnits) {
    if (u.name == unit) {
      if (value > std::numeric_limits<uint64_t>::max() / u.factor) {
        return makeError(Errc::InvalidArgument, "size " + quoted(text) + " is too large");
      }
      return value * u.factor;
    }
  }
  return makeError(Errc::InvalidArgument, "unknown unit " + quoted(unit) + " in size " +
                                              quoted(text) + std::string(kUnitHelp));
}

std::string formatDuration(Nanos d) {
  std::string out;
  uint64_t rest = 0;
  if (d.count() < 0) {
    out = "-";
    // Two's complement: negate in unsigned arithmetic so that the minimum value works too.
    rest = uint64_t{0} - static_cast<uint64_t>(d.count());
  } else {
    rest = static_cast<uint64_t>(d.count());
  }
  if (rest == 0) {
    return "0s";
  }
  // Below a minute, a duration with a fraction of a second is written in one unit ("1500ms",
  // as operators write a budget or timeout); otherwise largest unit first ("1h30m").
  constexpr uint64_t kSecond = 1000000000;
  const bool single_unit = rest < 60 * kSecond && rest % kSecond != 0;
  for (const Unit& u : kDurationUnits) {
    if (single_unit && rest % u.factor != 0) {
      continue;
    }
    if (rest >= u.factor) {
      out += std::to_string(rest / u.factor);
      out += u.name;
      rest %= u.factor;
    }
  }
  return out;
}

std::string formatSize(uint64_t bytes) {
  if (bytes != 0) {
    // Binary units only, largest first: "128MiB", "64KiB".
    for (size_t i = kSizeUnits.size(); i-- > 5;) {
      const Unit& u = kSizeUnits[i];
      if (bytes % u.factor == 0) {
        return std::to_string(bytes / u.factor) + std::string(u.name);
      }
    }
  }
  return std::to_string(bytes) + "B";
}

}  // namespace steadfast
