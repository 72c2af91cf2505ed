// SPDX-License-Identifier: Apache-2.0
#include "resolver/app/crisis_directive.h"

#include <fstream>
#include <string_view>

namespace steadfast::app {

Result<std::string> fetchFileUrl(const std::string& url) {
  constexpr std::string_view kScheme = "file://";
  if (url.compare(0, kScheme.size(), kScheme) != 0 || url.size() <= kScheme.size() ||
      url[kScheme.size()] != '/') {
    return makeError(Errc::InvalidArgument, url + ": expected file:///absolute/path");
  }
  const std::string path = url.substr(kScheme.size());
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return makeError(Errc::Io, path + ": cannot open");
  }
  std::string body(kMaxDirectiveFetchBytes + 1, '\0');
  in.read(body.data(), static_cast<std::streamsize>(body.size()));
  body.resize(static_cast<std::size_t>(in.gcount()));
  if (body.size() > kMaxDirectiveFetchBytes) {
    return makeError(Errc::Malformed,
                     path + ": larger than " + std::to_string(kMaxDirectiveFetchBytes) + " bytes");
  }
  return body;
}

Result<std::string> fetchDirectiveUrl(const std::string& url) {
  if (url.rfind("https://", 0) == 0) {
    return makeError(Errc::InvalidArgument,
                     url + ": https:// directives are not supported yet (use file://)");
  }
  return fetchFileUrl(url);
}

DirectiveCheck checkDirective(const std::string& url, const io::Ed25519PublicKey& key,
                              const FetchFn& fetch, failover::CrisisState& state) {
  using failover::DirectiveResult;
  DirectiveCheck out;
  out.change = state.tick();  // an expired directive ends first, whatever the fetch does
  auto body = fetch(url);
  if (!body) {
    out.result = DirectiveResult::FetchError;
    out.detail = body.error().detail;
    return out;
  }
  auto sig = fetch(url + ".sig");
  if (!sig) {
    out.result = DirectiveResult::Unsigned;
    out.detail = "no signature: " + sig.error().detail;
    return out;
  }
  if (!key.verify(*body, *sig)) {
    out.result = DirectiveResult::BadSignature;
    out.detail = "the signature does not verify with directive_public_key";
    return out;
  }
  auto d = failover::parseDirective(*body);
  if (!d) {
    out.result = DirectiveResult::Malformed;
    out.detail = d.error().detail;
    return out;
  }
  std::optional<failover::CrisisChange> change;
  out.result = state.offer(*d, &change);
  if (change) {
    out.change = std::move(change);
  }
  if (out.result == DirectiveResult::Expired) {
    out.detail = "expired at " + std::to_string(d->expiresAt);
  } else if (out.result == DirectiveResult::Replayed) {
    out.detail = "issued_at " + std::to_string(d->issuedAt) + " not newer than the last accepted";
  }
  return out;
}

}  // namespace steadfast::app
