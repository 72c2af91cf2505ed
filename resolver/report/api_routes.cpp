// SPDX-License-Identifier: Apache-2.0
// POST /api/v1/failback and POST /api/v1/upstreams/drain: token check, body validation, then
// the PlanControl. Nothing here throws out of a handler or a parser.
#include "resolver/report/api_routes.h"

#include <algorithm>
#include <cerrno>
#include <exception>
#include <filesystem>
#include <fstream>
#include <ios>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <nlohmann/json.hpp>

#include "failover/plan_config.h"

namespace steadfast::report {
namespace {

constexpr std::string_view kDrainShape = R"({"upstream": "URI", "drain": true})";
constexpr size_t kMaxKeyInMessage = 64;

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

bool onlySpace(std::string_view s) {
  return std::all_of(s.begin(), s.end(), isSpace);
}

Unexpected<Error> invalid(std::string message) {
  return makeError(Errc::InvalidArgument, std::move(message));
}

// A client-supplied key for a message: quoted, at most kMaxKeyInMessage bytes of it.
std::string quoteKey(std::string_view key) {
  if (key.size() > kMaxKeyInMessage) {
    return "\"" + std::string(key.substr(0, kMaxKeyInMessage)) + "...\"";
  }
  return "\"" + std::string(key) + "\"";
}

// nlohmann's what() starts with "[json.exception.parse_error.101] "; the rest is the message.
std::string_view withoutExceptionId(std::string_view what) {
  if (what.starts_with("[json.exception.")) {
    const auto end = what.find("] ");
    if (end != std::string_view::npos) {
      return what.substr(end + 2);
    }
  }
  return what;
}

// Parses `body` as one JSON value. Repeated keys in the top-level object are an error (nlohmann
// would silently keep the last one, and {"upstream":"a","upstream":"b"} is ambiguous).
Result<nlohmann::json> parseJson(std::string_view body) {
  std::string duplicate;
  std::set<std::string> seen;
  const nlohmann::json::parser_callback_t track =
      [&duplicate, &seen](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        if (event == nlohmann::json::parse_event_t::key && depth == 1 && duplicate.empty() &&
            parsed.is_string() && !seen.insert(parsed.get<std::string>()).second) {
          duplicate = parsed.get<std::string>();
        }
        return true;
      };
  try {
    nlohmann::json j = nlohmann::json::parse(body.begin(), body.end(), track);
    if (!duplicate.empty()) {
      return invalid("duplicate key " + quoteKey(duplicate));
    }
    return j;
  } catch (const nlohmann::json::exception& e) {
    return invalid("invalid JSON: " + std::string(withoutExceptionId(e.what())));
  }
}

Result<DrainRequest> parseDrainRequestImpl(std::string_view body) {
  if (body.size() > kMaxApiBodyBytes) {
    return invalid("request body too large: " + std::to_string(body.size()) + " bytes, at most " +
                   std::to_string(kMaxApiBodyBytes));
  }
  if (onlySpace(body)) {
    return invalid("empty body: expected " + std::string(kDrainShape));
  }
  auto parsed = parseJson(body);
  if (!parsed) {
    return Unexpected<Error>{parsed.error()};
  }
  const nlohmann::json& j = *parsed;
  if (!j.is_object()) {
    return invalid("expected a JSON object " + std::string(kDrainShape) + ", got " +
                   std::string(j.type_name()));
  }
  DrainRequest out;
  const nlohmann::json* upstream = nullptr;
  for (const auto& [key, value] : j.items()) {
    if (key == "upstream") {
      if (!value.is_string()) {
        return invalid(R"("upstream" must be a string, got )" + std::string(value.type_name()));
      }
      upstream = &value;
    } else if (key == "drain") {
      if (!value.is_boolean()) {
        return invalid(R"("drain" must be true or false, got )" + std::string(value.type_name()));
      }
      out.drain = value.get<bool>();
    } else {
      return invalid("unknown key " + quoteKey(key) + R"(: expected "upstream" and optionally )" +
                     R"("drain")");
    }
  }
  if (upstream == nullptr) {
    return invalid(R"(missing "upstream": expected )" + std::string(kDrainShape));
  }
  const auto& text = upstream->get_ref<const std::string&>();
  // UpstreamUri::parse hands the address to inet_pton as a C string, so an embedded NUL
  // would cut it short ("dns://192.0.2.1\u0000junk" would name 192.0.2.1): refuse control
  // characters before that.
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return invalid(R"("upstream" contains a control character)");
    }
  }
  auto uri = failover::UpstreamUri::parse(text);
  if (!uri) {
    return invalid(uri.error().detail);
  }
  out.upstream = std::move(uri->text);
  return out;
}

