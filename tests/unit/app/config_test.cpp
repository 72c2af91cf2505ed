// SPDX-License-Identifier: Apache-2.0
// The config parser (resolver/app/config.h): the shipped example parses to its documented
// defaults, and every kind of mistake is reported as FILE:LINE:COL of the offending key/value.
#include "resolver/app/config.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "resolver/base/socket_address.h"

namespace steadfast::app {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

const std::filesystem::path kRepoRoot =
    std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().parent_path();

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A config that is valid on its own; tests append to it.
constexpr const char* kMinimal = R"([[tier]]
name = "primary"
upstreams = ["dns://192.0.2.1"]
)";

// The error of parsing `text` as "test.toml"; "" when it parses.
std::string errorOf(const std::string& text) {
  try {
    parseConfig(text, "test.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_CONFIG_ERROR(text, prefix)                                      \
  do {                                                                         \
    const std::string error_ = errorOf(text);                                  \
    EXPECT_EQ(error_.substr(0, std::string(prefix).size()), prefix) << error_; \
  } while (false)

TEST(ConfigTest, ExampleFileParses) {
  const auto path = kRepoRoot / "packaging" / "steadfast.example.toml";
  const Config c = loadConfig(path.string());
  EXPECT_EQ(c.file, path.string());

  ASSERT_EQ(c.listen.listen.size(), 2U);
  EXPECT_EQ(c.listen.listen[0].toString(), "127.0.0.1:53");
  EXPECT_EQ(c.listen.listen[1].toString(), "[::1]:53");
  EXPECT_TRUE(c.listen.tls_listen.empty());
  EXPECT_EQ(c.listen.workers, 0U);
  EXPECT_EQ(c.listen.max_tcp_connections, 4096U);
  EXPECT_EQ(c.listen.tcp_idle_timeout, Seconds{10});
  ASSERT_EQ(c.pipeline.allow.entries().size(), 2U);
  EXPECT_EQ(c.pipeline.allow.entries()[0].toString(), "127.0.0.0/8");
  EXPECT_EQ(c.pipeline.allow.entries()[1].toString(), "::1/128");
  EXPECT_EQ(c.pipeline.query_budget, Millis{1500});
  EXPECT_EQ(c.pipeline.edns_buffer_size, 1232);
  EXPECT_EQ(c.pipeline.rate_limit_qps, 0U);

  EXPECT_EQ(c.cache.max_memory, uint64_t{128} << 20U);
  EXPECT_EQ(c.cache.min_ttl, Seconds{0});
  EXPECT_EQ(c.cache.max_ttl, Seconds{86400});
  EXPECT_EQ(c.cache.negative_max_ttl, Seconds{3600});
  EXPECT_TRUE(c.cache.serve_stale);
  EXPECT_EQ(c.cache.stale_max_age, Seconds{86400});
  EXPECT_EQ(c.cache.stale_answer_ttl, Seconds{30});

  EXPECT_EQ(c.plan.health.probe, ". NS");
  EXPECT_EQ(c.plan.health.interval, Seconds{1});
  EXPECT_EQ(c.plan.health.timeout, Millis{400});
  EXPECT_EQ(c.plan.health.fall, 3U);
  EXPECT_EQ(c.plan.health.rise, 3U);
  EXPECT_EQ(c.plan.health.hold_down, Seconds{30});

  ASSERT_EQ(c.plan.tiers.size(), 2U);
  const auto& primary = c.plan.tiers[0];
  EXPECT_EQ(primary.name, "primary");
  EXPECT_EQ(primary.policy, failover::SelectionPolicyKind::Fastest);
  ASSERT_EQ(primary.upstreams.size(), 2U);
  EXPECT_EQ(primary.upstreams[0].text, "dns://192.0.2.1:53");
  EXPECT_EQ(primary.upstreams[1].text, "tls://192.0.2.2:853#resolver.example.net");
  EXPECT_TRUE(primary.profile.empty());
  const auto& union_tier = c.plan.tiers[1];
  EXPECT_EQ(union_tier.name, "union");
  EXPECT_EQ(union_tier.profile, "dns4eu-protective");
  EXPECT_EQ(union_tier.transport, "tls");
  ASSERT_EQ(union_tier.upstreams.size(), 4U);
  EXPECT_EQ(union_tier.upstreams[0].text, "tls://86.54.11.1:853#protective.joindns4.eu");
  EXPECT_FALSE(primary.union_tier);
  EXPECT_FALSE(isUnionTier(primary));
  EXPECT_FALSE(union_tier.union_tier);  // not written: the profile makes it Union-based
  EXPECT_TRUE(isUnionTier(union_tier));
  EXPECT_TRUE(configWarnings(c).empty());
  EXPECT_FALSE(primary.send_client_subnet);  // ECS is removed unless a tier asks
  EXPECT_FALSE(union_tier.upstreams[0].send_client_subnet);

  EXPECT_TRUE(c.plan.last_resort.enabled);
  EXPECT_TRUE(c.plan.last_resort.dnssec);
  EXPECT_TRUE(c.plan.last_resort.root_servers.empty());
  EXPECT_EQ(c.plan.failback, failover::FailbackMode::Auto);
  EXPECT_EQ(c.plan.crisis.mode, failover::CrisisMode::Auto);
  EXPECT_EQ(c.plan.crisis.directive_interval, minutes{1});

  EXPECT_EQ(c.policy.default_action, "nxdomain");
  EXPECT_EQ(c.policy.sinkhole_ipv4, "0.0.0.0");
  EXPECT_EQ(c.policy.sinkhole_ipv6, "::");

  ASSERT_EQ(c.feeds.size(), 1U);
  EXPECT_EQ(c.feeds[0].name, "hub-rpz");
  EXPECT_EQ(c.feeds[0].type, "rpz");
  EXPECT_EQ(c.feeds[0].source, "axfr://192.0.2.10:53/rpz.hub.example");
  EXPECT_EQ(c.feeds[0].refresh, minutes{5});
  EXPECT_EQ(c.feeds[0].max_entries, 5000000U);
  EXPECT_DOUBLE_EQ(c.feeds[0].max_shrink, 0.5);

  EXPECT_EQ(c.report.listen.toString(), "127.0.0.1:8053");
  EXPECT_EQ(c.report.tlp, "amber");
  EXPECT_EQ(c.report.interval, minutes{5});
  EXPECT_EQ(c.report.spool_max, uint64_t{64} << 20U);
  ASSERT_EQ(c.report.sinks.size(), 2U);
  EXPECT_EQ(c.report.sinks[0].type, "webhook");
  EXPECT_EQ(c.report.sinks[1].type, "matrix");
  EXPECT_EQ(c.report.sinks[1].room, "!room:example");

  EXPECT_EQ(c.log.level, "info");
  EXPECT_EQ(c.log.format, "text");
  EXPECT_EQ(c.state.dir, "/var/lib/steadfast");
}

TEST(ConfigTest, MinimalGetsDefaults) {
  const Config c = parseConfig(kMinimal, "min.toml");
  EXPECT_EQ(c.file, "min.toml");
  ASSERT_EQ(c.listen.listen.size(), 2U);
  EXPECT_EQ(c.listen.listen[0].toString(), "127.0.0.1:53");
  EXPECT_EQ(c.listen.listen[1].toString(), "[::1]:53");
  ASSERT_EQ(c.pipeline.allow.entries().size(), 2U);
  EXPECT_EQ(c.pipeline.allow.entries()[1].toString(), "::1/128");
  EXPECT_EQ(c.report.listen.toString(), "127.0.0.1:8053");
  EXPECT_EQ(c.cache.max_memory, uint64_t{128} << 20U);
  EXPECT_EQ(c.plan.tiers.size(), 1U);
  EXPECT_EQ(c.plan.tiers[0].policy, failover::SelectionPolicyKind::Fastest);
  EXPECT_TRUE(c.feeds.empty());
  EXPECT_TRUE(c.report.sinks.empty());
}

TEST(ConfigTest, ValuesAreRead) {
  const Config c = parseConfig(std::string(kMinimal) + R"(
[server]
listen = ["0.0.0.0:5353", "::"]
workers = 4
allow = ["10.0.0.0/8", "192.0.2.7"]
query_budget = "2s"
edns_buffer_size = 1400

[cache]
max_memory = "1GiB"
max_ttl = "6h"
shards = 16

[[tier]]
name = "union"
profile = "dns4eu-unfiltered"
transport = "dns"
policy = "round-robin"

[failback]
mode = "manual"

[crisis]
mode = "union-only"

[report]
listen = "[::1]"

[log]
level = "debug"
format = "json"
)",
                               "t.toml");
  EXPECT_EQ(c.listen.listen[0].toString(), "0.0.0.0:5353");
  EXPECT_EQ(c.listen.listen[1].toString(), "[::]:53");
  EXPECT_EQ(c.listen.workers, 4U);
  EXPECT_EQ(c.pipeline.allow.entries()[1].toString(), "192.0.2.7/32");
  EXPECT_EQ(c.pipeline.query_budget, Seconds{2});
  EXPECT_EQ(c.pipeline.edns_buffer_size, 1400);
  EXPECT_EQ(c.cache.max_memory, uint64_t{1} << 30U);
  EXPECT_EQ(c.cache.max_ttl, hours{6});
  EXPECT_EQ(c.cache.shards, 16U);
  ASSERT_EQ(c.plan.tiers.size(), 2U);
  EXPECT_EQ(c.plan.tiers[1].policy, failover::SelectionPolicyKind::RoundRobin);
  EXPECT_EQ(c.plan.tiers[1].transport, "dns");
  EXPECT_EQ(c.plan.tiers[1].upstreams[0].text, "dns://86.54.11.100:53");
  EXPECT_EQ(c.plan.failback, failover::FailbackMode::Manual);
  EXPECT_EQ(c.plan.crisis.mode, failover::CrisisMode::UnionOnly);
  EXPECT_EQ(c.report.listen.toString(), "[::1]:8053");
  EXPECT_EQ(c.log.level, "debug");
  EXPECT_EQ(c.log.format, "json");
}

TEST(ConfigTest, EmptyAllowMeansNobody) {
  const Config c = parseConfig(std::string("[server]\nallow = []\n") + kMinimal, "t.toml");
  EXPECT_TRUE(c.pipeline.allow.entries().empty());
}

TEST(ConfigTest, DevConfigMayLeaveTierEmpty) {
  const std::string text = R"([[tier]]
name = "primary"
upstreams = []
)";
  EXPECT_NO_THROW(parseConfig(text, "<dev>"));
  EXPECT_CONFIG_ERROR(text, "test.toml:3:13: [[tier]] 'primary' has an empty 'upstreams' list");
}

TEST(ConfigTest, DevTomlParses) {
  const Config c = parseConfig(readFile(kRepoRoot / "packaging" / "dev.toml"), "<dev>");
  EXPECT_FALSE(c.plan.tiers.empty());
}

TEST(ConfigTest, UnionKeyIsRead) {
  EXPECT_FALSE(parseConfig(kMinimal, "t.toml").plan.tiers[0].union_tier);  // default
  const Config yes = parseConfig(std::string(kMinimal) + "union = true\n", "t.toml");
  EXPECT_TRUE(yes.plan.tiers[0].union_tier);
  EXPECT_TRUE(isUnionTier(yes.plan.tiers[0]));
  const Config no = parseConfig(std::string(kMinimal) + "union = false\n", "t.toml");
  EXPECT_FALSE(no.plan.tiers[0].union_tier);
  EXPECT_FALSE(isUnionTier(no.plan.tiers[0]));
}

TEST(ConfigTest, UnionTierByProfileOrFlag) {
  failover::TierConfig tier;
  tier.name = "t";
  EXPECT_FALSE(isUnionTier(tier));
  tier.union_tier = true;
  EXPECT_TRUE(isUnionTier(tier));
  tier.union_tier = false;
  tier.profile = "dns4eu-unfiltered";
  EXPECT_TRUE(isUnionTier(tier));

  // Every built-in profile is DNS4EU, so a profile tier is Union-based whatever `union` says.
  const Config c = parseConfig(std::string(kMinimal) + R"(
[[tier]]
name = "eu"
profile = "dns4eu-protective-child"
union = false
)",
                               "t.toml");
  ASSERT_EQ(c.plan.tiers.size(), 2U);
  EXPECT_FALSE(isUnionTier(c.plan.tiers[0]));
  EXPECT_TRUE(isUnionTier(c.plan.tiers[1]));
}

