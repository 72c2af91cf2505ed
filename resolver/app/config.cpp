// SPDX-License-Identifier: Apache-2.0
// The TOML config file (spec/steadfast.example.toml) parsed with toml++ into each box's own
// config struct. Every problem is reported as FILE:LINE:COL of the offending key or value; all
// problems of a file are collected, and ConfigError carries the first one (by position) with the
// others on further lines, so `--check-config` shows everything at once.
#include "resolver/app/config.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <netinet/in.h>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <toml++/toml.h>

#include "resolver/base/cidr.h"
#include "resolver/base/socket_address.h"
#include "resolver/base/units.h"
#include "resolver/io/http_client.h"
#include "threatfeed/fetch/tsig.h"

namespace steadfast::app {

ConfigError::ConfigError(std::string file, uint32_t line, uint32_t column,
                         const std::string& message)
    : std::runtime_error(line == 0 ? file + ": " + message
                                   : file + ":" + std::to_string(line) + ":" +
                                         std::to_string(column) + ": " + message),
      file_(std::move(file)),
      line_(line),
      column_(column) {}

namespace {

// The embedded development config may leave a tier's upstreams empty: `steadfast --dev` fills
// the primary tier from /etc/resolv.conf at start. Anywhere else an empty tier is a mistake.
constexpr std::string_view kDevFile = "<dev>";
constexpr size_t kMaxReportedErrors = 20;
// RFC 2181 section 8: a TTL is at most 2^31 - 1 seconds.
constexpr int64_t kMaxTtlSeconds = 2147483647;

struct Position {
  uint32_t line = 0;  // 0: unknown
  uint32_t column = 0;
};

Position positionOf(const toml::source_region& region) {
  return {region.begin.line, region.begin.column};
}

struct Diagnostic {
  Position pos;
  std::string message;
};

/// Collects the errors of one file.
class Diagnostics {
 public:
  void add(Position pos, std::string message) {
    list_.push_back(Diagnostic{pos, std::move(message)});
  }
  void add(const toml::node& node, std::string message) {
    add(positionOf(node.source()), std::move(message));
  }
  void add(const toml::key& key, std::string message) {
    add(positionOf(key.source()), std::move(message));
  }

  /// Throws ConfigError for the first error by position (unknown positions last); the others
  /// follow on their own lines in the same format.
  void throwIfAny(const std::string& file) {
    if (list_.empty()) {
      return;
    }
    auto key = [](const Diagnostic& d) {
      return std::pair{d.pos.line == 0 ? std::numeric_limits<uint32_t>::max() : d.pos.line,
                       d.pos.column};
    };
    std::stable_sort(list_.begin(), list_.end(),
                     [&](const Diagnostic& a, const Diagnostic& b) { return key(a) < key(b); });
    std::string message = list_.front().message;
    for (size_t i = 1; i < list_.size() && i < kMaxReportedErrors; ++i) {
      const Diagnostic& d = list_[i];
      message += "\n" + file;
      if (d.pos.line != 0) {
        message += ":" + std::to_string(d.pos.line) + ":" + std::to_string(d.pos.column);
      }
      message += ": " + d.message;
    }
    if (list_.size() > kMaxReportedErrors) {
      message += "\n" + file + ": ... and " + std::to_string(list_.size() - kMaxReportedErrors) +
                 " more errors";
    }
    throw ConfigError(file, list_.front().pos.line, list_.front().pos.column, message);
  }

 private:
  std::vector<Diagnostic> list_;
};

std::string quote(std::string_view s) {
  return "'" + std::string(s) + "'";
}

std::string formatNumber(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", value);
  return buf;
}

std::string joinNames(std::initializer_list<std::string_view> names) {
  std::string out;
  for (std::string_view n : names) {
    out += out.empty() ? "" : ", ";
    out += n;
  }
  return out;
}

std::string_view typeName(toml::node_type type) {
  switch (type) {
    case toml::node_type::none:
      return "nothing";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
  }
  return "an unknown type";
}

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// " (did you mean 'x'?)" for a near miss, else "".
std::string suggestion(std::string_view key, std::initializer_list<std::string_view> known) {
  std::string_view best;
  size_t best_distance = 3;
  for (std::string_view k : known) {
    const size_t d = editDistance(key, k);
    if (d < best_distance && d < k.size()) {
      best = k;
      best_distance = d;
    }
  }
  return best.empty() ? "" : " (did you mean " + quote(best) + "?)";
}

/// One TOML table of the file ([server], one [[tier]], ...) with typed, checked readers. A
/// reader returns true and sets `out` when the key is present and valid; it returns false when
/// the key is absent (out keeps its default) or invalid (an error is recorded).
class Section {
 public:
  Section(Diagnostics& diag, const toml::table& table, std::string label)
      : diag_(diag), table_(table), label_(std::move(label)) {}

  [[nodiscard]] Diagnostics& diag() const { return diag_; }
  [[nodiscard]] const toml::table& table() const { return table_; }
  [[nodiscard]] const std::string& label() const { return label_; }
  [[nodiscard]] const toml::node* find(std::string_view key) const { return table_.get(key); }
  /// "'key' in [server]".
  [[nodiscard]] std::string where(std::string_view key) const {
    return quote(key) + " in " + label_;
  }

