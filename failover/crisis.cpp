// SPDX-License-Identifier: Apache-2.0
#include "failover/crisis.h"

#include <chrono>
#include <exception>
#include <limits>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

namespace steadfast::failover {

std::string_view crisisModeName(CrisisMode m) noexcept {
  return m == CrisisMode::UnionOnly ? "union-only" : "auto";
}

std::optional<CrisisMode> parseCrisisMode(std::string_view s) noexcept {
  if (s == "auto") {
    return CrisisMode::Auto;
  }
  if (s == "union-only") {
    return CrisisMode::UnionOnly;
  }
  return std::nullopt;
}

std::string_view crisisSourceName(CrisisSource s) noexcept {
  switch (s) {
    case CrisisSource::Config:
      return "config";
    case CrisisSource::Operator:
      return "operator";
    case CrisisSource::Directive:
      return "directive";
  }
  return "config";
}

std::string_view directiveResultName(DirectiveResult r) noexcept {
  switch (r) {
    case DirectiveResult::Accepted:
      return "accepted";
    case DirectiveResult::Unsigned:
      return "unsigned";
    case DirectiveResult::BadSignature:
      return "bad_signature";
    case DirectiveResult::Expired:
      return "expired";
    case DirectiveResult::Replayed:
      return "replayed";
    case DirectiveResult::Malformed:
      return "malformed";
    case DirectiveResult::FetchError:
      return "fetch_error";
  }
  return "malformed";
}

namespace {

Unexpected<Error> malformed(std::string detail) {
  return makeError(Errc::Malformed, std::move(detail));
}

// One flat JSON object of scalars, no repeated key, at most `maxBytes`.
Result<nlohmann::json> parseFlatObject(std::string_view body, std::size_t maxBytes) {
  if (body.size() > maxBytes) {
    return malformed("document too large: " + std::to_string(body.size()) + " bytes, at most " +
                     std::to_string(maxBytes));
  }
  std::string problem;
  std::set<std::string> seen;
  const nlohmann::json::parser_callback_t track =
      [&problem, &seen](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        if (!problem.empty()) {
          return false;
        }
        if (depth > 2 || (depth >= 1 && (event == nlohmann::json::parse_event_t::object_start ||
                                         event == nlohmann::json::parse_event_t::array_start))) {
          problem = "nested values are not allowed";
          return false;
        }
        if (event == nlohmann::json::parse_event_t::key && parsed.is_string() &&
            !seen.insert(parsed.get<std::string>()).second) {
          problem = "duplicate key \"" + parsed.get<std::string>() + "\"";
          return false;
        }
        return true;
      };
  try {
    nlohmann::json j = nlohmann::json::parse(body.begin(), body.end(), track);
    if (!problem.empty()) {
      return malformed(problem);
    }
    if (!j.is_object()) {
      return malformed("expected a JSON object, got " + std::string(j.type_name()));
    }
    return j;
  } catch (const nlohmann::json::exception& e) {
    if (!problem.empty()) {
      return malformed(problem);
    }
    return malformed(std::string("invalid JSON: ") + e.what());
  }
}

Result<int64_t> unixSeconds(const nlohmann::json& v, std::string_view key) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / 2)) {
      return malformed("\"" + std::string(key) + "\" out of range");
    }
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) {
    const auto i = v.get<int64_t>();
    if (i < 0) {
      return malformed("\"" + std::string(key) + "\" must not be negative");
    }
    return i;
  }
  return malformed("\"" + std::string(key) + "\" must be an integer (Unix seconds), got " +
                   std::string(v.type_name()));
}

Result<std::string> boundedText(const nlohmann::json& v, std::string_view key) {
  if (!v.is_string()) {
    return malformed("\"" + std::string(key) + "\" must be a string, got " +
                     std::string(v.type_name()));
  }
  const auto& s = v.get_ref<const std::string&>();
  if (s.size() > kMaxDirectiveTextBytes) {
    return malformed("\"" + std::string(key) + "\" longer than " +
                     std::to_string(kMaxDirectiveTextBytes) + " bytes");
  }
  for (const char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return malformed("\"" + std::string(key) + "\" contains a control character");
    }
  }
  return s;
}

Result<Directive> directiveFromJson(const nlohmann::json& j) {
  Directive d;
  bool haveMode = false;
  bool haveIssued = false;
  bool haveExpires = false;
  bool haveIssuer = false;
  for (const auto& [key, value] : j.items()) {
    if (key == "mode") {
      if (!value.is_string()) {
        return malformed("\"mode\" must be a string");
      }
      auto m = parseCrisisMode(value.get_ref<const std::string&>());
      if (!m) {
        return malformed("\"mode\" must be \"auto\" or \"union-only\"");
      }
      d.mode = *m;
      haveMode = true;
    } else if (key == "issued_at") {
      auto t = unixSeconds(value, key);
      if (!t) {
        return Unexpected<Error>{t.error()};
      }
      d.issuedAt = *t;
      haveIssued = true;
    } else if (key == "expires_at") {
      auto t = unixSeconds(value, key);
      if (!t) {
        return Unexpected<Error>{t.error()};
      }
      d.expiresAt = *t;
      haveExpires = true;
    } else if (key == "issuer" || key == "reason") {
      auto s = boundedText(value, key);
      if (!s) {
        return Unexpected<Error>{s.error()};
      }
      (key == "issuer" ? d.issuer : d.reason) = std::move(*s);
      haveIssuer = haveIssuer || key == "issuer";
    } else {
      return malformed("unknown key \"" + key.substr(0, 64) + "\"");
    }
  }
  if (!haveMode || !haveIssued || !haveExpires || !haveIssuer) {
    return malformed(R"(missing key: expected "mode", "issued_at", "expires_at", "issuer")");
  }
  if (d.expiresAt <= d.issuedAt) {
    return malformed("\"expires_at\" must be after \"issued_at\"");
  }
  return d;
}

