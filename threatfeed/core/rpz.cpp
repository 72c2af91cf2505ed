// SPDX-License-Identifier: Apache-2.0
#include "threatfeed/core/rpz.h"

#include <algorithm>
#include <arpa/inet.h>
#include <charconv>
#include <cstring>

#include "threatfeed/core/lists.h"
#include "threatfeed/core/names.h"

namespace steadfast::threatfeed {
namespace {

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

bool validTxt(std::span<const uint8_t> rd) {
  if (rd.empty()) {
    return false;
  }
  size_t i = 0;
  while (i < rd.size()) {
    i += 1 + size_t{rd[i]};
  }
  return i == rd.size();
}

// "*" target (NODATA) parses as a wire name with the single label "*"
bool validRdata(uint16_t type, std::span<const uint8_t> rd) {
  switch (type) {
    case kTypeA:
      return rd.size() == 4;
    case kTypeAaaa:
      return rd.size() == 16;
    case kTypeCname: {
      auto n = fromWire(rd);
      return n && toWire(*n).size() == rd.size();
    }
    case kTypeTxt:
      return validTxt(rd);
    case kTypeSoa:
      return rd.size() >= 22;
    default:
      return rd.size() <= 65535;
  }
}

std::optional<uint32_t> soaSerial(std::span<const uint8_t> rd) {
  // MNAME RNAME SERIAL ...: skip two wire names
  size_t i = 0;
  for (int n = 0; n < 2; ++n) {
    while (i < rd.size() && rd[i] != 0) {
      i += 1 + size_t{rd[i]};
    }
    ++i;
  }
  if (i + 4 > rd.size()) {
    return std::nullopt;
  }
  return (uint32_t{rd[i]} << 24) | (uint32_t{rd[i + 1]} << 16) | (uint32_t{rd[i + 2]} << 8) |
         rd[i + 3];
}

std::optional<uint32_t> parseUint(std::string_view s, uint32_t max) {
  uint32_t v = 0;
  if (s.empty()) {
    return std::nullopt;
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || v > max) {
    return std::nullopt;
  }
  return v;
}

// PREFIXLEN.B4.B3.B2.B1 (v4) or PREFIXLEN.W8...W1 with one "zz" (v6), labels as in rpz-ip
std::optional<IpEntry> parseIpTrigger(std::string_view trig) {
  std::vector<std::string_view> labels;
  size_t start = 0;
  while (start <= trig.size()) {
    size_t dot = trig.find('.', start);
    if (dot == std::string_view::npos) {
      dot = trig.size();
    }
    labels.push_back(trig.substr(start, dot - start));
    start = dot + 1;
    if (labels.size() > 10) {
      return std::nullopt;
    }
  }
  if (labels.size() < 2) {
    return std::nullopt;
  }
  IpEntry e;
  if (labels.size() == 5 && labels[1] != "zz") {
    auto len = parseUint(labels[0], 32);
    if (!len || *len == 0) {
      return std::nullopt;
    }
    e.prefix_len = static_cast<uint8_t>(*len);
    for (int i = 0; i < 4; ++i) {
      auto o = parseUint(labels[static_cast<size_t>(4 - i)], 255);
      if (!o) {
        return std::nullopt;
      }
      e.addr[static_cast<size_t>(i)] = static_cast<uint8_t>(*o);
    }
    return e;
  }
  e.v6 = true;
  auto len = parseUint(labels[0], 128);
  if (!len || *len == 0) {
    return std::nullopt;
  }
  e.prefix_len = static_cast<uint8_t>(*len);
  // words in reversed order after the length
  std::vector<std::string_view> words(labels.rbegin(), labels.rend() - 1);
  std::vector<uint16_t> out;
  int zz = -1;
  for (size_t i = 0; i < words.size(); ++i) {
    if (words[i] == "zz") {
      if (zz >= 0) {
        return std::nullopt;
      }
      zz = static_cast<int>(out.size());
      continue;
    }
    uint32_t v = 0;
    auto [p, ec] = std::from_chars(words[i].data(), words[i].data() + words[i].size(), v, 16);
    if (words[i].empty() || words[i].size() > 4 || ec != std::errc{} ||
        p != words[i].data() + words[i].size()) {
      return std::nullopt;
    }
    out.push_back(static_cast<uint16_t>(v));
  }
  if (out.size() > 8 || (zz < 0 && out.size() != 8) || (zz >= 0 && out.size() == 8)) {
    return std::nullopt;
  }
  if (zz >= 0) {
    out.insert(out.begin() + zz, 8 - out.size(), 0);
  }
  for (size_t i = 0; i < 8; ++i) {
    e.addr[2 * i] = static_cast<uint8_t>(out[i] >> 8);
    e.addr[2 * i + 1] = static_cast<uint8_t>(out[i] & 0xff);
  }
  return e;
}

bool endsWithLabel(std::string_view name, std::string_view label) {
  return name == label || (name.size() > label.size() && name.ends_with(label) &&
                           name[name.size() - label.size() - 1] == '.');
}

}  // namespace

RpzBuilder::RpzBuilder(std::string origin) : origin_(std::move(origin)) {}

void RpzBuilder::error(std::string_view what) {
  ++stats_.malformed;
  if (stats_.first_errors.size() < kMaxReportedErrors) {
    stats_.first_errors.emplace_back(what);
  }
}

bool RpzBuilder::add(std::string_view owner, uint16_t type, std::span<const uint8_t> rdata) {
  ++stats_.lines;
  auto name = canonicalName(owner);
  if (!name || !isAtOrBelow(*name, origin_)) {
    error("record " + std::string{owner.substr(0, 64)} + ": owner outside the zone or malformed");
    return false;
  }
  if (!validRdata(type, rdata)) {
    error("record " + *name + ": malformed rdata for type " + std::to_string(type));
    return false;
  }
  std::string rel =
      name->size() == origin_.size()
          ? std::string{}
          : name->substr(0, name->size() - origin_.size() - (origin_.empty() ? 0 : 1));
  if (rel.empty() && type == kTypeSoa) {
    serial_ = soaSerial(rdata);
  }
  LocalRecord rec{type, std::string{reinterpret_cast<const char*>(rdata.data()), rdata.size()}};
  if (type == kTypeCname) {
    // canonical (lowercase) target so "CNAME RPZ-DROP." means the same
    rec.rdata = toWire(*fromWire(rdata));
  }
  auto& recs = by_owner_[rel];
  if (std::find(recs.begin(), recs.end(), rec) != recs.end()) {
    return true;
  }
  if (type == kTypeSoa) {
    // one SOA: a new one replaces the old
    std::erase_if(recs, [&](const LocalRecord& r) {
      if (r.type == kTypeSoa) {
        --records_;
        return true;
      }
      return false;
    });
  }
  recs.push_back(std::move(rec));
  ++records_;
  return true;
}

bool RpzBuilder::remove(std::string_view owner, uint16_t type, std::span<const uint8_t> rdata) {
  ++stats_.lines;
  auto name = canonicalName(owner);
  if (!name || !isAtOrBelow(*name, origin_) || !validRdata(type, rdata)) {
    error("deletion of a malformed record");
    return false;
  }
  std::string rel =
      name->size() == origin_.size()
          ? std::string{}
          : name->substr(0, name->size() - origin_.size() - (origin_.empty() ? 0 : 1));
  auto it = by_owner_.find(rel);
  std::string data{reinterpret_cast<const char*>(rdata.data()), rdata.size()};
  if (type == kTypeCname) {
    data = toWire(*fromWire(rdata));
  }
  if (it != by_owner_.end()) {
    auto& recs = it->second;
    auto r = std::find(recs.begin(), recs.end(), LocalRecord{type, data});
    if (r != recs.end()) {
      recs.erase(r);
      --records_;
      if (recs.empty()) {
        by_owner_.erase(it);
      }
      return true;
    }
  }
  error("deletion of a record not in the zone: " + *name);
  return false;
}

void RpzBuilder::clear() {
  by_owner_.clear();
  records_ = 0;
  serial_.reset();
  stats_ = ParseStats{};
}

FeedEntries RpzBuilder::build() const {
  FeedEntries out;
  out.stats = stats_;
  out.names.reserve(by_owner_.size());
  for (const auto& [rel, recs] : by_owner_) {
    if (rel.empty()) {
      continue;  // apex: SOA, NS
    }
    if (endsWithLabel(rel, "rpz-nsdname") || endsWithLabel(rel, "rpz-nsip") ||
        endsWithLabel(rel, "rpz-client-ip")) {
      out.stats.unsupported += recs.size();
      continue;
    }
    Action action = Action::LocalData;
    std::vector<LocalRecord> local;
    bool special = false;
    for (const LocalRecord& r : recs) {
      if (r.type == kTypeCname) {
        const std::string& t = r.rdata;
        Action a = Action::LocalData;
        if (t == std::string_view("\0", 1)) {
          a = Action::Nxdomain;
        } else if (t == std::string_view("\x01*\0", 3)) {
          a = Action::Nodata;
        } else if (t == std::string_view("\x0crpz-passthru\0", 14)) {
          a = Action::Passthru;
        } else if (t == std::string_view("\x08rpz-drop\0", 10)) {
          a = Action::Drop;
        } else if (t == std::string_view("\x0crpz-tcp-only\0", 14)) {
          a = Action::TcpOnly;
        }
        if (a != Action::LocalData) {
          action = a;
          special = true;
          continue;
        }
        local.push_back(r);
      } else if (r.type == kTypeA || r.type == kTypeAaaa || r.type == kTypeTxt) {
        local.push_back(r);
      } else {
        ++out.stats.unsupported;
      }
    }
    if (special) {
      local.clear();
    } else if (local.empty()) {
      continue;
    }
    if (endsWithLabel(rel, "rpz-ip")) {
      const std::string_view trig =
          rel == "rpz-ip" ? std::string_view{} : std::string_view{rel}.substr(0, rel.size() - 7);
      auto ip = parseIpTrigger(trig);
      if (!ip) {
        ++out.stats.malformed;
        if (out.stats.first_errors.size() < kMaxReportedErrors) {
          out.stats.first_errors.push_back("bad rpz-ip trigger " + rel);
        }
        continue;
      }
      ip->action = action;
      ip->local = std::move(local);
      out.ips.push_back(std::move(*ip));
      continue;
    }
    NameEntry e;
    if (rel.starts_with("*.")) {
      e.name = rel.substr(2);
      e.match = Match::Subdomains;
    } else if (rel == "*") {
      e.name = "";
      e.match = Match::Subdomains;
    } else {
      e.name = rel;
    }
    e.action = action;
    e.local = std::move(local);
    out.names.push_back(std::move(e));
  }
  return out;
}

// ---- master-file text ----

namespace {

struct Token {
  std::string text;
  bool quoted = false;
};

class Lexer {
 public:
  explicit Lexer(std::string_view text) : t_(text) {
    if (t_.starts_with("\xEF\xBB\xBF")) {
      t_.remove_prefix(3);
    }
  }