  void checkKeys(std::initializer_list<std::string_view> known) const {
    for (auto&& [key, value] : table_) {
      static_cast<void>(value);
      if (std::find(known.begin(), known.end(), key.str()) == known.end()) {
        diag_.add(key, "unknown key " + quote(key.str()) + " in " + label_ +
                           suggestion(key.str(), known));
      }
    }
  }

  void typeError(std::string_view key, const toml::node& node, std::string_view expected) const {
    diag_.add(node, where(key) + " must be " + std::string(expected) + ", not " +
                        std::string(typeName(node.type())));
  }

  bool readString(std::string_view key, std::string& out) const {
    const toml::node* node = find(key);
    if (node == nullptr) {
      return false;
    }
    if (!node->is_string()) {
      typeError(key, *node, "a string");
      return false;
    }
    out = node->as_string()->get();
    return true;
  }

  bool readBool(std::string_view key, bool& out) const {
    const toml::node* node = find(key);
    if (node == nullptr) {
      return false;
    }
    if (!node->is_boolean()) {
      typeError(key, *node, "true or false");
      return false;
    }
    out = node->as_boolean()->get();
    return true;
  }

  bool readInt(std::string_view key, int64_t min, int64_t max, int64_t& out) const {
    const toml::node* node = find(key);
    if (node == nullptr) {
      return false;
    }
    if (!node->is_integer()) {
      typeError(key, *node, "an integer");
      return false;
    }
    const int64_t value = node->as_integer()->get();
    if (value < min || value > max) {
      rangeError(key, *node, std::to_string(min), std::to_string(max), std::to_string(value));
      return false;
    }
    out = value;
    return true;
  }

  template <class T>
  bool readUnsigned(std::string_view key, int64_t min, int64_t max, T& out) const {
    int64_t value = 0;
    if (!readInt(key, min, max, value)) {
      return false;
    }
    out = static_cast<T>(value);
    return true;
  }

  bool readDouble(std::string_view key, double min, double max, double& out) const {
    const toml::node* node = find(key);
    if (node == nullptr) {
      return false;
    }
    double value = 0;
    if (node->is_floating_point()) {
      value = node->as_floating_point()->get();
    } else if (node->is_integer()) {
      value = static_cast<double>(node->as_integer()->get());
    } else {
      typeError(key, *node, "a number");
      return false;
    }
    if (!(value >= min && value <= max)) {  // also rejects nan
      rangeError(key, *node, formatNumber(min), formatNumber(max), formatNumber(value));
      return false;
    }
    out = value;
    return true;
  }

  /// A duration string; `positive`: 0s is not allowed.
  bool readDuration(std::string_view key, bool positive, Nanos& out) const {
    const toml::node* node = find(key);
    if (node == nullptr) {
      return false;
    }
    if (!node->is_string()) {
      typeError(key, *node, "a duration string with a unit, e.g. \"400ms\" or \"5m\"");
      return false;
    }
    auto parsed = parseDuration(node->as_string()->get());
    if (!parsed) {
      diag_.add(*node, where(key) + ": " + parsed.error().detail);
      return false;
    }
    if (positive && parsed->count() == 0) {
      diag_.add(*node, where(key) + " must be longer than 0s");
      return false;
    }
    out = *parsed;
    return true;
  }

  /// A duration in whole seconds, at most `max_seconds`.
  bool readSeconds(std::string_view key, int64_t max_seconds, Seconds& out) const {
    Nanos value{};
    if (!readDuration(key, false, value)) {
      return false;
    }
    const toml::node& node = *find(key);
    if (value.count() % Nanos{Seconds{1}}.count() != 0) {
      diag_.add(node, where(key) + " must be a whole number of seconds, not " +
                          quote(node.as_string()->get()));
      return false;
    }
    const auto seconds = std::chrono::duration_cast<Seconds>(value);
    if (seconds.count() > max_seconds) {
      diag_.add(node, where(key) + " must be at most " + formatDuration(Seconds{max_seconds}));
      return false;
    }
    out = seconds;
    return true;
  }

  bool readSize(std::string_view key, uint64_t min, uint64_t& out) const {
    const toml::node* node = find(key);
    if (node == nullptr) {
      return false;
    }
    if (!node->is_string()) {
      typeError(key, *node, "a size string with a unit, e.g. \"128MiB\"");
      return false;
    }
    auto parsed = parseSize(node->as_string()->get());
    if (!parsed) {
      diag_.add(*node, where(key) + ": " + parsed.error().detail);
      return false;
    }
    if (*parsed < min) {
      diag_.add(*node, where(key) + " must be at least " + formatSize(min));
      return false;
    }
    out = *parsed;
    return true;
  }

  bool readChoice(std::string_view key, std::initializer_list<std::string_view> choices,
                  std::string& out) const {
    std::string value;
    if (!readString(key, value)) {
      return false;
    }
    if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
      diag_.add(*find(key), where(key) + " must be one of " + joinNames(choices) + ", not " +
                                quote(value) + suggestion(value, choices));
      return false;
    }
    out = std::move(value);
    return true;
  }