constexpr std::string_view kCrisisShape = R"({"mode": "union-only"} or {"mode": "auto"})";

Result<CrisisRequest> parseCrisisRequestImpl(std::string_view body) {
  if (body.size() > kMaxApiBodyBytes) {
    return invalid("request body too large: " + std::to_string(body.size()) + " bytes, at most " +
                   std::to_string(kMaxApiBodyBytes));
  }
  if (onlySpace(body)) {
    return invalid("empty body: expected " + std::string(kCrisisShape));
  }
  auto parsed = parseJson(body);
  if (!parsed) {
    return Unexpected<Error>{parsed.error()};
  }
  const nlohmann::json& j = *parsed;
  if (!j.is_object()) {
    return invalid("expected a JSON object " + std::string(kCrisisShape) + ", got " +
                   std::string(j.type_name()));
  }
  std::optional<CrisisRequest> out;
  for (const auto& [key, value] : j.items()) {
    if (key != "mode") {
      return invalid("unknown key " + quoteKey(key) + R"(: expected only "mode")");
    }
    if (!value.is_string()) {
      return invalid(R"("mode" must be a string, got )" + std::string(value.type_name()));
    }
    const auto& text = value.get_ref<const std::string&>();
    if (text == "union-only") {
      out = CrisisRequest{true};
    } else if (text == "auto") {
      out = CrisisRequest{false};
    } else {
      return invalid(R"("mode" must be "union-only" or "auto")");
    }
  }
  if (!out) {
    return invalid(R"(missing "mode": expected )" + std::string(kCrisisShape));
  }
  return *out;
}

// POST /api/v1/failback takes no arguments: an empty body or {} (so that a client that always
// sends a JSON object works), anything else is refused rather than silently ignored.
Status parseEmptyRequest(std::string_view body) {
  if (body.size() > kMaxApiBodyBytes) {
    return invalid("request body too large: " + std::to_string(body.size()) + " bytes, at most " +
                   std::to_string(kMaxApiBodyBytes));
  }
  if (onlySpace(body)) {
    return Ok{};
  }
  auto parsed = parseJson(body);
  if (!parsed) {
    return Unexpected<Error>{parsed.error()};
  }
  if (!parsed->is_object()) {
    return invalid("this command takes no arguments: send no body or {}, not " +
                   std::string(parsed->type_name()));
  }
  if (!parsed->empty()) {
    return invalid("unknown key " + quoteKey(parsed->items().begin().key()) +
                   ": this command takes no arguments");
  }
  return Ok{};
}

HttpResponse unauthorized(bool had_credentials) {
  HttpResponse r = jsonError(
      401, had_credentials ? "invalid token" : "missing \"Authorization: Bearer TOKEN\" header");
  // RFC 6750 section 3: error="invalid_token" only when credentials were sent.
  r.headers.emplace_back("WWW-Authenticate",
                         had_credentials ? R"(Bearer realm="steadfast", error="invalid_token")"
                                         : R"(Bearer realm="steadfast")");
  return r;
}

HttpResponse fromResult(const ApiResult& result) {
  if (result.status < 100 || result.status > 599) {
    return jsonError(
        500, "the command returned an invalid HTTP status " + std::to_string(result.status));
  }
  return jsonResponse(result.status, result.json.empty() ? std::string("{}") : result.json);
}

// The checks every API route makes before looking at its body; nullopt: go on.
std::optional<HttpResponse> refuse(const std::string& token, const HttpRequest& request) {
  if (token.empty()) {
    return jsonError(403, "the API is disabled: set [report] api_token_file");
  }
  const auto authorization = request.header("Authorization");
  if (!authorization) {
    return unauthorized(false);
  }
  if (!tokenMatches(token, *authorization)) {
    return unauthorized(true);
  }
  return std::nullopt;
}

}  // namespace

PlanControl::~PlanControl() = default;

