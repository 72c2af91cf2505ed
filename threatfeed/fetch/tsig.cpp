// SPDX-License-Identifier: Apache-2.0
#include "threatfeed/fetch/tsig.h"

#include <array>
#include <cctype>
#include <fstream>
#include <sstream>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "resolver/wire/message.h"

namespace steadfast::fetch {
namespace {

constexpr uint16_t kTypeTsig = 250;
constexpr uint16_t kClassAny = 255;

const EVP_MD* digestOf(TsigAlgorithm a) noexcept {
  switch (a) {
    case TsigAlgorithm::HmacSha1:
      return EVP_sha1();
    case TsigAlgorithm::HmacSha224:
      return EVP_sha224();
    case TsigAlgorithm::HmacSha256:
      return EVP_sha256();
    case TsigAlgorithm::HmacSha384:
      return EVP_sha384();
    case TsigAlgorithm::HmacSha512:
      return EVP_sha512();
  }
  return EVP_sha256();
}

bool algorithmFromText(std::string_view t, TsigAlgorithm& out) {
  std::string s;
  for (const char c : t) {
    s.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (!s.empty() && s.back() == '.') {
    s.pop_back();
  }
  static constexpr std::array<std::pair<std::string_view, TsigAlgorithm>, 5> kAll{{
      {"hmac-sha1", TsigAlgorithm::HmacSha1},
      {"hmac-sha224", TsigAlgorithm::HmacSha224},
      {"hmac-sha256", TsigAlgorithm::HmacSha256},
      {"hmac-sha384", TsigAlgorithm::HmacSha384},
      {"hmac-sha512", TsigAlgorithm::HmacSha512},
  }};
  for (const auto& [name, alg] : kAll) {
    if (s == name) {
      out = alg;
      return true;
    }
  }
  return false;
}

std::vector<uint8_t> wireName(std::string_view text) {
  std::array<uint8_t, wire::kMaxNameWire> buf{};
  size_t len = 0;
  if (!wire::nameFromText(text, buf, len)) {
    return {};
  }
  std::vector<uint8_t> out(len);
  wire::lowerName(std::span<const uint8_t>(buf.data(), len), out.data());
  return out;
}

void put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(static_cast<uint8_t>(x >> 8U));
  v.push_back(static_cast<uint8_t>(x & 0xFFU));
}
void put32(std::vector<uint8_t>& v, uint32_t x) {
  put16(v, static_cast<uint16_t>(x >> 16U));
  put16(v, static_cast<uint16_t>(x & 0xFFFFU));
}
void put48(std::vector<uint8_t>& v, uint64_t x) {
  put16(v, static_cast<uint16_t>((x >> 32U) & 0xFFFFU));
  put32(v, static_cast<uint32_t>(x & 0xFFFFFFFFU));
}

// ---- key file tokenizer -------------------------------------------------------------------

struct Token {
  enum Kind : uint8_t { Word, String, Punct, End } kind = End;
  std::string text;
  int line = 1;
  int col = 1;
};

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  Result<Token> next() {
    skipBlanks();
    if (!err_.empty()) {
      return makeError(Errc::Malformed, err_);
    }
    Token t;
    t.line = line_;
    t.col = col_;
    if (pos_ >= s_.size()) {
      return t;
    }
    const char c = s_[pos_];
    if (c == '{' || c == '}' || c == ';') {
      t.kind = Token::Punct;
      t.text = std::string(1, c);
      advance();
      return t;
    }
    if (c == '"') {
      advance();
      t.kind = Token::String;
      while (pos_ < s_.size() && s_[pos_] != '"') {
        if (s_[pos_] == '\n') {
          return makeError(Errc::Malformed, where(t) + "unterminated string");
        }
        t.text.push_back(s_[pos_]);
        advance();
      }
      if (pos_ >= s_.size()) {
        return makeError(Errc::Malformed, where(t) + "unterminated string");
      }
      advance();
      return t;
    }
    t.kind = Token::Word;
    while (pos_ < s_.size()) {
      const char d = s_[pos_];
      if (std::isspace(static_cast<unsigned char>(d)) != 0 || d == '{' || d == '}' || d == ';' ||
          d == '"' || d == '#' || (d == '/' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '/')) {
        break;
      }
      t.text.push_back(d);
      advance();
    }
    return t;
  }

  static std::string where(const Token& t) {
    return std::to_string(t.line) + ":" + std::to_string(t.col) + ": ";
  }