  /// An array of strings; each element is returned with its node for error positions.
  bool readStringArray(std::string_view key,
                       std::vector<std::pair<std::string, const toml::node*>>& out) const {
    const toml::node* node = find(key);
    if (node == nullptr) {
      return false;
    }
    if (!node->is_array()) {
      typeError(key, *node, "an array of strings");
      return false;
    }
    out.clear();
    bool ok = true;
    for (const toml::node& element : *node->as_array()) {
      if (!element.is_string()) {
        diag_.add(element, "elements of " + where(key) + " must be strings, not " +
                               std::string(typeName(element.type())));
        ok = false;
        continue;
      }
      out.emplace_back(element.as_string()->get(), &element);
    }
    return ok;
  }

 private:
  void rangeError(std::string_view key, const toml::node& node, const std::string& min,
                  const std::string& max, const std::string& value) const {
    diag_.add(node, where(key) + " must be between " + min + " and " + max + ", not " + value);
  }

  Diagnostics& diag_;
  const toml::table& table_;
  std::string label_;
};

// ---- helpers shared by several sections ----

/// The sub-table `key` of `parent`, or nullptr when it is absent or not a table (error).
const toml::table* subTable(Diagnostics& diag, const toml::table& parent, std::string_view key) {
  const toml::node* node = parent.get(key);
  if (node == nullptr) {
    return nullptr;
  }
  if (!node->is_table()) {
    diag.add(*node, quote(key) + " must be a table, written [" + std::string(key) + "], not " +
                        std::string(typeName(node->type())));
    return nullptr;
  }
  return node->as_table();
}

/// The tables of an array of tables ([[tier]]); `header` is "tier" or "report.sink".
std::vector<const toml::table*> tableArray(Diagnostics& diag, const toml::table& parent,
                                           std::string_view key, std::string_view header) {
  std::vector<const toml::table*> out;
  const toml::node* node = parent.get(key);
  if (node == nullptr) {
    return out;
  }
  const std::string written = "[[" + std::string(header) + "]]";
  if (!node->is_array()) {
    diag.add(*node, quote(key) + " must be an array of tables, written " + written + ", not " +
                        std::string(typeName(node->type())));
    return out;
  }
  for (const toml::node& element : *node->as_array()) {
    if (!element.is_table()) {
      diag.add(element, "elements of " + quote(key) + " must be tables, written " + written +
                            ", not " + std::string(typeName(element.type())));
      continue;
    }
    out.push_back(element.as_table());
  }
  return out;
}

/// Socket addresses (listeners); a bare address gets `default_port`.
void readAddresses(const Section& s, std::string_view key, int default_port, bool allow_empty,
                   std::vector<SocketAddress>& out) {
  std::vector<std::pair<std::string, const toml::node*>> items;
  if (!s.readStringArray(key, items)) {
    return;
  }
  std::vector<SocketAddress> parsed;
  for (const auto& [text, node] : items) {
    auto address = SocketAddress::parse(text, default_port);
    if (!address) {
      s.diag().add(*node, "bad address " + quote(text) + " in " + s.where(key) + ": " +
                              address.error().detail);
      continue;
    }
    if (std::find(parsed.begin(), parsed.end(), *address) != parsed.end()) {
      s.diag().add(*node, quote(text) + " is listed twice in " + s.where(key));
      continue;
    }
    parsed.push_back(*address);
  }
  if (!allow_empty && s.find(key)->as_array()->empty()) {
    s.diag().add(*s.find(key), s.where(key) + " needs at least one address");
    return;
  }
  out = std::move(parsed);
}

bool isNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

/// A tier or feed name: used as a metric label and in EDE text, so kept simple.
bool validLabelName(std::string_view name) {
  return !name.empty() && name.size() <= 63 && std::all_of(name.begin(), name.end(), isNameChar);
}

/// A required, well-formed, unique name of a [[tier]] or [[feed]].
std::string readName(const Section& s, std::map<std::string, uint32_t>& seen) {
  std::string name;
  const toml::node* node = s.find("name");
  if (node == nullptr) {
    s.diag().add(s.table(), s.label() + " needs a name");
    return name;
  }
  if (!s.readString("name", name)) {
    return name;
  }
  if (!validLabelName(name)) {
    s.diag().add(*node, s.where("name") + ": " + quote(name) +
                            " must be 1 to 63 letters, digits, '-', '_' or '.'");
    return name;
  }
  const auto [it, inserted] = seen.emplace(name, node->source().begin.line);
  if (!inserted) {
    s.diag().add(*node, "duplicate name " + quote(name) + " in " + s.label() + " (first at line " +
                            std::to_string(it->second) + ")");
  }
  return name;
}

bool isUrl(std::string_view text, std::initializer_list<std::string_view> schemes) {
  for (std::string_view scheme : schemes) {
    if (text.starts_with(scheme) && text.size() > scheme.size()) {
      return true;
    }
  }
  return false;
}

// ---- sections ----

void parseServer(const Section& s, Config& c) {
  s.checkKeys({"listen", "tls_listen", "tls_cert", "tls_key", "workers", "allow",
               "max_tcp_connections", "tcp_idle_timeout", "query_budget", "edns_buffer_size",
               "rate_limit_qps"});
  readAddresses(s, "listen", 53, false, c.listen.listen);
  readAddresses(s, "tls_listen", 853, true, c.listen.tls_listen);
  s.readString("tls_cert", c.listen.tls_cert);
  s.readString("tls_key", c.listen.tls_key);
  if (!c.listen.tls_listen.empty() && (c.listen.tls_cert.empty() || c.listen.tls_key.empty())) {
    s.diag().add(*s.find("tls_listen"), s.where("tls_listen") + " needs tls_cert and tls_key");
  }
  s.readUnsigned("workers", 0, 256, c.listen.workers);
  s.readUnsigned("max_tcp_connections", 1, 1000000, c.listen.max_tcp_connections);
  s.readDuration("tcp_idle_timeout", true, c.listen.tcp_idle_timeout);
  s.readDuration("query_budget", true, c.pipeline.query_budget);
  s.readUnsigned("edns_buffer_size", 512, 4096, c.pipeline.edns_buffer_size);
  s.readUnsigned("rate_limit_qps", 0, std::numeric_limits<uint32_t>::max(),
                 c.pipeline.rate_limit_qps);

  std::vector<std::pair<std::string, const toml::node*>> items;
  if (s.readStringArray("allow", items)) {
    std::vector<Cidr> entries;
    for (const auto& [text, node] : items) {
      auto cidr = Cidr::parse(text);
      if (!cidr) {
        s.diag().add(*node, s.where("allow") + ": " + cidr.error().detail);
        continue;
      }
      entries.push_back(*cidr);
    }
    c.pipeline.allow = Acl(std::move(entries));
  }
}

void parseCache(const Section& s, Config& c) {
  s.checkKeys({"max_memory", "min_ttl", "max_ttl", "negative_max_ttl", "serve_stale",
               "stale_max_age", "stale_answer_ttl", "shards"});
  cache::CacheOptions& o = c.cache;
  s.readSize("max_memory", uint64_t{1} << 20U, o.max_memory);
  s.readSeconds("min_ttl", kMaxTtlSeconds, o.min_ttl);
  const bool max_given = s.readSeconds("max_ttl", kMaxTtlSeconds, o.max_ttl);
  s.readSeconds("negative_max_ttl", kMaxTtlSeconds, o.negative_max_ttl);
  s.readBool("serve_stale", o.serve_stale);
  s.readSeconds("stale_max_age", kMaxTtlSeconds, o.stale_max_age);
  s.readSeconds("stale_answer_ttl", kMaxTtlSeconds, o.stale_answer_ttl);
  size_t shards = o.shards;
  if (s.readUnsigned("shards", 1, 1024, shards)) {
    if ((shards & (shards - 1)) != 0) {
      s.diag().add(*s.find("shards"),
                   s.where("shards") + " must be a power of two, not " + std::to_string(shards));
    } else {
      o.shards = shards;
    }
  }
  if (o.max_ttl < o.min_ttl) {
    const toml::node* node = max_given ? s.find("max_ttl") : s.find("min_ttl");
    s.diag().add(*node, s.where("max_ttl") + " (" + formatDuration(o.max_ttl) +
                            ") is less than 'min_ttl' (" + formatDuration(o.min_ttl) + ")");
  }
}

bool validProbe(std::string_view probe) {
  // "NAME TYPE": an absolute or relative name, then a type mnemonic (NS, A, SOA, TYPE65...).
  const auto space = probe.find(' ');
  if (space == std::string_view::npos || space == 0) {
    return false;
  }
  const std::string_view name = probe.substr(0, space);
  const std::string_view type = probe.substr(space + 1);
  const auto name_ok = std::all_of(name.begin(), name.end(), isNameChar);
  const auto type_ok =
      !type.empty() && type.size() <= 16 && std::all_of(type.begin(), type.end(), [](char ch) {
        return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
      });
  return name_ok && type_ok && name.find("..") == std::string_view::npos;
}

void parseHealth(const Section& s, Config& c) {
  s.checkKeys({"probe", "interval", "timeout", "fall", "rise", "hold_down"});
  failover::HealthConfig& h = c.plan.health;
  std::string probe;
  if (s.readString("probe", probe)) {
    if (!validProbe(probe)) {
      s.diag().add(*s.find("probe"),
                   s.where("probe") + " must be \"NAME TYPE\", e.g. \". NS\", not " + quote(probe));
    } else {
      h.probe = probe;
    }
  }
  s.readDuration("interval", true, h.interval);
  s.readDuration("timeout", true, h.timeout);
  s.readUnsigned("fall", 1, 1000, h.fall);
  s.readUnsigned("rise", 1, 1000, h.rise);
  s.readDuration("hold_down", false, h.hold_down);
}

failover::SelectionPolicyKind policyKind(std::string_view name) {
  if (name == "ordered") {
    return failover::SelectionPolicyKind::Ordered;
  }
  if (name == "round-robin") {
    return failover::SelectionPolicyKind::RoundRobin;
  }
  return failover::SelectionPolicyKind::Fastest;
}

void parseTier(const Section& s, std::map<std::string, uint32_t>& names, bool dev, Config& c) {
  s.checkKeys({"name", "policy", "upstreams", "profile", "transport", "union", "send_client_subnet",
               "ca_file"});
  failover::TierConfig tier;
  tier.name = readName(s, names);
  if (tier.name == "last_resort") {
    // steadfast_active_tier{tier="last_resort"} and /status already use this name.
    s.diag().add(*s.find("name"),
                 "'last_resort' is reserved for the last-resort recursion; choose another name");
  }
  const std::string label = tier.name.empty() ? s.label() : s.label() + " " + quote(tier.name);
  std::string policy;
  if (s.readChoice("policy", {"ordered", "fastest", "round-robin"}, policy)) {
    tier.policy = policyKind(policy);
  }

  const toml::node* upstreams_node = s.find("upstreams");
  const toml::node* profile_node = s.find("profile");
  std::vector<std::pair<std::string, const toml::node*>> items;
  if (s.readStringArray("upstreams", items)) {
    for (const auto& [text, node] : items) {
      auto uri = failover::UpstreamUri::parse(text);
      if (!uri) {
        s.diag().add(*node, uri.error().detail);
        continue;
      }
      const bool duplicate = std::any_of(tier.upstreams.begin(), tier.upstreams.end(),
                                         [&](const auto& u) { return u.text == uri->text; });
      if (duplicate) {
        s.diag().add(*node, quote(text) + " is listed twice in " + label);
        continue;
      }
      tier.upstreams.push_back(std::move(*uri));
    }
    if (items.empty() && !dev) {
      s.diag().add(*upstreams_node, label + " has an empty 'upstreams' list");
    }
  }

  std::string transport = "tls";
  const bool transport_given = s.readChoice("transport", {"tls", "dns"}, transport);
  if (s.readString("profile", tier.profile)) {
    std::vector<failover::UpstreamUri> expanded;
    if (!failover::expandProfile(tier.profile, transport, expanded)) {
      std::string known;
      for (std::string_view n : failover::profileNames()) {
        known += known.empty() ? "" : ", ";
        known += n;
      }
      s.diag().add(*profile_node, "unknown profile " + quote(tier.profile) + " in " + label +
                                      " (known: " + known + ")");
    } else if (upstreams_node == nullptr) {
      tier.upstreams = std::move(expanded);
    }
    tier.transport = transport;
  } else if (transport_given) {
    s.diag().add(*s.find("transport"), s.where("transport") + " only applies with 'profile'");
  }

  s.readBool("union", tier.union_tier);
  s.readBool("send_client_subnet", tier.send_client_subnet);
  // `ca_file`: the CA bundle that verifies this tier's tls:// servers (default: the system
  // store, or SSL_CERT_FILE). Read here so a missing file is a config error, not a failover.
  std::string ca_file;
  if (s.readString("ca_file", ca_file) && !std::ifstream(ca_file).good()) {
    s.diag().add(*s.find("ca_file"), s.where("ca_file") + ": cannot read " + quote(ca_file));
  }
  for (failover::UpstreamUri& u : tier.upstreams) {
    u.send_client_subnet = tier.send_client_subnet;
    u.ca_file = ca_file;
  }

  if (upstreams_node != nullptr && profile_node != nullptr) {
    s.diag().add(*profile_node, label + " has both 'upstreams' and 'profile'; use one");
  } else if (upstreams_node == nullptr && profile_node == nullptr) {
    s.diag().add(s.table(), label + " needs 'upstreams' or 'profile'");
  }
  c.plan.tiers.push_back(std::move(tier));
}

void parseLastResort(const Section& s, Config& c) {
  s.checkKeys({"enabled", "dnssec", "trust_anchor_file", "root_servers"});
  s.readBool("enabled", c.plan.last_resort.enabled);
  s.readBool("dnssec", c.plan.last_resort.dnssec);
  s.readString("trust_anchor_file", c.plan.last_resort.trust_anchor_file);
  readAddresses(s, "root_servers", 53, true, c.plan.last_resort.root_servers);
}

/// The pipeline's copy of [last_resort]: libunbound's caches get 1/16 (messages) and 1/8
/// (RRsets) of [cache] max_memory, split over the workers, so memory stays bounded.
void fillLastResort(Config& c) {
  recursion::RecursionConfig& r = c.pipeline.last_resort;
  const failover::LastResortConfig& lr = c.plan.last_resort;
  r.enabled = lr.enabled;
  r.dnssec = lr.dnssec;
  r.trust_anchor_file = lr.trust_anchor_file;
  r.root_servers.clear();
  for (const SocketAddress& a : lr.root_servers) {
    r.root_servers.push_back(a.toString());
  }
  const uint64_t workers = c.listen.workers == 0 ? 2 : c.listen.workers;
  r.msg_cache_bytes =
      static_cast<size_t>(std::max<uint64_t>(c.cache.max_memory / 16 / workers, 1U << 20U));
  r.rrset_cache_bytes =
      static_cast<size_t>(std::max<uint64_t>(c.cache.max_memory / 8 / workers, 2U << 20U));
}

void parseFailback(const Section& s, Config& c) {
  s.checkKeys({"mode"});
  std::string mode;
  if (s.readChoice("mode", {"auto", "manual"}, mode)) {
    c.plan.failback =
        mode == "auto" ? failover::FailbackMode::Auto : failover::FailbackMode::Manual;
  }
}

void parseCrisis(const Section& s, Config& c) {
  s.checkKeys({"mode", "directive_url", "directive_public_key", "directive_interval"});
  failover::CrisisConfig& crisis = c.plan.crisis;
  std::string mode;
  if (s.readChoice("mode", {"auto", "union-only"}, mode)) {
    crisis.mode = mode == "auto" ? failover::CrisisMode::Auto : failover::CrisisMode::UnionOnly;
  }
  if (s.readString("directive_url", crisis.directive_url) && !crisis.directive_url.empty() &&
      !isUrl(crisis.directive_url, {"file://", "https://"})) {
    s.diag().add(*s.find("directive_url"),
                 s.where("directive_url") + " must start with file:// or https://");
  }
  s.readString("directive_public_key", crisis.directive_public_key);
  s.readDuration("directive_interval", true, crisis.directive_interval);
  if (!crisis.directive_url.empty() && crisis.directive_public_key.empty()) {
    s.diag().add(*s.find("directive_url"),
                 s.where("directive_url") +
                     " needs 'directive_public_key' to check the directive's signature");
  }
}

bool isAddress(int family, const std::string& text) {
  in6_addr buf{};
  return inet_pton(family, text.c_str(), &buf) == 1;
}

const std::initializer_list<std::string_view> kActions = {"nxdomain", "nodata", "sinkhole", "drop"};

void parsePolicy(const Section& s, Config& c) {
  s.checkKeys({"default_action", "sinkhole_ipv4", "sinkhole_ipv6", "allow", "allow_file"});
  PolicyConfig& p = c.policy;
  s.readChoice("default_action", kActions, p.default_action);
  std::string v4;
  if (s.readString("sinkhole_ipv4", v4)) {
    if (!isAddress(AF_INET, v4)) {
      s.diag().add(*s.find("sinkhole_ipv4"),
                   s.where("sinkhole_ipv4") + ": " + quote(v4) + " is not an IPv4 address");
    } else {
      p.sinkhole_ipv4 = v4;
    }
  }
  std::string v6;
  if (s.readString("sinkhole_ipv6", v6)) {
    if (!isAddress(AF_INET6, v6)) {
      s.diag().add(*s.find("sinkhole_ipv6"),
                   s.where("sinkhole_ipv6") + ": " + quote(v6) + " is not an IPv6 address");
    } else {
      p.sinkhole_ipv6 = v6;
    }
  }
  std::vector<std::pair<std::string, const toml::node*>> items;
  if (s.readStringArray("allow", items)) {
    p.allow.clear();
    for (const auto& [name, node] : items) {
      const bool ok = !name.empty() && std::all_of(name.begin(), name.end(), isNameChar) &&
                      name.find("..") == std::string::npos;
      if (!ok) {
        s.diag().add(*node, s.where("allow") + ": " + quote(name) + " is not a domain name");
        continue;
      }
      p.allow.push_back(name);
    }
  }
  s.readString("allow_file", p.allow_file);
}

// "file:///path", "axfr://ADDR[:PORT]/ZONE", "https://host/...".
void checkFeedSource(const Section& s, const FeedConfig& feed) {
  const toml::node& node = *s.find("source");
  const std::string& src = feed.source;
  if (src.starts_with("axfr://")) {
    if (feed.type != "rpz" && !feed.type.empty()) {
      s.diag().add(node, s.where("source") + ": axfr:// serves RPZ zones; type must be 'rpz'");
      return;
    }
    const std::string_view rest = std::string_view(src).substr(7);
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos || slash + 1 == rest.size()) {
      s.diag().add(node, s.where("source") + " must be axfr://ADDR[:PORT]/ZONE, not " + quote(src));
      return;
    }
    auto address = SocketAddress::parse(rest.substr(0, slash), 53);
    if (!address) {
      s.diag().add(node, s.where("source") + ": " + address.error().detail +
                             " (the AXFR server must be an IP address)");
    }
    return;
  }
  if (!isUrl(src, {"file://", "https://"})) {
    s.diag().add(node, s.where("source") + " must start with file://, axfr:// or https://, not " +
                           quote(src));
    return;
  }
  if (src.starts_with("file://")) {
    // A local feed is part of the configuration: one that cannot be read stops the start
    // (and --check-config), unlike a network source, which is retried.
    const std::string path = src.substr(7);
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
      s.diag().add(node, s.where("source") + ": cannot read " + quote(path) + ": " +
                             std::generic_category().message(errno));
      return;
    }
    (void)std::fgetc(f);  // a directory opens but does not read
    const int read_error = std::ferror(f) != 0 ? errno : 0;
    (void)std::fclose(f);
    if (read_error != 0) {
      s.diag().add(node, s.where("source") + ": cannot read " + quote(path) + ": " +
                             std::generic_category().message(read_error));
    }
  }
}