  // Next logical record's tokens; false at end. `blank_owner`: it began with whitespace.
  // `bad`: a lexical error (unbalanced parentheses or quotes, a line too long).
  bool next(std::vector<Token>& out, bool& blank_owner, bool& bad, uint64_t& line_no) {
    out.clear();
    bad = false;
    while (pos_ < t_.size()) {
      line_no = line_;
      const size_t line_start = pos_;
      blank_owner = t_[pos_] == ' ' || t_[pos_] == '\t';
      int depth = 0;
      size_t line_begin = pos_;
      while (pos_ < t_.size()) {
        const char c = t_[pos_];
        if (c == '\n') {
          ++line_;
          ++pos_;
          line_begin = pos_;
          if (depth == 0) {
            break;
          }
          continue;
        }
        if (pos_ - line_begin > kMaxLineBytes) {
          bad = true;
        }
        if (c == ' ' || c == '\t' || c == '\r') {
          ++pos_;
        } else if (c == ';') {
          while (pos_ < t_.size() && t_[pos_] != '\n') {
            ++pos_;
          }
        } else if (c == '(') {
          ++depth;
          ++pos_;
        } else if (c == ')') {
          if (--depth < 0) {
            bad = true;
            depth = 0;
          }
          ++pos_;
        } else if (c == '"') {
          Token tok;
          tok.quoted = true;
          ++pos_;
          bool closed = false;
          while (pos_ < t_.size() && t_[pos_] != '\n') {
            if (t_[pos_] == '\\' && pos_ + 1 < t_.size() && t_[pos_ + 1] != '\n') {
              tok.text.push_back(t_[pos_ + 1]);
              pos_ += 2;
              continue;
            }
            if (t_[pos_] == '"') {
              closed = true;
              ++pos_;
              break;
            }
            tok.text.push_back(t_[pos_++]);
          }
          if (!closed) {
            bad = true;
          }
          if (tok.text.size() > kMaxLineBytes) {
            bad = true;
            tok.text.clear();
          }
          out.push_back(std::move(tok));
        } else {
          const size_t b = pos_;
          while (pos_ < t_.size() &&
                 std::string_view(" \t\r\n;()\"").find(t_[pos_]) == std::string_view::npos) {
            ++pos_;
          }
          if (pos_ - b <= kMaxLineBytes) {
            out.push_back(Token{std::string{t_.substr(b, pos_ - b)}, false});
          } else {
            bad = true;
          }
        }
        if (out.size() > 512) {
          bad = true;
          out.clear();
        }
      }
      if (depth != 0) {
        bad = true;
      }
      if (!out.empty() || bad) {
        return true;
      }
      (void)line_start;
    }
    return false;
  }