nlohmann::json directiveToJson(const Directive& d) {
  return nlohmann::json{{"mode", crisisModeName(d.mode)},
                        {"issued_at", d.issuedAt},
                        {"expires_at", d.expiresAt},
                        {"issuer", d.issuer},
                        {"reason", d.reason}};
}

}  // namespace

Result<Directive> parseDirective(std::string_view body) noexcept {
  try {
    auto j = parseFlatObject(body, kMaxDirectiveBytes);
    if (!j) {
      return Unexpected<Error>{j.error()};
    }
    return directiveFromJson(*j);
  } catch (const std::exception& e) {
    return makeError(Errc::Internal, std::string("cannot parse the directive: ") + e.what());
  } catch (...) {
    return makeError(Errc::Internal, "cannot parse the directive");
  }
}

std::string serializeCrisis(const CrisisPersisted& p) {
  nlohmann::json j{{"version", 1}, {"last_issued_at", p.lastIssuedAt}};
  if (p.operatorMode) {
    j["operator_mode"] = crisisModeName(*p.operatorMode);
  }
  if (p.active) {
    j["directive"] = directiveToJson(*p.active);
  }
  return j.dump() + "\n";
}

Result<CrisisPersisted> parseCrisisState(std::string_view body) noexcept {
  try {
    if (body.size() > 4 * kMaxDirectiveBytes) {
      return malformed("state file too large");
    }
    const auto j = nlohmann::json::parse(body.begin(), body.end());
    if (!j.is_object() || j.value("version", 0) != 1) {
      return malformed("not a version 1 crisis state object");
    }
    CrisisPersisted p;
    if (j.contains("last_issued_at")) {
      auto t = unixSeconds(j.at("last_issued_at"), "last_issued_at");
      if (!t) {
        return Unexpected<Error>{t.error()};
      }
      p.lastIssuedAt = *t;
    }
    if (j.contains("operator_mode")) {
      const auto& m = j.at("operator_mode");
      if (!m.is_string()) {
        return malformed("\"operator_mode\" must be a string");
      }
      p.operatorMode = parseCrisisMode(m.get_ref<const std::string&>());
      if (!p.operatorMode) {
        return malformed("\"operator_mode\" must be \"auto\" or \"union-only\"");
      }
    }
    if (j.contains("directive")) {
      const auto& dj = j.at("directive");
      if (!dj.is_object()) {
        return malformed("\"directive\" must be an object");
      }
      auto d = directiveFromJson(dj);
      if (!d) {
        return Unexpected<Error>{d.error()};
      }
      p.active = std::move(*d);
    }
    return p;
  } catch (const nlohmann::json::exception& e) {
    return malformed(std::string("invalid JSON: ") + e.what());
  } catch (...) {
    return makeError(Errc::Internal, "cannot parse the crisis state");
  }
}

CrisisState::CrisisState(CrisisMode configMode, const CrisisPersisted& restored, Clock& clock)
    : clock_(clock),
      operator_(restored.operatorMode.value_or(configMode)),
      operatorSet_(restored.operatorMode.has_value()),
      lastIssuedAt_(restored.lastIssuedAt),
      active_(restored.active),
      effective_(operator_),
      source_(operatorSet_ ? CrisisSource::Operator : CrisisSource::Config) {
  if (active_ && active_->issuedAt > lastIssuedAt_) {
    lastIssuedAt_ = active_->issuedAt;
  }
  if (active_ && active_->expiresAt <= nowUnix()) {
    active_.reset();
  }
  if (active_) {
    effective_ = active_->mode;
    source_ = CrisisSource::Directive;
  }
}

int64_t CrisisState::nowUnix() const noexcept {
  return std::chrono::duration_cast<std::chrono::seconds>(clock_.wallNow().time_since_epoch())
      .count();
}

CrisisPersisted CrisisState::persisted() const {
  CrisisPersisted p;
  if (operatorSet_) {
    p.operatorMode = operator_;
  }
  p.lastIssuedAt = lastIssuedAt_;
  p.active = active_;
  return p;
}

std::optional<CrisisChange> CrisisState::recompute(std::string who) {
  const CrisisMode before = effective_;
  if (active_) {
    effective_ = active_->mode;
    source_ = CrisisSource::Directive;
  } else {
    effective_ = operator_;
    source_ = operatorSet_ ? CrisisSource::Operator : CrisisSource::Config;
  }
  if (effective_ == before) {
    return std::nullopt;
  }
  return CrisisChange{before, effective_, source_, std::move(who)};
}

std::optional<CrisisChange> CrisisState::setOperator(CrisisMode m, std::string_view who) {
  operator_ = m;
  operatorSet_ = true;
  return recompute("operator:" + std::string(who));
}

DirectiveResult CrisisState::offer(const Directive& d, std::optional<CrisisChange>* change) {
  if (d.expiresAt <= nowUnix()) {
    return DirectiveResult::Expired;
  }
  if (d.issuedAt <= lastIssuedAt_) {
    return DirectiveResult::Replayed;
  }
  lastIssuedAt_ = d.issuedAt;
  active_ = d;
  auto c = recompute("directive:" + d.issuer);
  if (change != nullptr) {
    *change = std::move(c);
  }
  return DirectiveResult::Accepted;
}

std::optional<CrisisChange> CrisisState::tick() {
  if (!active_ || active_->expiresAt > nowUnix()) {
    return std::nullopt;
  }
  const std::string issuer = active_->issuer;
  active_.reset();
  return recompute("directive expired:" + issuer);
}

}  // namespace steadfast::failover
