// SPDX-License-Identifier: Apache-2.0
// The whole configuration: the TOML file parsed into each module's own struct. Errors carry
// FILE:LINE:COL (ConfigError::what() is already formatted that way).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "failover/plan_config.h"
#include "resolver/base/clock.h"
#include "resolver/cache/cache_options.h"
#include "resolver/listen/listen_config.h"
#include "resolver/pipeline/pipeline_config.h"
#include "resolver/report/report_config.h"
#include "threatfeed/core/feed_config.h"

namespace steadfast::app {

/// A configuration error. what() is "FILE:LINE:COL: message" (or "FILE: message" when the
/// position is unknown, e.g. the file cannot be read).
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string file, uint32_t line, uint32_t column, const std::string& message);
  [[nodiscard]] const std::string& file() const noexcept { return file_; }
  [[nodiscard]] uint32_t line() const noexcept { return line_; }
  [[nodiscard]] uint32_t column() const noexcept { return column_; }

 private:
  std::string file_;
  uint32_t line_;
  uint32_t column_;
};

struct LogConfig {
  std::string level = "info";   // error | warn | info | debug
  std::string format = "text";  // text | json
};

struct StateConfig {
  std::string dir = "/var/lib/steadfast";
};

/// [policy] and [[feed]]: owned by threatfeed/core.
using threatfeed::FeedConfig;
using threatfeed::PolicyConfig;

struct Config {
  std::string file;  // where it was read from ("<dev>" for the embedded default)
  listen::ListenConfig listen;
  pipeline::PipelineConfig pipeline;
  cache::CacheOptions cache;
  failover::PlanConfig plan;
  report::ReportConfig report;
  PolicyConfig policy;
  std::vector<FeedConfig> feeds;
  LogConfig log;
  StateConfig state;
};

/// Parses TOML text. `file` names the source in error messages. Throws ConfigError.
Config parseConfig(std::string_view toml_text, const std::string& file);
/// Reads and parses a file. Throws ConfigError (unreadable file: "FILE: cannot read: ...").
Config loadConfig(const std::string& path);

/// True for a Union-based tier: one with a built-in profile (every built-in profile is
/// DNS4EU) or with `union = true`.
bool isUnionTier(const failover::TierConfig& tier);

/// Advice about a valid configuration, one human-readable sentence each (no FILE:LINE:COL):
/// the daemon logs them at start and --check-config prints them. Empty when there is none.
std::vector<std::string> configWarnings(const Config& config);

/// The effective configuration as --check-config prints it: listeners, the failover plan
/// (tiers in order with their expanded upstreams, last resort, and the configWarnings() as
/// "warning: ..." lines), cache, feeds.
std::string describeConfig(const Config& config);

}  // namespace steadfast::app