constexpr const char* kNoUnionWarning =
    "no tier is Union-based (a DNS4EU profile or `union = true`): the EU Cyber Blueprint "
    "(COM(2025)66, point 15) asks for at least one Union-based resolver";

TEST(ConfigTest, WarningWhenNoTierIsUnionBased) {
  const Config plain = parseConfig(std::string(kMinimal) + R"(
[[tier]]
name = "backup"
upstreams = ["dns://192.0.2.53"]
)",
                                   "t.toml");
  const std::vector<std::string> warnings = configWarnings(plain);
  ASSERT_EQ(warnings.size(), 1U);
  EXPECT_EQ(warnings[0], kNoUnionWarning);

  const Config flagged = parseConfig(std::string(kMinimal) + R"(
[[tier]]
name = "eu-resolver"
upstreams = ["dns://192.0.2.53"]
union = true
)",
                                     "t.toml");
  EXPECT_TRUE(configWarnings(flagged).empty());

  const Config profile = parseConfig(std::string(kMinimal) + R"(
[[tier]]
name = "union"
profile = "dns4eu-protective"
)",
                                     "t.toml");
  EXPECT_TRUE(configWarnings(profile).empty());
}

// ---- errors: FILE:LINE:COL of the offending key or value ----

TEST(ConfigErrorTest, SyntaxError) {
  EXPECT_CONFIG_ERROR("[server]\nworkers = = 1\n",
                      "test.toml:2:11: syntax error while parsing value: ");
  EXPECT_CONFIG_ERROR("[server\n", "test.toml:1:");
}