Result<std::string> loadApiToken(const std::string& path) {
  const std::string where = "api_token_file '" + path + "'";
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return makeError(Errc::Io, "cannot read " + where + ": it is a directory");
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    return makeError(Errc::Io,
                     "cannot read " + where + ": " +
                         (err != 0 ? std::generic_category().message(err) : "cannot open"));
  }
  std::string content;
  content.resize(kMaxApiTokenLength + 1);
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  if (in.bad()) {
    return makeError(Errc::Io, "cannot read " + where);
  }
  content.resize(static_cast<size_t>(in.gcount()));
  if (content.size() > kMaxApiTokenLength) {
    return invalid(where + " is larger than " + std::to_string(kMaxApiTokenLength) +
                   " bytes; it must hold only the token");
  }
  while (!content.empty() && isSpace(content.back())) {
    content.pop_back();
  }
  if (content.empty()) {
    return invalid(where + " is empty; put a random token in it, e.g. openssl rand -hex 32");
  }
  for (char c : content) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return invalid(where +
                     " holds a character other than printable ASCII (space, control or "
                     "non-ASCII); the token must fit verbatim in \"Authorization: Bearer TOKEN\"");
    }
  }
  if (content.size() < kMinApiTokenLength) {
    return invalid(where + ": the token has " + std::to_string(content.size()) +
                   " characters, at least " + std::to_string(kMinApiTokenLength) +
                   " are required (e.g. openssl rand -hex 32)");
  }
  return content;
}

bool tokenMatches(std::string_view expected, std::string_view authorization_header) {
  constexpr std::string_view kScheme = "bearer";
  if (expected.empty() || authorization_header.size() <= kScheme.size()) {
    return false;
  }
  // The scheme and separator are not secret: plain comparisons.
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (lower(authorization_header[i]) != kScheme[i]) {
      return false;
    }
  }
  std::string_view given = authorization_header.substr(kScheme.size());
  if (given.front() != ' ') {
    return false;
  }
  while (!given.empty() && given.front() == ' ') {
    given.remove_prefix(1);
  }
  // The token: every byte of `expected` is compared, the differences ORed together, and the
  // length mismatch folded in at the end, so no branch depends on the secret's content.
  // `volatile` keeps the compiler from turning the loop into an early-exit comparison.
  volatile unsigned char diff = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const char g = i < given.size() ? given[i] : '\0';
    diff = static_cast<unsigned char>(diff | static_cast<unsigned char>(expected[i] ^ g));
  }
  const unsigned char length_differs = given.size() != expected.size() ? 1U : 0U;
  return static_cast<unsigned char>(diff | length_differs) == 0;
}

Result<CrisisRequest> parseCrisisRequest(std::string_view body) noexcept {
  try {
    return parseCrisisRequestImpl(body);
  } catch (const std::exception& e) {  // allocation failure, or a bug: never escape
    return makeError(Errc::Internal, std::string("cannot parse the request: ") + e.what());
  } catch (...) {
    return makeError(Errc::Internal, "cannot parse the request");
  }
}

Result<DrainRequest> parseDrainRequest(std::string_view body) noexcept {
  try {
    return parseDrainRequestImpl(body);
  } catch (const std::exception& e) {  // allocation failure, or a bug: never escape
    return makeError(Errc::Internal, std::string("cannot parse the request: ") + e.what());
  } catch (...) {
    return makeError(Errc::Internal, "cannot parse the request");
  }
}

void installApiRoutes(HttpServer& server, ApiRoutes routes) {
  PlanControl* plan = routes.plan;
  server.handlePost("/api/v1/failback", [plan, token = routes.token](const HttpRequest& request) {
    if (auto refused = refuse(token, request)) {
      return std::move(*refused);
    }
    if (Status body = parseEmptyRequest(request.body); !body) {
      return jsonError(400, body.error().detail);
    }
    if (plan == nullptr) {
      return jsonError(503, "the failover plan is not available");
    }
    return fromResult(plan->failback());
  });
  server.handlePost("/api/v1/crisis", [plan, token = routes.token](const HttpRequest& request) {
    if (auto refused = refuse(token, request)) {
      return std::move(*refused);
    }
    auto parsed = parseCrisisRequest(request.body);
    if (!parsed) {
      return jsonError(parsed.error().code == Errc::InvalidArgument ? 400 : 500,
                       parsed.error().detail);
    }
    if (plan == nullptr) {
      return jsonError(503, "the failover plan is not available");
    }
    return fromResult(plan->crisis(parsed->union_only));
  });
  server.handlePost("/api/v1/upstreams/drain",
                    [plan, token = std::move(routes.token)](const HttpRequest& request) {
                      if (auto refused = refuse(token, request)) {
                        return std::move(*refused);
                      }
                      auto parsed = parseDrainRequest(request.body);
                      if (!parsed) {
                        return jsonError(parsed.error().code == Errc::InvalidArgument ? 400 : 500,
                                         parsed.error().detail);
                      }
                      if (plan == nullptr) {
                        return jsonError(503, "the failover plan is not available");
                      }
                      return fromResult(plan->drain(parsed->upstream, parsed->drain));
                    });
}

}  // namespace steadfast::report