// `ca_file`, `credentials_file`, `max_size` (https:// sources): files read now, so a missing
// or malformed one stops the start instead of failing every fetch.
void checkFeedHttps(const Section& s, FeedConfig& feed) {
  if (s.readString("ca_file", feed.ca_file) && !feed.ca_file.empty() &&
      !std::ifstream(feed.ca_file).good()) {
    s.diag().add(*s.find("ca_file"), s.where("ca_file") + ": cannot read " + quote(feed.ca_file));
  }
  if (s.readString("credentials_file", feed.credentials_file) && !feed.credentials_file.empty()) {
    auto creds = io::loadHttpCredentials(feed.credentials_file);
    if (!creds) {
      s.diag().add(*s.find("credentials_file"),
                   s.where("credentials_file") + ": " + creds.error().detail);
    }
  }
  s.readSize("max_size", 1, feed.max_size);
  const bool https = feed.source.starts_with("https://");
  for (const char* key : {"ca_file", "credentials_file", "max_size"}) {
    if (!https && s.find(key) != nullptr) {
      s.diag().add(*s.find(key), s.where(key) + " applies to https:// sources only");
    }
  }
}

void parseFeed(const Section& s, std::map<std::string, uint32_t>& names, Config& c) {
  s.checkKeys({"name", "type", "source", "tsig_file", "refresh", "action", "max_entries",
               "max_shrink", "ca_file", "credentials_file", "max_size"});
  FeedConfig feed;
  feed.name = readName(s, names);
  const std::string label = feed.name.empty() ? s.label() : s.label() + " " + quote(feed.name);
  if (s.find("type") == nullptr) {
    s.diag().add(s.table(), label + " needs a type (rpz, misp, stix, taxii, domains or hosts)");
  }
  s.readChoice("type", {"rpz", "misp", "stix", "taxii", "domains", "hosts"}, feed.type);
  if (s.find("source") == nullptr) {
    s.diag().add(s.table(), label + " needs a source (file://, axfr:// or https://)");
  } else if (s.readString("source", feed.source)) {
    checkFeedSource(s, feed);
  }
  if (s.readString("tsig_file", feed.tsig_file) && !feed.tsig_file.empty()) {
    auto key = fetch::loadTsigKeyFile(feed.tsig_file);  // its errors name FILE:LINE:COL
    if (!key) {
      s.diag().add(*s.find("tsig_file"), s.where("tsig_file") + ": " + key.error().detail);
    }
  }
  s.readDuration("refresh", true, feed.refresh);
  std::string action;
  if (s.readString("action", action)) {
    if (!action.empty()) {
      s.readChoice("action", kActions, feed.action);
    }
  }
  s.readUnsigned("max_entries", 1, std::numeric_limits<int64_t>::max(), feed.max_entries);
  s.readDouble("max_shrink", 0.0, 1.0, feed.max_shrink);
  checkFeedHttps(s, feed);
  c.feeds.push_back(std::move(feed));
}