TEST(ConfigErrorTest, UnknownKey) {
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[server]\nworkers = 2\n  listne = []\n",
                      "test.toml:6:3: unknown key 'listne' in [server] (did you mean 'listen'?)");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "color = 1\n",
                      "test.toml:4:1: unknown key 'color' in [[tier]]");
}

TEST(ConfigErrorTest, UnknownTable) {
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[serve]\nworkers = 2\n",
                      "test.toml:4:2: unknown table [serve] (did you mean 'server'?)");
  EXPECT_CONFIG_ERROR("zone = 1\n" + std::string(kMinimal),
                      "test.toml:1:1: unknown top-level key 'zone'");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[report.sinks]\nurl = \"x\"\n",
                      "test.toml:4:9: unknown key 'sinks' in [report] (did you mean 'sink'?)");
}

TEST(ConfigErrorTest, WrongType) {
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[server]\nworkers = \"4\"\n",
                      "test.toml:5:11: 'workers' in [server] must be an integer, not a string");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[cache]\nserve_stale = \"yes\"\n",
                      "test.toml:5:15: 'serve_stale' in [cache] must be true or false");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[server]\nlisten = \"127.0.0.1:53\"\n",
                      "test.toml:5:10: 'listen' in [server] must be an array of strings");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[server]\nlisten = [\"127.0.0.1:53\", 53]\n",
                      "test.toml:5:27: elements of 'listen' in [server] must be strings");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[health]\ninterval = 5\n",
                      "test.toml:5:12: 'interval' in [health] must be a duration string");
  EXPECT_CONFIG_ERROR("server = 1\n" + std::string(kMinimal),
                      "test.toml:1:10: 'server' must be a table, written [server]");
  EXPECT_CONFIG_ERROR("[tier]\nname = \"x\"\n",
                      "test.toml:1:1: 'tier' must be an array of tables, written [[tier]]");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "union = \"yes\"\n"),
            "test.toml:4:9: 'union' in [[tier]] must be true or false, not a string");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "union = 1\n"),
            "test.toml:4:9: 'union' in [[tier]] must be true or false, not an integer");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "unoin = true\n",
                      "test.toml:4:1: unknown key 'unoin' in [[tier]] (did you mean 'union'?)");
}

