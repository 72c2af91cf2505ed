// SPDX-License-Identifier: Apache-2.0
#include "threatfeed/core/block_index.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "resolver/base/assert.h"
#include "threatfeed/core/lists.h"
#include "threatfeed/core/names.h"

namespace steadfast::threatfeed {
namespace {

constexpr uint32_t kNoRule = UINT32_MAX;
constexpr uint8_t kAllowFlag = 1;
constexpr uint64_t kSeed = 0xcbf29ce484222325ULL;
constexpr uint64_t kPrime = 0x100000001b3ULL;

constexpr std::array<uint8_t, 256> makeLower() {
  std::array<uint8_t, 256> t{};
  for (size_t i = 0; i < 256; ++i) {
    t[i] = static_cast<uint8_t>((i >= 'A' && i <= 'Z') ? i + 32 : i);
  }
  return t;
}
constexpr std::array<uint8_t, 256> kLower = makeLower();

// Chains one label (length byte first) into the suffix hash: suffixes are hashed from the
// rightmost label leftwards, so one pass over the query yields every suffix's hash.
inline uint64_t mixLabel(uint64_t h, const uint8_t* label) noexcept {
  const uint8_t len = label[0];
  h = (h ^ len) * kPrime;
  for (uint8_t i = 1; i <= len; ++i) {
    h = (h ^ kLower[label[i]]) * kPrime;
  }
  return h;
}

inline uint64_t finish(uint64_t h) noexcept {  // murmur3 fmix64
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb3fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

enum RuleKind : uint8_t { kExact = 0, kSub = 1, kBoth = 2, kIp = 3 };

struct U128 {
  uint64_t hi = 0;
  uint64_t lo = 0;
  auto operator<=>(const U128&) const = default;
};

U128 keyOf(const uint8_t* a, bool v6) noexcept {
  U128 k;
  if (v6) {
    for (int i = 0; i < 8; ++i) {
      k.hi = (k.hi << 8) | a[i];
      k.lo = (k.lo << 8) | a[8 + i];
    }
  } else {
    k.lo = (uint64_t{a[0]} << 24) | (uint64_t{a[1]} << 16) | (uint64_t{a[2]} << 8) | a[3];
  }
  return k;
}

U128 maskKey(U128 k, uint8_t len, bool v6) noexcept {
  const unsigned bits = v6 ? 128u : 32u;
  const unsigned host = bits - len;  // bits to clear, counted from the right
  if (host >= 64) {
    k.lo = 0;
    const unsigned h2 = host - 64;
    k.hi = h2 >= 64 ? 0 : (k.hi >> h2) << h2;
  } else if (host > 0) {
    k.lo = (k.lo >> host) << host;
  }
  return k;
}

}  // namespace

// 16 bytes per distinct name; the name bytes (lowercase wire form without the final zero)
// live in one blob.
struct Node {
  uint32_t name_off = 0;
  uint8_t name_len = 0;
  uint8_t flags = 0;
  uint16_t pad = 0;
  uint32_t exact_rule = kNoRule;
  uint32_t sub_rule = kNoRule;
};
static_assert(sizeof(Node) == 16);

struct Rule {
  uint32_t local_begin = 0;
  uint32_t subject = 0;  // node index, or ip rule index for kIp
  uint16_t local_count = 0;
  uint16_t feed = 0;
  Action action = Action::FeedDefault;
  uint8_t kind = kExact;
  uint16_t pad = 0;
};
static_assert(sizeof(Rule) == 16);

struct IpRule {
  U128 key;
  uint8_t len = 0;
  uint16_t feed = 0;
  uint32_t rule = 0;
};

struct LenRange {
  uint8_t len = 0;
  uint32_t begin = 0;
  uint32_t end = 0;
};

struct BlockIndex::Impl {
  std::vector<uint64_t> slots;  // (fingerprint << 32) | (node + 1); 0 = empty
  uint64_t slot_mask = 0;
  std::vector<uint64_t> filter;  // one bit per hash: a miss usually stops here
  uint64_t filter_mask = 0;
  std::vector<Node> nodes;
  std::string names;
  std::vector<Rule> rules;
  std::vector<LocalRecord> local;
  std::vector<IpRule> ip4, ip6;  // sorted by (len desc, key)
  std::vector<LenRange> len4, len6;
  std::vector<uint64_t> feed_rules;