void parseSink(const Section& s, Config& c) {
  s.checkKeys({"type", "url", "secret_file", "homeserver", "room", "token_file", "collection"});
  report::SinkConfig sink;
  if (s.find("type") == nullptr) {
    s.diag().add(s.table(), s.label() + " needs a type (webhook, matrix, taxii or misp)");
  }
  s.readChoice("type", {"webhook", "matrix", "taxii", "misp"}, sink.type);
  for (auto* url : {&sink.url, &sink.homeserver}) {
    const std::string_view key = url == &sink.url ? "url" : "homeserver";
    if (s.readString(key, *url) && !isUrl(*url, {"https://", "http://"})) {
      s.diag().add(*s.find(key), s.where(key) + " must start with https:// or http://");
    }
  }
  s.readString("secret_file", sink.secret_file);
  s.readString("room", sink.room);
  s.readString("token_file", sink.token_file);
  s.readString("collection", sink.collection);
  std::vector<std::string_view> required;
  if (sink.type == "webhook" || sink.type == "misp") {
    required = {"url"};
  } else if (sink.type == "taxii") {
    required = {"url", "collection"};
  } else if (sink.type == "matrix") {
    required = {"homeserver", "room", "token_file"};
  }
  for (std::string_view key : required) {
    if (s.find(key) == nullptr) {
      s.diag().add(s.table(), s.label() + " of type " + quote(sink.type) + " needs " + quote(key));
    }
  }
  c.report.sinks.push_back(std::move(sink));
}