TEST(ConfigErrorTest, BadDurationAndSize) {
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[health]\ntimeout = \"400xs\"\n",
                      "test.toml:5:11: 'timeout' in [health]: unknown unit 'xs' in duration "
                      "'400xs'");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[server]\nquery_budget = \"0s\"\n",
                      "test.toml:5:16: 'query_budget' in [server] must be longer than 0s");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[cache]\nmax_memory = \"128MB!\"\n",
                      "test.toml:5:14: 'max_memory' in [cache]: unknown unit 'MB!'");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[cache]\nmax_memory = \"1KiB\"\n",
                      "test.toml:5:14: 'max_memory' in [cache] must be at least 1MiB");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[cache]\nmin_ttl = \"1500ms\"\n",
                      "test.toml:5:11: 'min_ttl' in [cache] must be a whole number of seconds");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[cache]\nmin_ttl = \"2h\"\nmax_ttl = \"1h\"\n",
                      "test.toml:6:11: 'max_ttl' in [cache] (1h) is less than 'min_ttl' (2h)");
}

TEST(ConfigErrorTest, OutOfRange) {
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[server]\nedns_buffer_size = 511\n",
                      "test.toml:5:20: 'edns_buffer_size' in [server] must be between 512 and "
                      "4096, not 511");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[server]\nworkers = 257\n",
                      "test.toml:5:11: 'workers' in [server] must be between 0 and 256, not 257");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[server]\nworkers = -1\n",
                      "test.toml:5:11: 'workers' in [server] must be between 0 and 256, not -1");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[health]\nfall = 0\n",
                      "test.toml:5:8: 'fall' in [health] must be between 1 and 1000, not 0");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[cache]\nshards = 12\n",
                      "test.toml:5:10: 'shards' in [cache] must be a power of two, not 12");
  EXPECT_CONFIG_ERROR(
      std::string(kMinimal) +
          "[[feed]]\nname = \"f\"\ntype = \"domains\"\nsource = \"file:///dev/null\"\n"
          "max_shrink = 1.5\n",
      "test.toml:8:14: 'max_shrink' in [[feed]] must be between 0 and 1, not 1.5");
  EXPECT_CONFIG_ERROR(
      std::string(kMinimal) +
          "[[feed]]\nname = \"f\"\ntype = \"domains\"\nsource = \"file:///dev/null\"\n"
          "max_size = \"1MiB\"\n",
      "test.toml:8:12: 'max_size' in [[feed]] applies to https:// sources only");
  EXPECT_CONFIG_ERROR(
      std::string(kMinimal) +
          "[[feed]]\nname = \"f\"\ntype = \"domains\"\nsource = \"https://192.0.2.1/l\"\n"
          "ca_file = \"/nonexistent/ca.pem\"\n",
      "test.toml:8:11: 'ca_file' in [[feed]]: cannot read '/nonexistent/ca.pem'");
}

