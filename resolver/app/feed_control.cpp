// SPDX-License-Identifier: Apache-2.0
#include "resolver/app/feed_control.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "resolver/base/log.h"
#include "threatfeed/core/block_index.h"
#include "threatfeed/core/lists.h"
#include "threatfeed/core/names.h"
#include "threatfeed/core/rpz.h"
#include "threatfeed/fetch/store.h"

namespace steadfast::app {
namespace {

// The host of "scheme://host[:port]/..." (no port, no brackets), lower case; "" if none.
std::string urlHost(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) {
    return {};
  }
  std::string rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const auto at = rest.rfind('@'); at != std::string::npos) {
    rest = rest.substr(at + 1);
  }
  if (!rest.empty() && rest[0] == '[') {
    return {};  // an IPv6 literal: no name to protect
  }
  rest = rest.substr(0, rest.find(':'));
  std::transform(rest.begin(), rest.end(), rest.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  while (!rest.empty() && rest.back() == '.') {
    rest.pop_back();
  }
  in6_addr buf{};
  if (rest.empty() || inet_pton(AF_INET, rest.c_str(), &buf) == 1) {
    return {};
  }
  return rest;
}

threatfeed::FeedEntries parseFeed(const FeedConfig& cfg, const std::string& bytes) {
  if (cfg.type == "rpz") {
    return threatfeed::parseRpzZone(bytes).entries;
  }
  if (cfg.type == "domains") {
    return threatfeed::parseDomainList(bytes);
  }
  if (cfg.type == "hosts") {
    return threatfeed::parseHostsFile(bytes);
  }
  return {};  // misp, stix, taxii: issue 6
}

std::array<uint8_t, 4> ipv4(const std::string& text) {
  std::array<uint8_t, 4> out{};
  (void)inet_pton(AF_INET, text.c_str(), out.data());
  return out;
}

std::array<uint8_t, 16> ipv6(const std::string& text) {
  std::array<uint8_t, 16> out{};
  (void)inet_pton(AF_INET6, text.c_str(), out.data());
  return out;
}

}  // namespace

// --- FeedSchedule ------------------------------------------------------------------------

void FeedSchedule::reset(const std::vector<Nanos>& periods, MonoTime now) {
  periods_ = periods;
  due_.assign(periods.size(), now);
  for (size_t i = 0; i < periods.size(); ++i) {
    due_[i] = now + periods[i];
  }
}

void FeedSchedule::done(size_t i, MonoTime now) {
  if (i < due_.size()) {
    due_[i] = now + periods_[i];
  }
}

void FeedSchedule::failed(size_t i, MonoTime now, uint32_t failures) {
  if (i >= due_.size()) {
    return;
  }
  Nanos delay = std::chrono::seconds(2);
  const Nanos cap = std::min<Nanos>(periods_[i], std::chrono::minutes(5));
  for (uint32_t k = 1; k < failures && delay < cap; ++k) {
    delay *= 2;
  }
  due_[i] = now + std::min(delay, cap);
}

std::vector<size_t> FeedSchedule::due(MonoTime now) const {
  std::vector<size_t> out;
  for (size_t i = 0; i < due_.size(); ++i) {
    if (due_[i] <= now) {
      out.push_back(i);
    }
  }
  return out;
}

MonoTime FeedSchedule::next() const {
  MonoTime t = MonoTime::max();
  for (const MonoTime d : due_) {
    t = std::min(t, d);
  }
  return t;
}

// --- helpers -----------------------------------------------------------------------------

std::optional<wire::BlockAction> blockActionFromConfig(const std::string& name) {
  if (name == "nxdomain") {
    return wire::BlockAction::NxDomain;
  }
  if (name == "nodata") {
    return wire::BlockAction::NoData;
  }
  if (name == "sinkhole") {
    return wire::BlockAction::Sinkhole;
  }
  if (name == "drop") {
    return wire::BlockAction::Drop;
  }
  return std::nullopt;
}

std::vector<std::string> protectedNames(const Config& config) {
  std::vector<std::string> out;
  const auto add = [&out](std::string name) {
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    while (!name.empty() && name.back() == '.') {
      name.pop_back();
    }
    if (!name.empty() && std::find(out.begin(), out.end(), name) == out.end()) {
      out.push_back(std::move(name));
    }
  };
  for (const auto& tier : config.plan.tiers) {
    for (const auto& u : tier.upstreams) {
      add(u.tls_name);
    }
  }
  for (const auto& f : config.feeds) {
    add(urlHost(f.source));
  }
  for (const auto& s : config.report.sinks) {
    add(urlHost(s.url));
    add(urlHost(s.homeserver));
  }
  return out;
}