void parseReport(const Section& s, Config& c) {
  s.checkKeys({"listen", "api_token_file", "instance", "tlp", "interval", "spool_dir", "spool_max",
               "include_client_addresses", "sink"});
  report::ReportConfig& r = c.report;
  std::string listen;
  if (s.readString("listen", listen)) {
    auto address = SocketAddress::parse(listen, 8053);
    if (!address) {
      s.diag().add(*s.find("listen"), "bad address " + quote(listen) + " in " + s.where("listen") +
                                          ": " + address.error().detail);
    } else {
      r.listen = *address;
    }
  }
  s.readString("api_token_file", r.api_token_file);
  s.readString("instance", r.instance);
  s.readChoice("tlp", {"clear", "green", "amber", "amber+strict", "red"}, r.tlp);
  s.readDuration("interval", true, r.interval);
  s.readString("spool_dir", r.spool_dir);
  s.readSize("spool_max", 0, r.spool_max);
  s.readBool("include_client_addresses", r.include_client_addresses);
  for (const toml::table* t : tableArray(s.diag(), s.table(), "sink", "report.sink")) {
    parseSink(Section(s.diag(), *t, "[[report.sink]]"), c);
  }
}

void parseLog(const Section& s, Config& c) {
  s.checkKeys({"level", "format"});
  s.readChoice("level", {"error", "warn", "info", "debug"}, c.log.level);
  s.readChoice("format", {"text", "json"}, c.log.format);
}