TEST(ConfigTest, HttpsFeedKeys) {
  const Config c = parseConfig(
      std::string(kMinimal) +
          "[[feed]]\nname = \"f\"\ntype = \"domains\"\nsource = \"https://192.0.2.1/l\"\n"
          "ca_file = \"/dev/null\"\nmax_size = \"2MiB\"\n",
      "test.toml");
  ASSERT_EQ(c.feeds.size(), 1U);
  EXPECT_EQ(c.feeds[0].ca_file, "/dev/null");
  EXPECT_EQ(c.feeds[0].max_size, uint64_t{2} << 20U);
  EXPECT_EQ(c.feeds[0].credentials_file, "");
  const Config d = parseConfig(std::string(kMinimal) +
                                   "[[feed]]\nname = \"f\"\ntype = \"domains\"\n"
                                   "source = \"https://192.0.2.1/l\"\n",
                               "test.toml");
  EXPECT_EQ(d.feeds[0].max_size, uint64_t{64} << 20U);
}

TEST(ConfigErrorTest, BadAddresses) {
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[server]\nlisten = [\"127.0.0.1:99999\"]\n",
                      "test.toml:5:11: bad address '127.0.0.1:99999' in 'listen' in [server]: "
                      "bad port");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[server]\nlisten = [\"[::1:53\"]\n",
                      "test.toml:5:11: bad address '[::1:53' in 'listen' in [server]: missing ']'");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[server]\nlisten = []\n",
                      "test.toml:5:10: 'listen' in [server] needs at least one address");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[server]\nallow = [\"::1/128\", \"10.0.0.1/8\"]\n",
                      "test.toml:5:21: 'allow' in [server]: '10.0.0.1/8' has host bits set");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[report]\nlisten = \"localhost:8053\"\n",
                      "test.toml:5:10: bad address 'localhost:8053' in 'listen' in [report]");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[policy]\nsinkhole_ipv4 = \"::\"\n",
                      "test.toml:5:17: 'sinkhole_ipv4' in [policy]: '::' is not an IPv4 address");
}

