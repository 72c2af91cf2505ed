// SPDX-License-Identifier: Apache-2.0
// The operator POST API of spec/interface.md "HTTP": POST /api/v1/failback and
// POST /api/v1/upstreams/drain {"upstream":"URI","drain":true}, behind a bearer token read
// from [report] api_token_file. The routes only authenticate and validate; the commands run
// behind PlanControl, which the daemon implements on its control thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "resolver/base/result.h"
#include "resolver/report/http_server.h"

namespace steadfast::report {

/// A command's answer: the HTTP status and the JSON text of the body.
struct ApiResult {
  int status = 200;
  std::string json;
};

/// What the API may do to the failover plan. Implemented by the consumer (the daemon posts
/// the command to its control thread and waits a bounded time). Called on HTTP threads, so
/// the implementation must be thread-safe; it should not throw (a throw answers 500).
class PlanControl {
 public:
  PlanControl() = default;
  virtual ~PlanControl();
  PlanControl(const PlanControl&) = delete;
  PlanControl& operator=(const PlanControl&) = delete;
  PlanControl(PlanControl&&) = delete;
  PlanControl& operator=(PlanControl&&) = delete;

  /// POST /api/v1/failback: return to the best usable tier now.
  virtual ApiResult failback() = 0;
  /// POST /api/v1/upstreams/drain: drain (or undrain) every upstream whose canonical URI
  /// (failover::UpstreamUri::text) is `canonical_uri`.
  virtual ApiResult drain(const std::string& canonical_uri, bool drain) = 0;
  /// POST /api/v1/crisis: the operator's crisis mode (union-only or auto). A directive in
  /// force still wins until it expires.
  virtual ApiResult crisis(bool union_only) = 0;
};

/// Shortest accepted token. The token is the only thing guarding the control commands and
/// the API has no rate limit, so it must be long enough that guessing it over HTTP is
/// hopeless: 16 random hex characters are 64 bits, 16 base64 characters 96 bits (the error
/// message suggests `openssl rand -hex 32`, 64 characters). A shorter token, typically a
/// hand-typed password, is refused at startup rather than silently accepted.
inline constexpr size_t kMinApiTokenLength = 16;
/// Longest accepted token file content (and token): it is one line, not a document.
inline constexpr size_t kMaxApiTokenLength = 4096;
/// Largest accepted POST body for the JSON commands.
inline constexpr size_t kMaxApiBodyBytes = 4096;

/// Reads the token from `path` ([report] api_token_file). Trailing whitespace (the newline
/// of `echo TOKEN > FILE`) is removed. Errors, each naming the file: unreadable (Errc::Io),
/// empty, longer than kMaxApiTokenLength, shorter than kMinApiTokenLength, or containing a
/// character outside printable ASCII without space (a token must go verbatim into
/// "Authorization: Bearer TOKEN") (Errc::InvalidArgument).
[[nodiscard]] Result<std::string> loadApiToken(const std::string& path);

/// True when `authorization_header` is "Bearer TOKEN" (scheme case-insensitive, one or more
/// spaces after it, RFC 6750 section 2.1) and TOKEN equals `expected`. The token bytes are
/// compared in constant time: every byte of `expected` is looked at whatever the input, with
/// no exit on the first difference or on a length mismatch, so the time depends on the length
/// of `expected` only and does not tell how much of a guess was right. An empty `expected`
/// never matches.
[[nodiscard]] bool tokenMatches(std::string_view expected, std::string_view authorization_header);

/// The body of POST /api/v1/upstreams/drain.
struct DrainRequest {
  std::string upstream;  // canonical URI (failover::UpstreamUri::text)
  bool drain = true;
};

/// Parses {"upstream": "URI", "drain": BOOL}: a JSON object, "upstream" a string (required,
/// a valid upstream URI, replaced by its canonical form), "drain" a boolean (optional,
/// default true). Unknown or repeated keys, other types, invalid JSON and bodies larger than
/// kMaxApiBodyBytes are errors (Errc::InvalidArgument) with a message meant for the client.
/// Never throws.
[[nodiscard]] Result<DrainRequest> parseDrainRequest(std::string_view body) noexcept;

/// The body of POST /api/v1/crisis.
struct CrisisRequest {
  bool union_only = false;
};

/// Parses {"mode": "union-only" | "auto"}: a JSON object with exactly that key. Anything else
/// (other keys or values, invalid JSON, bodies over kMaxApiBodyBytes) is an error
/// (Errc::InvalidArgument) with a message meant for the client. Never throws.
[[nodiscard]] Result<CrisisRequest> parseCrisisRequest(std::string_view body) noexcept;

struct ApiRoutes {
  /// Runs the commands; must outlive the server (or the routes' replacement). Null: the
  /// commands answer 503.
  PlanControl* plan = nullptr;
  /// The bearer token (see loadApiToken). Empty: the API is disabled and every POST answers
  /// 403, as the spec says for a missing [report] api_token_file.
  std::string token;
};

/// Installs POST /api/v1/failback and POST /api/v1/upstreams/drain. Each answers, in order:
///   403 when no token is configured;
///   401 with "WWW-Authenticate: Bearer ..." when Authorization is missing or wrong (the
///       spec's 403 is for a disabled API; a bad credential is the RFC 6750/9110 401, so a
///       client can tell "configure the server" from "fix your token");
///   400 for a bad body (failback takes no body: empty, whitespace or {} only);
///   503 when `plan` is null;
///   otherwise the PlanControl's ApiResult (500 if its status is not a valid HTTP status).
/// Calling it again replaces the routes (e.g. with a reloaded token).
void installApiRoutes(HttpServer& server, ApiRoutes routes);

}  // namespace steadfast::report