void parseState(const Section& s, Config& c) {
  s.checkKeys({"dir"});
  if (s.readString("dir", c.state.dir) && c.state.dir.empty()) {
    s.diag().add(*s.find("dir"), s.where("dir") + " must not be empty");
  }
}

void setDefaults(Config& c) {
  c.listen.listen = {*SocketAddress::parse("127.0.0.1:53"), *SocketAddress::parse("[::1]:53")};
  c.pipeline.allow = Acl({*Cidr::parse("127.0.0.0/8"), *Cidr::parse("::1/128")});
  c.report.listen = *SocketAddress::parse("127.0.0.1:8053");
}

using SectionParser = void (*)(const Section&, Config&);

}  // namespace

Config parseConfig(std::string_view toml_text, const std::string& file) {
  toml::table root;
  try {
    root = toml::parse(toml_text, file);
  } catch (const toml::parse_error& e) {
    const Position pos = positionOf(e.source());
    // toml++ says "Error while parsing value: ..."; make it "syntax error while parsing value:
    // ...".
    std::string what(e.description());
    constexpr std::string_view kPrefix = "Error while ";
    if (what.starts_with(kPrefix)) {
      what = "syntax error while " + what.substr(kPrefix.size());
    } else {
      what = "syntax error: " + what;
    }
    throw ConfigError(file, pos.line, pos.column, what);
  }

  Config config;
  config.file = file;
  setDefaults(config);
  Diagnostics diag;

  static const std::initializer_list<std::string_view> kTopLevel = {
      "server", "cache",  "health", "tier",   "last_resort", "failback",
      "crisis", "policy", "feed",   "report", "log",         "state"};
  for (auto&& [key, value] : root) {
    if (std::find(kTopLevel.begin(), kTopLevel.end(), key.str()) != kTopLevel.end()) {
      continue;
    }
    std::string what = "unknown top-level key " + quote(key.str());
    if (value.is_table()) {
      what = "unknown table [" + std::string(key.str()) + "]";
    } else if (value.is_array_of_tables()) {
      what = "unknown table [[" + std::string(key.str()) + "]]";
    }
    diag.add(key, what + suggestion(key.str(), kTopLevel));
  }

  const std::pair<std::string_view, SectionParser> sections[] = {
      {"server", parseServer},     {"cache", parseCache},
      {"health", parseHealth},     {"last_resort", parseLastResort},
      {"failback", parseFailback}, {"crisis", parseCrisis},
      {"policy", parsePolicy},     {"report", parseReport},
      {"log", parseLog},           {"state", parseState}};
  for (const auto& [name, parse_section] : sections) {
    if (const toml::table* t = subTable(diag, root, name)) {
      parse_section(Section(diag, *t, "[" + std::string(name) + "]"), config);
    }
  }

  std::map<std::string, uint32_t> tier_names;
  const bool dev = file == kDevFile;
  const toml::node* tiers_node = root.get("tier");
  for (const toml::table* t : tableArray(diag, root, "tier", "tier")) {
    parseTier(Section(diag, *t, "[[tier]]"), tier_names, dev, config);
  }
  if (tiers_node == nullptr) {
    diag.add(Position{}, "at least one [[tier]] is required");
  } else if (tiers_node->is_array() && tiers_node->as_array()->empty()) {
    diag.add(*tiers_node, "at least one [[tier]] is required");
  }

  std::map<std::string, uint32_t> feed_names;
  for (const toml::table* t : tableArray(diag, root, "feed", "feed")) {
    parseFeed(Section(diag, *t, "[[feed]]"), feed_names, config);
  }

  diag.throwIfAny(file);
  fillLastResort(config);
  return config;
}

bool isUnionTier(const failover::TierConfig& tier) {
  return tier.union_tier || !tier.profile.empty();
}

std::vector<std::string> configWarnings(const Config& config) {
  std::vector<std::string> warnings;
  const auto& tiers = config.plan.tiers;
  if (std::none_of(tiers.begin(), tiers.end(), isUnionTier)) {
    warnings.emplace_back(
        "no tier is Union-based (a DNS4EU profile or `union = true`): the EU Cyber Blueprint "
        "(COM(2025)66, point 15) asks for at least one Union-based resolver");
  }
  return warnings;
}

Config loadConfig(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) {
    throw ConfigError(path, 0, 0, "cannot read: " + std::generic_category().message(errno));
  }
  std::string text;
  char buf[16384];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) {
    text.append(buf, n);
    if (text.size() > (size_t{16} << 20U)) {
      throw ConfigError(path, 0, 0, "cannot read: larger than 16MiB, not a config file");
    }
  }
  if (std::ferror(f.get()) != 0) {
    throw ConfigError(path, 0, 0, "cannot read: " + std::generic_category().message(errno));
  }
  return parseConfig(text, path);
}

}  // namespace steadfast::app