 private:
  void advance() {
    if (s_[pos_] == '\n') {
      ++line_;
      col_ = 1;
    } else {
      ++col_;
    }
    ++pos_;
  }
  void skipBlanks() {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (std::isspace(static_cast<unsigned char>(c)) != 0) {
        advance();
      } else if (c == '#' || (c == '/' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '/')) {
        while (pos_ < s_.size() && s_[pos_] != '\n') {
          advance();
        }
      } else if (c == '/' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '*') {
        const int l = line_;
        const int k = col_;
        advance();
        advance();
        while (pos_ + 1 < s_.size() && !(s_[pos_] == '*' && s_[pos_ + 1] == '/')) {
          advance();
        }
        if (pos_ + 1 >= s_.size()) {
          err_ = std::to_string(l) + ":" + std::to_string(k) + ": unterminated comment";
          pos_ = s_.size();
          return;
        }
        advance();
        advance();
      } else {
        return;
      }
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
  int line_ = 1;
  int col_ = 1;
  std::string err_;
};

bool decodeBase64(std::string_view in, std::vector<uint8_t>& out) {
  std::string clean;
  for (const char c : in) {
    if (std::isspace(static_cast<unsigned char>(c)) == 0) {
      clean.push_back(c);
    }
  }
  if (clean.empty() || clean.size() % 4 != 0) {
    return false;
  }
  size_t pad = 0;
  for (size_t i = clean.size(); i > 0 && clean[i - 1] == '='; --i) {
    ++pad;
  }
  if (pad > 2) {
    return false;
  }
  out.assign(clean.size() / 4 * 3, 0);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(clean.data()),
                                static_cast<int>(clean.size()));
  if (n < 0) {
    return false;
  }
  out.resize(static_cast<size_t>(n) - pad);
  return true;
}

// ---- digests --------------------------------------------------------------------------------

std::vector<uint8_t> hmac(const TsigKey& key, std::span<const uint8_t> data) {
  std::vector<uint8_t> mac(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  HMAC(digestOf(key.algorithm), key.secret.data(), static_cast<int>(key.secret.size()), data.data(),
       data.size(), mac.data(), &len);
  mac.resize(len);
  return mac;
}

/// Digest input: [prior MAC] message-as-unsigned [variables or timers].
std::vector<uint8_t> digestInput(std::span<const uint8_t> unsigned_msg, uint16_t original_id,
                                 const TsigKey& key, std::span<const uint8_t> prior_mac,
                                 uint64_t time_signed, uint16_t fudge, uint16_t error,
                                 std::span<const uint8_t> other, bool timers_only) {
  std::vector<uint8_t> d;
  d.reserve(unsigned_msg.size() + 128);
  if (!prior_mac.empty()) {
    put16(d, static_cast<uint16_t>(prior_mac.size()));
    d.insert(d.end(), prior_mac.begin(), prior_mac.end());
  }
  const size_t m = d.size();
  d.insert(d.end(), unsigned_msg.begin(), unsigned_msg.end());
  if (unsigned_msg.size() >= 2) {
    d[m] = static_cast<uint8_t>(original_id >> 8U);
    d[m + 1] = static_cast<uint8_t>(original_id & 0xFFU);
  }
  if (!timers_only) {
    d.insert(d.end(), key.name.begin(), key.name.end());
    put16(d, kClassAny);
    put32(d, 0);
    const auto alg = wireName(tsigAlgorithmName(key.algorithm));
    d.insert(d.end(), alg.begin(), alg.end());
  }
  put48(d, time_signed);
  put16(d, fudge);
  if (!timers_only) {
    put16(d, error);
    put16(d, static_cast<uint16_t>(other.size()));
    d.insert(d.end(), other.begin(), other.end());
  }
  return d;
}

bool readWireName(std::span<const uint8_t> msg, size_t& pos, std::vector<uint8_t>& out) {
  std::array<uint8_t, wire::kMaxNameWire> buf{};
  size_t len = 0;
  if (!wire::readName(msg, pos, buf, len)) {
    return false;
  }
  out.resize(len);
  wire::lowerName(std::span<const uint8_t>(buf.data(), len), out.data());
  return true;
}

/// Checks a found TSIG record against `key` and returns the message as it was before signing
/// (TSIG removed, ARCOUNT restored).
Result<std::vector<uint8_t>> checkRecord(std::span<const uint8_t> msg, const TsigRecord& r,
                                         const TsigKey& key) {
  if (r.key_name != key.name) {
    return makeError(Errc::Refused, "TSIG key name is not the configured key");
  }
  if (r.algorithm != wireName(tsigAlgorithmName(key.algorithm))) {
    return makeError(Errc::Refused, "TSIG algorithm is not the configured one");
  }
  std::vector<uint8_t> unsigned_msg(msg.begin(), msg.begin() + static_cast<ptrdiff_t>(r.offset));
  const uint16_t ar = wire::readU16(unsigned_msg.data() + 10);
  wire::writeU16(unsigned_msg.data() + 10, static_cast<uint16_t>(ar - 1));
  return unsigned_msg;
}

Status checkMacAndTime(const std::vector<uint8_t>& expected, const TsigRecord& r,
                       uint64_t now_unix) {
  if (r.mac.size() != expected.size() ||
      CRYPTO_memcmp(r.mac.data(), expected.data(), expected.size()) != 0) {
    return makeError(Errc::Refused, "TSIG signature does not verify (BADSIG)");
  }
  const uint64_t skew =
      now_unix > r.time_signed ? now_unix - r.time_signed : r.time_signed - now_unix;
  if (skew > r.fudge) {
    return makeError(Errc::Refused,
                     "TSIG time outside the fudge (BADTIME): skew " + std::to_string(skew) + " s");
  }
  return Ok{};
}

}  // namespace

std::string_view tsigAlgorithmName(TsigAlgorithm a) noexcept {
  switch (a) {
    case TsigAlgorithm::HmacSha1:
      return "hmac-sha1.";
    case TsigAlgorithm::HmacSha224:
      return "hmac-sha224.";
    case TsigAlgorithm::HmacSha256:
      return "hmac-sha256.";
    case TsigAlgorithm::HmacSha384:
      return "hmac-sha384.";
    case TsigAlgorithm::HmacSha512:
      return "hmac-sha512.";
  }
  return "hmac-sha256.";
}

Result<TsigKey> parseTsigKey(std::string_view text) {
  Lexer lx(text);
  auto expect = [&](Token::Kind kind, std::string_view what) -> Result<Token> {
    auto t = lx.next();
    if (!t) {
      return t;
    }
    if (t->kind != kind || (kind == Token::Punct && t->text != what) ||
        (kind == Token::Word && !what.empty() && t->text != what)) {
      return makeError(Errc::Malformed, Lexer::where(*t) + "expected " + std::string(what) +
                                            (t->kind == Token::End ? ", found end of file"
                                                                   : ", found '" + t->text + "'"));
    }
    return t;
  };
  auto kw = lx.next();
  if (!kw) {
    return makeError(kw.error().code, kw.error().detail);
  }
  if (kw->kind != Token::Word || kw->text != "key") {
    return makeError(Errc::Malformed, Lexer::where(*kw) + "expected 'key'");
  }
  auto name = lx.next();
  if (!name) {
    return makeError(name.error().code, name.error().detail);
  }
  if (name->kind != Token::Word && name->kind != Token::String) {
    return makeError(Errc::Malformed, Lexer::where(*name) + "expected the key name");
  }
  TsigKey key;
  key.name = wireName(name->text);
  if (key.name.empty()) {
    return makeError(Errc::Malformed,
                     Lexer::where(*name) + "invalid key name '" + name->text + "'");
  }
  if (auto t = expect(Token::Punct, "{"); !t) {
    return makeError(t.error().code, t.error().detail);
  }
  bool have_alg = false;
  bool have_secret = false;
  for (;;) {
    auto t = lx.next();
    if (!t) {
      return makeError(t.error().code, t.error().detail);
    }
    if (t->kind == Token::Punct && t->text == "}") {
      break;
    }
    if (t->kind != Token::Word) {
      return makeError(Errc::Malformed, Lexer::where(*t) + "expected 'algorithm', 'secret' or '}'");
    }
    if (t->text == "algorithm") {
      auto v = lx.next();
      if (!v) {
        return makeError(v.error().code, v.error().detail);
      }
      if ((v->kind != Token::Word && v->kind != Token::String) ||
          !algorithmFromText(v->text, key.algorithm)) {
        return makeError(Errc::Malformed,
                         Lexer::where(*v) + "unsupported algorithm '" + v->text +
                             "' (hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512)");
      }
      have_alg = true;
    } else if (t->text == "secret") {
      auto v = lx.next();
      if (!v) {
        return makeError(v.error().code, v.error().detail);
      }
      if (v->kind != Token::String || !decodeBase64(v->text, key.secret)) {
        return makeError(Errc::Malformed,
                         Lexer::where(*v) + "secret must be a quoted base64 string");
      }
      have_secret = true;
    } else {
      return makeError(Errc::Malformed, Lexer::where(*t) + "unknown key option '" + t->text + "'");
    }
    if (auto semi = expect(Token::Punct, ";"); !semi) {
      return makeError(semi.error().code, semi.error().detail);
    }
  }
  if (auto semi = expect(Token::Punct, ";"); !semi) {
    return makeError(semi.error().code, semi.error().detail);
  }
  if (!have_alg || !have_secret) {
    return makeError(Errc::Malformed,
                     Lexer::where(*name) + "key needs both 'algorithm' and 'secret'");
  }
  auto rest = lx.next();
  if (!rest) {
    return makeError(rest.error().code, rest.error().detail);
  }
  if (rest->kind != Token::End) {
    return makeError(Errc::Malformed, Lexer::where(*rest) + "one key per file");
  }
  return key;
}

Result<TsigKey> loadTsigKeyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return makeError(Errc::Io, path + ": cannot read TSIG key file");
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  auto key = parseTsigKey(ss.str());
  if (!key) {
    return makeError(key.error().code, path + ":" + key.error().detail);
  }
  return key;
}