  const Node* find(uint64_t g, const uint8_t* suffix, size_t len) const noexcept {
    const uint64_t fp = g >> 32;
    for (uint64_t i = g & slot_mask;; i = (i + 1) & slot_mask) {
      const uint64_t s = slots[i];
      if (s == 0) {
        return nullptr;
      }
      if ((s >> 32) != fp) {
        continue;
      }
      const Node& n = nodes[(s & 0xffffffffu) - 1];
      if (n.name_len != len) {
        continue;
      }
      const auto* stored = reinterpret_cast<const uint8_t*>(names.data()) + n.name_off;
      size_t k = 0;
      while (k < len && kLower[suffix[k]] == stored[k]) {
        ++k;
      }
      if (k == len) {
        return &n;
      }
    }
  }

  bool filterHas(uint64_t g) const noexcept {
    const uint64_t bit = (g >> 20) & filter_mask;
    return (filter[bit >> 6] >> (bit & 63)) & 1u;
  }

  BlockMatch matchOf(const Rule& r) const noexcept {
    BlockMatch m;
    m.feed = r.feed;
    m.action = r.action;
    m.rule_id = static_cast<uint32_t>(&r - rules.data());
    m.local = std::span<const LocalRecord>(local.data() + r.local_begin, r.local_count);
    return m;
  }
};

BlockIndex::BlockIndex() : impl_(std::make_unique<Impl>()) {}
BlockIndex::~BlockIndex() = default;

LookupResult BlockIndex::lookup(std::span<const uint8_t> wire) const noexcept {
  const Impl& m = *impl_;
  if (m.nodes.empty()) {
    return {};
  }
  std::array<uint16_t, 128> offs;  // NOLINT: filled below
  size_t n = 0;
  size_t i = 0;
  while (true) {
    if (i >= wire.size() || i > 255) {
      return {};
    }
    const uint8_t len = wire[i];
    if (len == 0) {
      break;
    }
    if (len > 63 || n == offs.size()) {
      return {};
    }
    offs[n++] = static_cast<uint16_t>(i);
    i += 1 + size_t{len};
  }
  const size_t name_end = i;
  uint64_t h = kSeed;
  const Rule* best = nullptr;
  for (size_t k = n; k-- > 0;) {
    h = mixLabel(h, wire.data() + offs[k]);
    const uint64_t g = finish(h);
    if (!m.filterHas(g)) {
      continue;
    }
    const Node* node = m.find(g, wire.data() + offs[k], name_end - offs[k]);
    if (node == nullptr) {
      continue;
    }
    if ((node->flags & kAllowFlag) != 0) {
      return LookupResult{Verdict::Allowed, {}};
    }
    const uint32_t rid = k == 0 ? node->exact_rule : node->sub_rule;
    if (rid == kNoRule) {
      continue;
    }
    const Rule& r = m.rules[rid];
    // shortest suffix first: a later match of the same feed is more specific
    if (best == nullptr || r.feed <= best->feed) {
      best = &r;
    }
  }
  if (best == nullptr) {
    return {};
  }
  return LookupResult{Verdict::Matched, m.matchOf(*best)};
}

LookupResult BlockIndex::lookupAddress(std::span<const uint8_t> addr) const noexcept {
  const Impl& m = *impl_;
  const bool v6 = addr.size() == 16;
  if (!v6 && addr.size() != 4) {
    return {};
  }
  const auto& rules = v6 ? m.ip6 : m.ip4;
  const auto& lens = v6 ? m.len6 : m.len4;
  if (rules.empty()) {
    return {};
  }
  const U128 key = keyOf(addr.data(), v6);
  const IpRule* best = nullptr;
  for (const LenRange& lr : lens) {  // longest prefix first
    const U128 k = maskKey(key, lr.len, v6);
    const auto* b = rules.data() + lr.begin;
    const auto* e = rules.data() + lr.end;
    const auto* it =
        std::lower_bound(b, e, k, [](const IpRule& r, const U128& x) { return r.key < x; });
    if (it != e && it->key == k && (best == nullptr || it->feed < best->feed)) {
      best = it;
    }
  }
  if (best == nullptr) {
    return {};
  }
  return LookupResult{Verdict::Matched, m.matchOf(m.rules[best->rule])};
}

size_t BlockIndex::nameEntries() const noexcept {
  return impl_->nodes.size();
}
size_t BlockIndex::rules() const noexcept {
  return impl_->rules.size();
}
size_t BlockIndex::feeds() const noexcept {
  return impl_->feed_rules.size();
}
size_t BlockIndex::nameBytes() const noexcept {
  return impl_->names.size();
}
uint64_t BlockIndex::feedRules(uint16_t feed) const noexcept {
  return feed < impl_->feed_rules.size() ? impl_->feed_rules[feed] : 0;
}

size_t BlockIndex::memoryBytes() const noexcept {
  const Impl& m = *impl_;
  size_t b = m.slots.capacity() * 8 + m.filter.capacity() * 8 + m.nodes.capacity() * sizeof(Node) +
             m.names.capacity() + m.rules.capacity() * sizeof(Rule) +
             (m.ip4.capacity() + m.ip6.capacity()) * sizeof(IpRule) +
             m.local.capacity() * sizeof(LocalRecord);
  for (const LocalRecord& r : m.local) {
    b += r.rdata.capacity() > 15 ? r.rdata.capacity() : 0;
  }
  return b;
}

RuleInfo BlockIndex::ruleInfo(uint32_t rule_id) const {
  const Impl& m = *impl_;
  RuleInfo info;
  if (rule_id >= m.rules.size()) {
    return info;
  }
  const Rule& r = m.rules[rule_id];
  info.feed = r.feed;
  info.action = r.action;
  if (r.kind == kIp) {
    // subject: index into ip4 (< ip4.size()) else ip6
    const bool v6 = r.subject >= m.ip4.size();
    const IpRule& ip = v6 ? m.ip6[r.subject - m.ip4.size()] : m.ip4[r.subject];
    std::string s;
    if (v6) {
      char buf[8];
      for (int w = 0; w < 8; ++w) {
        const uint64_t half = w < 4 ? ip.key.hi : ip.key.lo;
        const unsigned shift = static_cast<unsigned>(48 - 16 * (w % 4));
        std::snprintf(buf, sizeof buf, "%x", static_cast<unsigned>((half >> shift) & 0xffff));
        s += (w ? ":" : "") + std::string{buf};
      }
    } else {
      for (int o = 0; o < 4; ++o) {
        s += (o ? "." : "") + std::to_string((ip.key.lo >> (24 - 8 * o)) & 0xff);
      }
    }
    info.name = s + "/" + std::to_string(ip.len);
    info.match = Match::Exact;
    return info;
  }
  const Node& n = m.nodes[r.subject];
  std::string wire = m.names.substr(n.name_off, n.name_len);
  wire.push_back('\0');
  info.name =
      fromWire(std::span(reinterpret_cast<const uint8_t*>(wire.data()), wire.size())).value_or("");
  info.match = r.kind == kSub ? Match::Subdomains : Match::Exact;
  info.both = r.kind == kBoth;
  return info;
}

// ---- builder ----

namespace {
struct RuleBuild {
  uint16_t feed = 0;
  Action action = Action::FeedDefault;
  std::vector<LocalRecord> local;
};
struct NodeBuild {
  bool allow = false;
  std::optional<RuleBuild> exact, sub;
};
struct IpBuild {
  bool v6 = false;
  U128 key;
  uint8_t len = 0;
  RuleBuild rule;
};
}  // namespace

struct BlockIndexBuilder::State {
  std::unordered_map<std::string, NodeBuild> nodes;
  std::vector<IpBuild> ips;
  uint16_t next_feed = 0;
  bool built = false;
};

BlockIndexBuilder::BlockIndexBuilder() : s_(std::make_unique<State>()) {}
BlockIndexBuilder::~BlockIndexBuilder() = default;

void BlockIndexBuilder::addAllow(std::string_view name) {
  if (auto c = canonicalName(name)) {
    s_->nodes[*c].allow = true;
  }
}

ParseStats BlockIndexBuilder::addAllowList(std::string_view text) {
  FeedEntries e = parseDomainList(text);
  for (const NameEntry& n : e.names) {
    s_->nodes[n.name].allow = true;
  }
  return e.stats;
}

uint16_t BlockIndexBuilder::addFeed(const FeedEntries& feed, Action default_action) {
  STEADFAST_REQUIRE(s_->next_feed < UINT16_MAX);
  const uint16_t id = s_->next_feed++;
  s_->nodes.reserve(s_->nodes.size() + feed.names.size());
  for (const NameEntry& e : feed.names) {
    NodeBuild& nb = s_->nodes[e.name];
    auto& slot = e.match == Match::Exact ? nb.exact : nb.sub;
    if (slot) {
      continue;  // an earlier feed (or an earlier line of this one) decides
    }
    slot = RuleBuild{id, e.action == Action::FeedDefault ? default_action : e.action, e.local};
  }
  for (const IpEntry& e : feed.ips) {
    IpBuild b;
    b.v6 = e.v6;
    b.len = std::min<uint8_t>(e.prefix_len, e.v6 ? 128 : 32);
    b.key = maskKey(keyOf(e.addr.data(), e.v6), b.len, e.v6);
    b.rule = RuleBuild{id, e.action == Action::FeedDefault ? default_action : e.action, e.local};
    s_->ips.push_back(std::move(b));
  }
  return id;
}

std::unique_ptr<const BlockIndex> BlockIndexBuilder::build() {
  STEADFAST_REQUIRE(!s_->built);
  s_->built = true;
  auto index = std::make_unique<BlockIndex>();
  BlockIndex::Impl& m = *index->impl_;
  m.feed_rules.assign(s_->next_feed, 0);
  const size_t count = s_->nodes.size();
  m.nodes.reserve(count);
  size_t name_bytes = 0;
  for (const auto& [name, nb] : s_->nodes) {
    name_bytes += name.size() + 1;
  }
  m.names.reserve(name_bytes);
  auto addRule = [&](const RuleBuild& rb, uint8_t kind, uint32_t subject) {
    Rule r;
    r.local_begin = static_cast<uint32_t>(m.local.size());
    r.local_count = static_cast<uint16_t>(std::min<size_t>(rb.local.size(), UINT16_MAX));
    m.local.insert(m.local.end(), rb.local.begin(), rb.local.begin() + r.local_count);
    r.subject = subject;
    r.feed = rb.feed;
    r.action = rb.action;
    r.kind = kind;
    m.rules.push_back(r);
    ++m.feed_rules[rb.feed];
    return static_cast<uint32_t>(m.rules.size() - 1);
  };
  uint64_t cap = 16;
  while (cap < count * 2) {
    cap <<= 1;
  }
  m.slots.assign(cap, 0);
  m.slot_mask = cap - 1;
  uint64_t fbits = 64;
  while (fbits < count * 16) {
    fbits <<= 1;
  }
  m.filter.assign(fbits / 64, 0);
  m.filter_mask = fbits - 1;
  for (auto& [name, nb] : s_->nodes) {
    const std::string wire = toWire(name);
    Node node;
    node.name_off = static_cast<uint32_t>(m.names.size());
    node.name_len = static_cast<uint8_t>(wire.size() - 1);
    node.flags = nb.allow ? kAllowFlag : 0;
    m.names.append(wire.data(), wire.size() - 1);
    const auto idx = static_cast<uint32_t>(m.nodes.size());
    if (!nb.allow) {
      const bool same = nb.exact && nb.sub && nb.exact->feed == nb.sub->feed &&
                        nb.exact->action == nb.sub->action && nb.exact->local.empty() &&
                        nb.sub->local.empty();
      if (same) {
        node.exact_rule = node.sub_rule = addRule(*nb.exact, kBoth, idx);
      } else {
        if (nb.exact) {
          node.exact_rule = addRule(*nb.exact, kExact, idx);
        }
        if (nb.sub) {
          node.sub_rule = addRule(*nb.sub, kSub, idx);
        }
      }
    }
    m.nodes.push_back(node);
    // hash exactly as lookup does: labels right to left
    std::array<uint16_t, 128> offs{};
    size_t n = 0;
    for (size_t i = 0; wire[i] != 0; i += 1 + size_t{static_cast<uint8_t>(wire[i])}) {
      offs[n++] = static_cast<uint16_t>(i);
    }
    uint64_t h = kSeed;
    const auto* w = reinterpret_cast<const uint8_t*>(wire.data());
    for (size_t k = n; k-- > 0;) {
      h = mixLabel(h, w + offs[k]);
    }
    const uint64_t g = finish(h);
    const uint64_t bit = (g >> 20) & m.filter_mask;
    m.filter[bit >> 6] |= uint64_t{1} << (bit & 63);
    uint64_t i = g & m.slot_mask;
    while (m.slots[i] != 0) {
      i = (i + 1) & m.slot_mask;
    }
    m.slots[i] = ((g >> 32) << 32) | (uint64_t{idx} + 1);
  }
  s_->nodes.clear();
  // response-IP rules: per family sorted by (len desc, key), first feed kept per prefix
  for (int fam = 0; fam < 2; ++fam) {
    const bool v6 = fam == 1;
    std::vector<IpBuild*> list;
    for (IpBuild& b : s_->ips) {
      if (b.v6 == v6) {
        list.push_back(&b);
      }
    }
    std::stable_sort(list.begin(), list.end(), [](const IpBuild* a, const IpBuild* b) {
      return a->len != b->len ? a->len > b->len : a->key < b->key;
    });
    auto& out = v6 ? m.ip6 : m.ip4;
    auto& lens = v6 ? m.len6 : m.len4;
    for (size_t i = 0; i < list.size(); ++i) {
      if (i > 0 && list[i]->len == list[i - 1]->len && list[i]->key == list[i - 1]->key) {
        continue;  // the earlier (lower) feed was kept: stable sort
      }
      IpRule r;
      r.key = list[i]->key;
      r.len = list[i]->len;
      r.feed = list[i]->rule.feed;
      out.push_back(r);
    }
    for (size_t i = 0; i < out.size(); ++i) {
      if (lens.empty() || lens.back().len != out[i].len) {
        lens.push_back(LenRange{out[i].len, static_cast<uint32_t>(i), static_cast<uint32_t>(i)});
      }
      lens.back().end = static_cast<uint32_t>(i + 1);
    }
    // rules after dedup, in `out` order
    size_t j = 0;
    for (size_t i = 0; i < list.size(); ++i) {
      if (i > 0 && list[i]->len == list[i - 1]->len && list[i]->key == list[i - 1]->key) {
        continue;
      }
      const uint32_t subject = static_cast<uint32_t>(v6 ? m.ip4.size() + j : j);
      out[j].rule = addRule(list[i]->rule, kIp, subject);
      ++j;
    }
  }
  s_->ips.clear();
  m.rules.shrink_to_fit();
  m.local.shrink_to_fit();
  return index;
}

}  // namespace steadfast::threatfeed