TEST(ConfigErrorTest, BadUpstreams) {
  EXPECT_CONFIG_ERROR(
      "[[tier]]\nname = \"p\"\nupstreams = [\"dns://192.0.2.1\", "
      "\"dns://ns.example.net\"]\n",
      "test.toml:3:33: bad upstream 'dns://ns.example.net': an upstream must be "
      "an IP address, not a host name, so that steadfast never depends on DNS to "
      "reach DNS");
  EXPECT_CONFIG_ERROR("[[tier]]\nname = \"p\"\nupstreams = [\"tls://192.0.2.1\"]\n",
                      "test.toml:3:14: bad upstream 'tls://192.0.2.1': tls:// needs the server's "
                      "certificate name after '#'");
  EXPECT_CONFIG_ERROR(
      "[[tier]]\nname = \"p\"\nupstreams = [\"dns://192.0.2.1\", "
      "\"dns://192.0.2.1:53\"]\n",
      "test.toml:3:33: 'dns://192.0.2.1:53' is listed twice in [[tier]] 'p'");
}

TEST(ConfigErrorTest, Tiers) {
  EXPECT_CONFIG_ERROR("", "test.toml: at least one [[tier]] is required");
  EXPECT_CONFIG_ERROR("tier = []\n", "test.toml:1:8: at least one [[tier]] is required");
  EXPECT_CONFIG_ERROR("[[tier]]\nname = \"p\"\n",
                      "test.toml:1:1: [[tier]] 'p' needs 'upstreams' or 'profile'");
  EXPECT_CONFIG_ERROR("[[tier]]\nupstreams = [\"dns://192.0.2.1\"]\n",
                      "test.toml:1:1: [[tier]] needs a name");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) +
                          "\n[[tier]]\nname = \"primary\"\n"
                          "profile = \"dns4eu-protective\"\n",
                      "test.toml:6:8: duplicate name 'primary' in [[tier]] (first at line 2)");
  EXPECT_CONFIG_ERROR(
      "[[tier]]\nname = \"u\"\nupstreams = [\"dns://192.0.2.1\"]\n"
      "profile = \"dns4eu-protective\"\n",
      "test.toml:4:11: [[tier]] 'u' has both 'upstreams' and 'profile'; use one");
  EXPECT_CONFIG_ERROR("[[tier]]\nname = \"u\"\nprofile = \"dns4eu\"\n",
                      "test.toml:3:11: unknown profile 'dns4eu' in [[tier]] 'u' (known: "
                      "dns4eu-protective, ");
  EXPECT_CONFIG_ERROR(
      "[[tier]]\nname = \"u\"\nprofile = \"dns4eu-protective\"\n"
      "transport = \"doh\"\n",
      "test.toml:4:13: 'transport' in [[tier]] must be one of tls, dns, not 'doh'");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "transport = \"dns\"\n",
                      "test.toml:4:13: 'transport' in [[tier]] only applies with 'profile'");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "policy = \"fastst\"\n",
                      "test.toml:4:10: 'policy' in [[tier]] must be one of ordered, fastest, "
                      "round-robin, not 'fastst' (did you mean 'fastest'?)");
  EXPECT_CONFIG_ERROR("[[tier]]\nname = \"last_resort\"\nupstreams = [\"dns://192.0.2.1\"]\n",
                      "test.toml:2:8: 'last_resort' is reserved");
}

TEST(ConfigErrorTest, Enums) {
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[log]\nlevel = \"verbose\"\n",
                      "test.toml:5:9: 'level' in [log] must be one of error, warn, info, debug, "
                      "not 'verbose'");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[log]\nformat = \"xml\"\n",
                      "test.toml:5:10: 'format' in [log] must be one of text, json, not 'xml'");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[report]\ntlp = \"white\"\n",
                      "test.toml:5:7: 'tlp' in [report] must be one of clear, green, amber, "
                      "amber+strict, red, not 'white'");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[policy]\ndefault_action = \"refuse\"\n",
                      "test.toml:5:18: 'default_action' in [policy] must be one of nxdomain, "
                      "nodata, sinkhole, drop, not 'refuse'");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[failback]\nmode = \"never\"\n",
                      "test.toml:5:8: 'mode' in [failback] must be one of auto, manual");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[crisis]\nmode = \"union\"\n",
                      "test.toml:5:8: 'mode' in [crisis] must be one of auto, union-only");
}

