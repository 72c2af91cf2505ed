// SPDX-License-Identifier: Apache-2.0
#include "resolver/base/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <unistd.h>

namespace steadfast::log {
namespace {
std::atomic<Level> g_level{Level::Info};
std::atomic<bool> g_json{false};

const char* levelName(Level l) {
  switch (l) {
    case Level::Error:
      return "error";
    case Level::Warn:
      return "warn";
    case Level::Info:
      return "info";
    case Level::Debug:
      return "debug";
  }
  return "info";
}

std::string jsonEscape(const char* s) {
  std::string out;
  for (; *s != '\0'; ++s) {
    const char c = *s;
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}
}  // namespace

void configure(Level level, bool json) {
  g_level.store(level);
  g_json.store(json);
}

bool parseLevel(std::string_view text, Level& out) {
  if (text == "error") {
    out = Level::Error;
  } else if (text == "warn") {
    out = Level::Warn;
  } else if (text == "info") {
    out = Level::Info;
  } else if (text == "debug") {
    out = Level::Debug;
  } else {
    return false;
  }
  return true;
}

bool enabled(Level level) noexcept {
  return level <= g_level.load(std::memory_order_relaxed);
}

void write(Level level, const char* fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  // va_start is right above; clang 14's analyzer misreads it in C++.
  // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
  std::vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms.count()));
  std::string line;
  if (g_json.load(std::memory_order_relaxed)) {
    line = std::string("{\"ts\":\"") + ts + "\",\"level\":\"" + levelName(level) + "\",\"msg\":\"" +
           jsonEscape(msg) + "\"}\n";
  } else {
    line = std::string(ts) + " " + levelName(level) + ": " + msg + "\n";
  }
  // A log line that cannot be written has nowhere else to go; the result is looked at only to
  // satisfy FORTIFY's warn_unused_result.
  if (::write(STDERR_FILENO, line.data(), line.size()) < 0) {
    return;
  }
}

}  // namespace steadfast::log
