// SPDX-License-Identifier: Apache-2.0
// Process log: one line per event on stderr (journald adds its own timestamp under systemd,
// but a foreground run wants one too). Levels error < warn < info < debug. Thread-safe: each
// line is written with a single write(2). Never log per packet above debug.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <string_view>

namespace steadfast::log {

enum class Level : uint8_t { Error, Warn, Info, Debug };

/// Sets the threshold and the format ("text" or "json"). Not thread-safe: call at startup or
/// from the control thread.
void configure(Level level, bool json);
/// Parses "error" | "warn" | "info" | "debug"; false if unknown.
bool parseLevel(std::string_view text, Level& out);
[[nodiscard]] bool enabled(Level level) noexcept;

void write(Level level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace steadfast::log

#define STEADFAST_LOG(level, ...)                  \
  do {                                             \
    if (::steadfast::log::enabled(level)) {        \
      ::steadfast::log::write(level, __VA_ARGS__); \
    }                                              \
  } while (false)
#define LOG_ERROR(...) STEADFAST_LOG(::steadfast::log::Level::Error, __VA_ARGS__)
#define LOG_WARN(...) STEADFAST_LOG(::steadfast::log::Level::Warn, __VA_ARGS__)
#define LOG_INFO(...) STEADFAST_LOG(::steadfast::log::Level::Info, __VA_ARGS__)
#define LOG_DEBUG(...) STEADFAST_LOG(::steadfast::log::Level::Debug, __VA_ARGS__)