// --- FeedControl -------------------------------------------------------------------------

struct FeedControl::Feed {
  FeedConfig cfg;
  std::unique_ptr<FeedFetcher> fetcher;
  pipeline::FeedStats* stats = nullptr;
  std::string seen_version;  // the copy last looked at, accepted or not
  bool has_accepted = false;
  uint32_t failures = 0;  // fetches failed in a row (the schedule backs off)
  std::string accepted;   // bytes of the last accepted copy
  uint64_t accepted_size = 0;
};

FeedControl::FeedControl(pipeline::BlockHolder& holder, pipeline::FeedStatsRegistry& stats,
                         const Clock& clock)
    : holder_(holder), stats_(stats), clock_(clock) {
  suffixes_ = threatfeed::PublicSuffixList::loadFile(threatfeed::kDebianPublicSuffixList);
  if (!suffixes_) {
    LOG_WARN(
        "feeds: %s cannot be read: only the root and TLDs are guarded, not other public "
        "suffixes (install Debian's publicsuffix package)",
        threatfeed::kDebianPublicSuffixList);
  }
}

FeedControl::~FeedControl() {
  stop();
}

void FeedControl::applyConfig(const Config& config) {
  std::vector<std::unique_ptr<Feed>> next;
  for (const FeedConfig& cfg : config.feeds) {
    std::unique_ptr<Feed> f;
    for (auto& old : feeds_) {
      if (old != nullptr && old->cfg.name == cfg.name && old->cfg.source == cfg.source &&
          old->cfg.type == cfg.type) {
        f = std::move(old);  // same feed: keeps its last accepted copy
        break;
      }
    }
    if (f == nullptr) {
      f = std::make_unique<Feed>();
    }
    // A kept feed keeps its fetcher (an axfr:// one its zone, for IXFR) unless how it fetches
    // changed.
    if (f->fetcher == nullptr || f->cfg.ca_file != cfg.ca_file ||
        f->cfg.credentials_file != cfg.credentials_file || f->cfg.max_size != cfg.max_size ||
        f->cfg.tsig_file != cfg.tsig_file) {
      f->fetcher = makeFetcher(cfg);
    }
    if (f->fetcher == nullptr) {
      LOG_WARN("feed '%s': %s sources are not implemented yet; the feed is left out",
               cfg.name.c_str(), cfg.source.substr(0, cfg.source.find("://")).c_str());
    }
    f->cfg = cfg;
    f->stats = &stats_.feed(cfg.name);
    next.push_back(std::move(f));
  }
  feeds_ = std::move(next);
  std::vector<Nanos> periods;
  for (const auto& f : feeds_) {
    periods.push_back(f->cfg.refresh);
  }
  schedule_.reset(periods, clock_.now());
  config_ = config;
}

bool FeedControl::update(Feed& f, bool force) {
  if (f.fetcher == nullptr) {
    return false;
  }
  auto got = f.fetcher->fetch(f.seen_version, force);
  f.failures = got ? 0 : f.failures + 1;
  if (!got) {
    f.stats->updates[static_cast<size_t>(pipeline::FeedUpdateResult::Error)].inc();
    LOG_ERROR("feed '%s': %s; %s", f.cfg.name.c_str(), got.error().detail.c_str(),
              f.has_accepted ? "the last accepted copy keeps blocking" : "nothing blocked yet");
    return false;
  }
  if (got->unchanged) {
    f.stats->updates[static_cast<size_t>(pipeline::FeedUpdateResult::Unchanged)].inc();
    return false;
  }
  f.seen_version = got->version;
  return accept(f, *got, false);
}

void FeedControl::loadStored(Feed& f) {
  if (f.has_accepted || f.fetcher == nullptr || f.cfg.source.starts_with("file://")) {
    return;
  }
  auto stored = fetch::FeedStore(config_.state.dir).load(f.cfg.name);
  if (!stored) {
    LOG_INFO("feed '%s': no stored copy (%s)", f.cfg.name.c_str(), stored.error().detail.c_str());
    return;
  }
  if (stored->meta.source != f.cfg.source) {
    LOG_INFO("feed '%s': the stored copy is of another source (%s), not used", f.cfg.name.c_str(),
             stored->meta.source.c_str());
    return;
  }
  FeedPayload p;
  p.origin = fetch::FeedStore(config_.state.dir).pathOf(f.cfg.name);
  p.bytes = stored->body;
  f.fetcher->restore(stored->body);
  (void)accept(f, p, true);
}