 private:
  std::string_view t_;
  size_t pos_ = 0;
  uint64_t line_ = 1;
};

std::optional<uint16_t> typeOf(std::string_view s) {
  std::string u;
  for (char c : s) {
    u.push_back(static_cast<char>((c >= 'a' && c <= 'z') ? c - 32 : c));
  }
  struct T {
    const char* n;
    uint16_t v;
  };
  static constexpr T kTypes[] = {
      {"A", 1},       {"NS", 2},     {"CNAME", 5},    {"SOA", 6},        {"PTR", 12},
      {"HINFO", 13},  {"MX", 15},    {"TXT", 16},     {"RP", 17},        {"AAAA", 28},
      {"LOC", 29},    {"SRV", 33},   {"NAPTR", 35},   {"DNAME", 39},     {"DS", 43},
      {"SSHFP", 44},  {"RRSIG", 46}, {"NSEC", 47},    {"DNSKEY", 48},    {"NSEC3", 50},
      {"TLSA", 52},   {"SVCB", 64},  {"HTTPS", 65},   {"SPF", 99},       {"CAA", 257},
      {"ZONEMD", 63}, {"CDS", 59},   {"CDNSKEY", 60}, {"NSEC3PARAM", 51}};
  for (const T& t : kTypes) {
    if (u == t.n) {
      return t.v;
    }
  }
  if (u.starts_with("TYPE")) {
    return parseUint(std::string_view{u}.substr(4), 65535);
  }
  return std::nullopt;
}

bool isClass(std::string_view s) {
  std::string u;
  for (char c : s) {
    u.push_back(static_cast<char>((c >= 'a' && c <= 'z') ? c - 32 : c));
  }
  return u == "IN" || u == "CH" || u == "HS" || u == "CS";
}

bool isTtl(std::string_view s) {
  if (s.empty() || s[0] < '0' || s[0] > '9') {
    return false;
  }
  for (char c : s) {
    const char l = static_cast<char>((c >= 'A' && c <= 'Z') ? c + 32 : c);
    if (!((l >= '0' && l <= '9') || l == 's' || l == 'm' || l == 'h' || l == 'd' || l == 'w')) {
      return false;
    }
  }
  return true;
}

// Resolves a master-file name against the current origin; nullopt when malformed.
std::optional<std::string> absolute(std::string_view n, const std::optional<std::string>& origin) {
  if (n == "@") {
    return origin;
  }
  if (n.ends_with(".")) {
    return canonicalName(n);
  }
  if (!origin) {
    return std::nullopt;
  }
  auto rel = canonicalName(n);
  if (!rel || rel->empty()) {
    return std::nullopt;
  }
  std::string full = origin->empty() ? *rel : *rel + "." + *origin;
  return canonicalName(full);
}

}  // namespace

void loadRpzText(std::string_view text, RpzBuilder& b) {
  Lexer lex(text);
  std::optional<std::string> origin;
  if (!b.origin().empty()) {
    origin = b.origin();
  }
  std::optional<std::string> last_owner;
  std::vector<Token> toks;
  bool blank = false;
  bool bad = false;
  uint64_t line = 0;
  auto fail = [&](std::string_view what) {
    ++b.stats().lines;
    ++b.stats().malformed;
    if (b.stats().first_errors.size() < kMaxReportedErrors) {
      b.stats().first_errors.push_back(std::to_string(line) + ": " + std::string{what});
    }
  };
  while (lex.next(toks, blank, bad, line)) {
    if (bad) {
      fail("malformed line");
      continue;
    }
    if (!toks[0].quoted && toks[0].text.starts_with("$") && !blank) {
      const std::string& d = toks[0].text;
      if (d == "$ORIGIN" && toks.size() == 2) {
        auto o = absolute(toks[1].text, origin);
        if (!o) {
          fail("bad $ORIGIN");
        } else {
          origin = o;
          if (b.origin().empty() && b.records() == 0) {
            // the first $ORIGIN names the zone when the caller did not
            ParseStats kept = b.stats();
            b = RpzBuilder(*o);
            b.stats() = std::move(kept);
          }
        }
      } else if (d == "$TTL" && toks.size() == 2 && isTtl(toks[1].text)) {
        // TTLs do not matter to policy
      } else {
        fail("unsupported or malformed directive " + d.substr(0, 32));
      }
      continue;
    }
    size_t i = 0;
    std::optional<std::string> owner;
    if (blank) {
      owner = last_owner;
    } else {
      owner = absolute(toks[0].text, origin);
      if (!owner || toks[0].quoted) {
        fail("bad owner name");
        continue;
      }
      i = 1;
    }
    if (!owner) {
      fail("no owner name");
      continue;
    }
    last_owner = owner;
    for (int k = 0; k < 2 && i < toks.size(); ++k) {
      if (!toks[i].quoted && (isTtl(toks[i].text) || isClass(toks[i].text))) {
        ++i;
      }
    }
    if (i >= toks.size() || toks[i].quoted) {
      fail("no type");
      continue;
    }
    auto type = typeOf(toks[i].text);
    if (!type) {
      fail("unknown type " + toks[i].text.substr(0, 32));
      continue;
    }
    ++i;
    const size_t nrd = toks.size() - i;
    if (b.origin().empty() && *type == kTypeSoa && b.records() == 0) {
      ParseStats kept = b.stats();
      b = RpzBuilder(*owner);
      b.stats() = std::move(kept);
    }
    std::string rd;
    bool ok = true;
    switch (*type) {
      case kTypeA:
      case kTypeAaaa: {
        const bool v6 = *type == kTypeAaaa;
        uint8_t buf[16];
        ok = nrd == 1 && inet_pton(v6 ? AF_INET6 : AF_INET, toks[i].text.c_str(), buf) == 1;
        if (ok) {
          rd.assign(reinterpret_cast<const char*>(buf), v6 ? 16 : 4);
        }
        break;
      }
      case kTypeCname: {
        std::optional<std::string> target;
        if (nrd == 1) {
          // "*." and "." are absolute; a relative name is relative to the origin
          target = absolute(toks[i].text, origin);
        }
        ok = target.has_value();
        if (ok) {
          rd = toWire(*target);
        }
        break;
      }
      case kTypeTxt:
        ok = nrd >= 1;
        for (size_t k = i; ok && k < toks.size(); ++k) {
          if (toks[k].text.size() > 255) {
            ok = false;
            break;
          }
          rd.push_back(static_cast<char>(toks[k].text.size()));
          rd += toks[k].text;
        }
        break;
      case kTypeSoa: {
        ok = nrd == 7;
        if (ok) {
          auto m = absolute(toks[i].text, origin);
          auto r = absolute(toks[i + 1].text, origin);
          auto serial = parseUint(toks[i + 2].text, UINT32_MAX);
          ok = m && r && serial;
          if (ok) {
            rd = toWire(*m) + toWire(*r);
            for (int s = 24; s >= 0; s -= 8) {
              rd.push_back(static_cast<char>((*serial >> s) & 0xff));
            }
            rd.append(16, '\0');  // timers do not matter here
          }
        }
        break;
      }
      default:
        // not interpreted: kept opaque so build() counts it as unsupported
        rd = "?";
        ok = nrd >= 1;
        break;
    }
    if (!ok) {
      fail("malformed rdata");
      continue;
    }
    if (*type == kTypeNs) {
      ++b.stats().ignored;
      continue;
    }
    if (b.origin().empty() && !origin) {
      fail("no origin");
      continue;
    }
    b.add(*owner, *type, bytes(rd));
  }
}

RpzZone parseRpzZone(std::string_view text, std::string_view origin) {
  RpzBuilder b{std::string{origin}};
  if (!origin.empty()) {
    if (auto c = canonicalName(origin)) {
      b = RpzBuilder(*c);
    }
  }
  loadRpzText(text, b);
  RpzZone z;
  z.origin = b.origin();
  z.serial = b.serial();
  z.entries = b.build();
  return z;
}

}  // namespace steadfast::threatfeed