std::vector<uint8_t> tsigSign(std::vector<uint8_t>& msg, const TsigKey& key, uint64_t time_signed,
                              std::span<const uint8_t> request_mac, uint16_t fudge, uint16_t error,
                              bool timers_only) {
  if (msg.size() < 12) {
    return {};
  }
  const uint16_t id = wire::readU16(msg.data());
  const auto input =
      digestInput(msg, id, key, request_mac, time_signed, fudge, error, {}, timers_only);
  auto mac = hmac(key, input);
  msg.insert(msg.end(), key.name.begin(), key.name.end());
  put16(msg, kTypeTsig);
  put16(msg, kClassAny);
  put32(msg, 0);
  const auto alg = wireName(tsigAlgorithmName(key.algorithm));
  put16(msg, static_cast<uint16_t>(alg.size() + 6 + 2 + 2 + mac.size() + 2 + 2 + 2));
  msg.insert(msg.end(), alg.begin(), alg.end());
  put48(msg, time_signed);
  put16(msg, fudge);
  put16(msg, static_cast<uint16_t>(mac.size()));
  msg.insert(msg.end(), mac.begin(), mac.end());
  put16(msg, id);
  put16(msg, error);
  put16(msg, 0);
  wire::writeU16(msg.data() + 10, static_cast<uint16_t>(wire::readU16(msg.data() + 10) + 1));
  return mac;
}