bool FeedControl::accept(Feed& f, FeedPayload& payload, bool from_store) {
  FeedPayload* got = &payload;
  threatfeed::FeedEntries entries = parseFeed(f.cfg, got->bytes);
  threatfeed::GuardConfig guard;
  guard.public_suffixes = suffixes_ ? &*suffixes_ : nullptr;
  guard.protected_names = protectedNames(config_);
  guard.max_entries = f.cfg.max_entries;
  guard.max_shrink = f.cfg.max_shrink;
  if (f.has_accepted) {
    guard.previous_size = f.accepted_size;
  }
  const threatfeed::GuardReport report = threatfeed::applyGuards(entries, guard);
  for (const std::string& e : entries.stats.first_errors) {
    LOG_WARN("feed '%s': %s: %s", f.cfg.name.c_str(), got->origin.c_str(), e.c_str());
  }
  for (const std::string& r : report.first_rejected) {
    LOG_WARN("feed '%s': entry not used: %s", f.cfg.name.c_str(), r.c_str());
  }
  if (report.verdict != threatfeed::FeedVerdict::Accepted) {
    f.stats->updates[static_cast<size_t>(pipeline::FeedUpdateResult::Rejected)].inc();
    LOG_ERROR(
        "feed '%s': update from %s rejected (%s: %llu lines, %llu malformed, %llu "
        "entries, %llu before); %s",
        f.cfg.name.c_str(), got->origin.c_str(), threatfeed::verdictName(report.verdict),
        static_cast<unsigned long long>(entries.stats.lines),
        static_cast<unsigned long long>(entries.stats.malformed),
        static_cast<unsigned long long>(report.accepted),
        static_cast<unsigned long long>(f.accepted_size),
        f.has_accepted ? "the previous copy keeps blocking" : "nothing blocked yet");
    return false;
  }
  if (!from_store && !f.cfg.source.starts_with("file://")) {
    fetch::StoredFeed copy;
    copy.meta.source = f.cfg.source;
    copy.meta.stored_unix =
        std::chrono::duration_cast<Seconds>(clock_.wallNow().time_since_epoch()).count();
    copy.body = got->bytes;
    if (auto st = fetch::FeedStore(config_.state.dir).save(f.cfg.name, copy); !st) {
      LOG_WARN("feed '%s': the accepted copy is not stored: %s", f.cfg.name.c_str(),
               st.error().detail.c_str());
    }
  }
  f.accepted = std::move(got->bytes);
  f.accepted_size = report.accepted;
  f.has_accepted = true;
  f.stats->updates[static_cast<size_t>(pipeline::FeedUpdateResult::Ok)].inc();
  f.stats->last_success_unix.store(
      std::chrono::duration_cast<Seconds>(clock_.wallNow().time_since_epoch()).count(),
      std::memory_order_relaxed);
  LOG_INFO("feed '%s': %llu entries from %s (%llu removed by guards, %llu malformed lines)",
           f.cfg.name.c_str(), static_cast<unsigned long long>(report.accepted),
           got->origin.c_str(), static_cast<unsigned long long>(report.rejectedEntries()),
           static_cast<unsigned long long>(entries.stats.malformed));
  return true;
}

void FeedControl::buildAndPublish() {
  const MonoTime started = clock_.now();
  threatfeed::BlockIndexBuilder builder;
  for (const std::string& a : config_.policy.allow) {
    if (auto c = threatfeed::canonicalName(a)) {
      builder.addAllow(*c);
    }
  }
  if (!config_.policy.allow_file.empty()) {
    std::ifstream in(config_.policy.allow_file, std::ios::binary);
    if (in) {
      std::stringstream text;
      text << in.rdbuf();
      (void)builder.addAllowList(text.str());
    } else {
      LOG_ERROR("[policy] allow_file %s cannot be read; only the allow names apply",
                config_.policy.allow_file.c_str());
    }
  }
  auto policy = std::make_shared<pipeline::BlockPolicy>();
  policy->default_action =
      blockActionFromConfig(config_.policy.default_action).value_or(wire::BlockAction::NxDomain);
  policy->sinkhole_ipv4 = ipv4(config_.policy.sinkhole_ipv4);
  policy->sinkhole_ipv6 = ipv6(config_.policy.sinkhole_ipv6);
  threatfeed::GuardConfig guard;
  guard.public_suffixes = suffixes_ ? &*suffixes_ : nullptr;
  guard.protected_names = protectedNames(config_);
  for (const auto& f : feeds_) {
    threatfeed::FeedEntries entries;
    if (f->has_accepted) {
      // The accepted bytes again: the guards already passed them; they drop the same names.
      entries = parseFeed(f->cfg, f->accepted);
      guard.max_entries = f->cfg.max_entries;
      guard.max_shrink = 1.0;
      guard.previous_size.reset();
      (void)threatfeed::applyGuards(entries, guard);
    }
    policy->has_ip_rules = policy->has_ip_rules || !entries.ips.empty();
    (void)builder.addFeed(entries);
    pipeline::BlockFeed meta;
    meta.name = f->cfg.name;
    meta.ede_text = "blocked by feed " + f->cfg.name;
    meta.stats = f->stats;
    meta.action = blockActionFromConfig(f->cfg.action);
    policy->feeds.push_back(std::move(meta));
  }
  std::shared_ptr<const threatfeed::BlockIndex> index = builder.build();
  for (size_t i = 0; i < feeds_.size(); ++i) {
    feeds_[i]->stats->entries.store(
        static_cast<int64_t>(index->feedRules(static_cast<uint16_t>(i))),
        std::memory_order_relaxed);
  }
  policy->index = std::move(index);
  const auto ms = std::chrono::duration_cast<Millis>(clock_.now() - started).count();
  LOG_INFO("feeds: block index of %zu names (%zu bytes) built in %lld ms and published",
           policy->index->nameEntries(), policy->index->memoryBytes(), static_cast<long long>(ms));
  holder_.publish(policy);
  std::lock_guard lock(mu_);
  ++builds_;
}