TEST(ConfigErrorTest, Feeds) {
  const std::string feed =
      "[[feed]]\nname = \"hub\"\ntype = \"rpz\"\nsource = \"file:///dev/null\"\n";
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + feed + feed,
                      "test.toml:9:8: duplicate name 'hub' in [[feed]] (first at line 5)");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) +
                          "[[feed]]\nname = \"x\"\ntype = \"csv\"\n"
                          "source = \"file:///dev/null\"\n",
                      "test.toml:6:8: 'type' in [[feed]] must be one of rpz, misp, stix, taxii, "
                      "domains, hosts, not 'csv'");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) +
                          "[[feed]]\nname = \"x\"\ntype = \"rpz\"\n"
                          "source = \"ftp://x\"\n",
                      "test.toml:7:10: 'source' in [[feed]] must start with file://, axfr:// or "
                      "https://");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[[feed]]\nname = \"x\"\ntype = \"rpz\"\n",
                      "test.toml:4:1: [[feed]] 'x' needs a source");
  // A file:// source is part of the configuration: unreadable is an error at its position.
  EXPECT_CONFIG_ERROR(std::string(kMinimal) +
                          "[[feed]]\nname = \"x\"\ntype = \"domains\"\n"
                          "source = \"file:///nonexistent/steadfast-feed.txt\"\n",
                      "test.toml:7:10: 'source' in [[feed]]: cannot read "
                      "'/nonexistent/steadfast-feed.txt': No such file or directory");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) +
                          "[[feed]]\nname = \"x\"\ntype = \"domains\"\n"
                          "source = \"file:///tmp\"\n",
                      "test.toml:7:10: 'source' in [[feed]]: cannot read '/tmp': Is a "
                      "directory");
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + feed + "action = \"block\"\n",
                      "test.toml:8:10: 'action' in [[feed]] must be one of nxdomain, nodata");
}

TEST(ConfigErrorTest, TlsListenNeedsCertificate) {
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[server]\ntls_listen = [\"0.0.0.0:853\"]\n",
                      "test.toml:5:14: 'tls_listen' in [server] needs tls_cert and tls_key");
}

TEST(ConfigErrorTest, SinkNeedsItsFields) {
  EXPECT_CONFIG_ERROR(std::string(kMinimal) +
                          "[[report.sink]]\ntype = \"matrix\"\n"
                          "homeserver = \"https://m.example\"\n",
                      "test.toml:4:1: [[report.sink]] of type 'matrix' needs 'room'");
}

TEST(ConfigErrorTest, AllErrorsAreListedInOrder) {
  const std::string error =
      errorOf(std::string(kMinimal) + "[server]\nworkers = 1000\nedns_buffer_size = 1\n");
  EXPECT_EQ(error,
            "test.toml:5:11: 'workers' in [server] must be between 0 and 256, not 1000\n"
            "test.toml:6:20: 'edns_buffer_size' in [server] must be between 512 and 4096, not 1");
}

TEST(ConfigErrorTest, ErrorCarriesPosition) {
  try {
    parseConfig(std::string(kMinimal) + "[log]\nlevel = 1\n", "p.toml");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.file(), "p.toml");
    EXPECT_EQ(e.line(), 5U);
    EXPECT_EQ(e.column(), 9U);
  }
}

TEST(LoadConfigTest, MissingFile) {
  try {
    loadConfig("/nonexistent/steadfast.toml");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/steadfast.toml: cannot read: No such file or directory");
    EXPECT_EQ(e.line(), 0U);
  }
}

TEST(LoadConfigTest, Directory) {
  EXPECT_THROW(loadConfig("/"), ConfigError);
}

