// SPDX-License-Identifier: Apache-2.0
// Durations and sizes as operators write them in the config: "400ms", "5m", "1d", "1h30m";
// "128MiB", "64KiB", "1GB", "512" (bytes).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "resolver/base/clock.h"
#include "resolver/base/result.h"

namespace steadfast {

/// Units: ns, us, ms, s, m, h, d, w; components may be combined ("1h30m"). No sign, no
/// fractions, no bare number (a unit is required). Errors name what is wrong.
Result<Nanos> parseDuration(std::string_view text);
/// Units: B (or none), KB/MB/GB/TB (powers of 1000), KiB/MiB/GiB/TiB (powers of 1024).
Result<uint64_t> parseSize(std::string_view text);
/// Shortest exact form: "400ms", "5m", "1d", "1h30m", "0s".
std::string formatDuration(Nanos d);
/// "128MiB" when exact, else bytes: "1000B".
std::string formatSize(uint64_t bytes);

}  // namespace steadfast