void FeedControl::start(const Config& config) {
  applyConfig(config);
  for (auto& f : feeds_) {
    loadStored(*f);  // before any fetch: a restart with the source down still blocks
    (void)update(*f, true);
  }
  retryFailed();
  buildAndPublish();
  thread_ = std::thread([this] { threadMain(); });
}

void FeedControl::retryFailed() {
  const MonoTime now = clock_.now();
  for (size_t i = 0; i < feeds_.size(); ++i) {
    if (feeds_[i]->failures > 0) {
      schedule_.failed(i, now, feeds_[i]->failures);
    }
  }
}

void FeedControl::reload(const Config& config) {
  {
    std::lock_guard lock(mu_);
    pending_ = Request{config, true};
  }
  cv_.notify_one();
}

void FeedControl::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) {
    thread_.join();
  }
}

uint64_t FeedControl::builds() const {
  std::lock_guard lock(mu_);
  return builds_;
}

void FeedControl::threadMain() {
  for (;;) {
    std::optional<Request> request;
    {
      std::unique_lock lock(mu_);
      const MonoTime next = schedule_.next();
      const auto ready = [this] { return stop_ || pending_.has_value(); };
      if (next == MonoTime::max()) {
        cv_.wait(lock, ready);
      } else {
        // The condition variable waits on the steady clock; the schedule is in clock_ time
        // (the same clock in the daemon).
        (void)cv_.wait_until(lock, next, ready);
      }
      if (stop_) {
        return;
      }
      request = std::move(pending_);
      pending_.reset();
    }
    bool changed = false;
    if (request.has_value()) {
      if (request->config.has_value()) {
        applyConfig(*request->config);
        for (auto& f : feeds_) {
          loadStored(*f);  // a feed added by the reload
        }
      }
      changed = true;  // a reload may change allow names, actions or the feed list
      for (auto& f : feeds_) {
        changed = update(*f, request->force) || changed;
      }
      retryFailed();
    } else {
      const MonoTime now = clock_.now();
      for (const size_t i : schedule_.due(now)) {
        changed = update(*feeds_[i], false) || changed;
        if (feeds_[i]->failures > 0) {
          schedule_.failed(i, now, feeds_[i]->failures);
        } else {
          schedule_.done(i, now);
        }
      }
    }
    if (changed) {
      buildAndPublish();
    }
  }
}

std::string describeFeedSources(const Config& config) {
  std::string out;
  for (const FeedConfig& f : config.feeds) {
    out += "  feed '" + f.name + "': ";
    if (f.source.starts_with("file://")) {
      auto fetcher = makeFetcher(f);
      auto got = fetcher->fetch("", true);
      if (!got) {
        out += got.error().detail + "\n";
        continue;
      }
      const threatfeed::FeedEntries entries = parseFeed(f, got->bytes);
      out += std::to_string(got->bytes.size()) + " bytes, " + std::to_string(entries.stats.lines) +
             " lines or records, " + std::to_string(entries.names.size()) + " name rules, " +
             std::to_string(entries.ips.size()) + " response-IP rules, " +
             std::to_string(entries.stats.malformed) + " malformed\n";
    } else {
      out += "network source: fetched by the daemon (not by --check-config)\n";
    }
  }
  return out;
}

}  // namespace steadfast::app