Result<TsigLookup> findTsig(std::span<const uint8_t> msg) {
  if (msg.size() < 12) {
    return makeError(Errc::Malformed, "message shorter than a header");
  }
  const uint8_t* h = msg.data();
  const uint32_t qd = wire::readU16(h + 4);
  const uint32_t rrs =
      uint32_t{wire::readU16(h + 6)} + wire::readU16(h + 8) + wire::readU16(h + 10);
  const uint32_t ar = wire::readU16(h + 10);
  size_t pos = 12;
  for (uint32_t i = 0; i < qd; ++i) {
    if (!wire::skipName(msg, pos) || msg.size() - pos < 4) {
      return makeError(Errc::Malformed, "bad question");
    }
    pos += 4;
  }
  TsigLookup out;
  for (uint32_t i = 0; i < rrs; ++i) {
    const size_t start = pos;
    size_t p = pos;
    if (!wire::skipName(msg, p) || msg.size() - p < 10) {
      return makeError(Errc::Malformed, "bad record");
    }
    const uint16_t type = wire::readU16(msg.data() + p);
    const uint16_t cls = wire::readU16(msg.data() + p + 2);
    const uint32_t ttl = wire::readU32(msg.data() + p + 4);
    const uint16_t rdlen = wire::readU16(msg.data() + p + 8);
    p += 10;
    if (msg.size() - p < rdlen) {
      return makeError(Errc::Malformed, "record runs past the message");
    }
    const size_t rdend = p + rdlen;
    if (type == kTypeTsig) {
      if (i + 1 != rrs || ar == 0) {
        return makeError(Errc::Malformed, "TSIG record is not the last additional record");
      }
      if (cls != kClassAny || ttl != 0) {
        return makeError(Errc::Malformed, "TSIG record with a class other than ANY or TTL");
      }
      TsigRecord& r = out.record;
      r.offset = start;
      size_t q = start;
      if (!readWireName(msg, q, r.key_name)) {
        return makeError(Errc::Malformed, "bad TSIG owner name");
      }
      q = p;
      const auto rd = msg.first(rdend);
      if (!readWireName(rd, q, r.algorithm) || rdend - q < 10) {
        return makeError(Errc::Malformed, "bad TSIG algorithm name");
      }
      r.time_signed =
          (uint64_t{wire::readU16(msg.data() + q)} << 32U) | wire::readU32(msg.data() + q + 2);
      r.fudge = wire::readU16(msg.data() + q + 6);
      const uint16_t mac_len = wire::readU16(msg.data() + q + 8);
      q += 10;
      if (rdend - q < size_t{mac_len} + 6) {
        return makeError(Errc::Malformed, "TSIG MAC runs past the record");
      }
      r.mac.assign(msg.begin() + static_cast<ptrdiff_t>(q),
                   msg.begin() + static_cast<ptrdiff_t>(q + mac_len));
      q += mac_len;
      r.original_id = wire::readU16(msg.data() + q);
      r.error = wire::readU16(msg.data() + q + 2);
      const uint16_t other_len = wire::readU16(msg.data() + q + 4);
      q += 6;
      if (rdend - q != other_len) {
        return makeError(Errc::Malformed, "TSIG other data does not fill the record");
      }
      r.other.assign(msg.begin() + static_cast<ptrdiff_t>(q),
                     msg.begin() + static_cast<ptrdiff_t>(rdend));
      out.found = true;
    }
    pos = rdend;
  }
  if (pos != msg.size()) {
    return makeError(Errc::Malformed, "trailing bytes after the last record");
  }
  return out;
}