TEST(DescribeConfigTest, ExampleFile) {
  const Config c = loadConfig((kRepoRoot / "packaging" / "steadfast.example.toml").string());
  const std::string text = describeConfig(c);
  for (const char* expected : {
           "127.0.0.1:53, [::1]:53",
           "allowed: 127.0.0.0/8, ::1/128",
           "query budget: 1500ms",
           "max memory: 128MiB",
           "1. tier 'primary', policy fastest\n"
           "       dns://192.0.2.1:53\n"
           "       tls://192.0.2.2:853#resolver.example.net (verified against the system CA "
           "store)\n",
           "2. tier 'union', policy fastest, profile dns4eu-protective (tls), union-based\n"
           "       tls://86.54.11.1:853#protective.joindns4.eu (verified against the system CA "
           "store)\n",
           "3. last resort: recursion from the root hints, DNSSEC on, trust anchor built-in root "
           "key\n  health:",
           "health: probe '. NS' every 1s, timeout 400ms, down after 3 failures, up after 3 "
           "successes; passive signals from live traffic also count\n",
           "failback: auto, once a higher tier has been usable for 30s without a break",
           "crisis mode at start: auto",
           "feed 'hub-rpz': rpz from axfr://192.0.2.10:53/rpz.hub.example",
           "not active yet in this version",
           "HTTP: 127.0.0.1:8053",
       }) {
    EXPECT_NE(text.find(expected), std::string::npos) << "missing: " << expected << "\n" << text;
  }
  // [health], policies and [failback] are active now.
  EXPECT_EQ(text.find("not active yet: upstreams are tried in order"), std::string::npos) << text;
  EXPECT_EQ(text.find("warning: "), std::string::npos) << text;
}

TEST(DescribeConfigTest, PoliciesAndUnionFlag) {
  const Config c = parseConfig(std::string(kMinimal) + R"(policy = "round-robin"

[[tier]]
name = "eu"
upstreams = ["dns://192.0.2.53"]
policy = "ordered"
union = true
)",
                               "t.toml");
  const std::string text = describeConfig(c);
  EXPECT_NE(text.find("1. tier 'primary', policy round-robin\n"), std::string::npos) << text;
  EXPECT_NE(text.find("2. tier 'eu', policy ordered, union-based\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("not active yet: upstreams are tried in order"), std::string::npos) << text;
  EXPECT_EQ(text.find("warning: "), std::string::npos) << text;
}

TEST(DescribeConfigTest, WarnsWhenNoTierIsUnionBased) {
  const std::string text = describeConfig(parseConfig(kMinimal, "t.toml"));
  const std::string warning = std::string("\nwarning: ") + kNoUnionWarning + "\n";
  const size_t at = text.find(warning);
  ASSERT_NE(at, std::string::npos) << text;
  EXPECT_EQ(text.find("union-based\n"), std::string::npos) << text;
  // At the end of the failover plan, before the next section.
  EXPECT_LT(text.find("crisis mode at start:"), at) << text;
  EXPECT_GT(text.find("Blocking policy and feeds"), at) << text;
}

TEST(Config, LastResortRootServers) {
  const Config c = parseConfig(
      std::string(kMinimal) + "[last_resort]\nroot_servers = [\"127.0.0.1:5399\", \"::1\"]\n",
      "t.toml");
  ASSERT_EQ(c.plan.last_resort.root_servers.size(), 2U);
  EXPECT_EQ(c.plan.last_resort.root_servers[0].toString(), "127.0.0.1:5399");
  EXPECT_EQ(c.plan.last_resort.root_servers[1].port(), 53);
  EXPECT_CONFIG_ERROR(std::string(kMinimal) + "[last_resort]\nroot_servers = [\"no\"]\n",
                      "test.toml:");
}

}  // namespace
TEST(Config, SendClientSubnetIsPerTierAndCarriedByEachUpstream) {
  const Config c = parseConfig(R"(
[[tier]]
name = "primary"
upstreams = ["dns://127.0.0.1:5301", "dns://127.0.0.1:5302"]
send_client_subnet = true
[[tier]]
name = "union"
upstreams = ["dns://127.0.0.1:5303"]
union = true
)",
                               "t.toml");
  ASSERT_EQ(c.plan.tiers.size(), 2U);
  EXPECT_TRUE(c.plan.tiers[0].send_client_subnet);
  EXPECT_TRUE(c.plan.tiers[0].upstreams[0].send_client_subnet);
  EXPECT_TRUE(c.plan.tiers[0].upstreams[1].send_client_subnet);
  EXPECT_FALSE(c.plan.tiers[1].upstreams[0].send_client_subnet);
  EXPECT_NE(describeConfig(c).find("sends EDNS Client Subnet"), std::string::npos);
  EXPECT_THROW(parseConfig("[[tier]]\nname = \"p\"\nupstreams = [\"dns://127.0.0.1\"]\n"
                           "send_client_subnet = \"yes\"\n",
                           "t.toml"),
               ConfigError);
}

}  // namespace steadfast::app