Result<std::vector<uint8_t>> tsigVerifyRequest(std::span<const uint8_t> msg, const TsigKey& key,
                                               uint64_t now_unix) {
  auto found = findTsig(msg);
  if (!found) {
    return makeError(Errc::Malformed, found.error().detail);
  }
  if (!found->found) {
    return makeError(Errc::Refused, "message is not TSIG-signed");
  }
  const TsigRecord& r = found->record;
  auto unsigned_msg = checkRecord(msg, r, key);
  if (!unsigned_msg) {
    return makeError(unsigned_msg.error().code, unsigned_msg.error().detail);
  }
  const auto expected = hmac(key, digestInput(*unsigned_msg, r.original_id, key, {}, r.time_signed,
                                              r.fudge, r.error, r.other, false));
  if (auto st = checkMacAndTime(expected, r, now_unix); !st) {
    return makeError(st.error().code, st.error().detail);
  }
  return r.mac;
}

Status TsigStreamVerifier::verify(std::span<const uint8_t> msg, uint64_t now_unix) {
  auto found = findTsig(msg);
  if (!found) {
    return makeError(Errc::Malformed, found.error().detail);
  }
  if (!found->found) {
    return makeError(Errc::Refused,
                     "transfer message " + std::to_string(count_ + 1) + " is not TSIG-signed");
  }
  const TsigRecord& r = found->record;
  if (r.error != 0) {
    return makeError(Errc::Refused, "the primary answered with TSIG error " +
                                        std::to_string(r.error) +
                                        (r.error == 16   ? " (BADSIG)"
                                         : r.error == 17 ? " (BADKEY)"
                                         : r.error == 18 ? " (BADTIME)"
                                                         : ""));
  }
  auto unsigned_msg = checkRecord(msg, r, key_);
  if (!unsigned_msg) {
    return makeError(unsigned_msg.error().code, unsigned_msg.error().detail);
  }
  const bool timers_only = count_ > 0;
  const auto expected =
      hmac(key_, digestInput(*unsigned_msg, r.original_id, key_, prior_mac_, r.time_signed, r.fudge,
                             r.error, r.other, timers_only));
  if (auto st = checkMacAndTime(expected, r, now_unix); !st) {
    return st;
  }
  prior_mac_ = r.mac;
  ++count_;
  return Ok{};
}

}  // namespace steadfast::fetch
