// SPDX-License-Identifier: Apache-2.0
// The source step of a feed, pluggable: FeedControl asks a FeedFetcher for the feed's bytes
// and knows nothing of where they come from. Fetchers chosen by scheme in makeFetcher():
// file:// (FileFetcher), https:// (HttpsFetcher, resolver/io) and axfr:// (AxfrFetcher,
// threatfeed/fetch). The on-disk store is FeedControl's. A fetcher may block (a read, a transfer):
// it runs on the feed build thread, never on a worker or the control loop.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "resolver/base/result.h"
#include "threatfeed/core/feed_config.h"
#include "threatfeed/fetch/xfr.h"

namespace steadfast::app {

/// What one fetch produced.
struct FeedPayload {
  std::string bytes;       // the feed as published (zone file, list, hosts file)
  std::string origin;      // the path or URL, for logs
  std::string version;     // what identifies this copy (file: size and mtime; later ETag/serial)
  bool unchanged = false;  // same version as `last_version`: bytes is empty, nothing to build
  std::chrono::system_clock::time_point fetched{};
};

class FeedFetcher {
 public:
  virtual ~FeedFetcher() = default;
  /// Fetches the current copy. `last_version`: the version of the copy that serves now ("" for
  /// none); a fetcher may then answer `unchanged`. `force`: an operator refresh (SIGHUP): never
  /// answer unchanged.
  [[nodiscard]] virtual Result<FeedPayload> fetch(const std::string& last_version, bool force) = 0;
  /// Takes the stored copy (`bytes` as it was accepted) as where to go on from: an axfr://
  /// fetcher its zone, so the first transfer is an IXFR. Default: nothing to keep.
  virtual void restore(const std::string& bytes) { (void)bytes; }
};

/// Reads a local file, at most `max_bytes` of it (a larger file is an error, not truncated).
class FileFetcher final : public FeedFetcher {
 public:
  FileFetcher(std::string path, size_t max_bytes) : path_(std::move(path)), max_(max_bytes) {}
  [[nodiscard]] Result<FeedPayload> fetch(const std::string& last_version, bool force) override;

 private:
  std::string path_;
  size_t max_;
};

/// GETs an https:// URL (resolver/io/http_client.h: verified TLS, https-only redirects, size
/// cap), conditionally with the ETag / Last-Modified of the copy that serves: 304 is
/// `unchanged`. The version is "ETAG\tLAST-MODIFIED" (either may be empty; both empty: the
/// body's size, so that every copy is looked at). Credentials are read at each fetch.
class HttpsFetcher final : public FeedFetcher {
 public:
  explicit HttpsFetcher(threatfeed::FeedConfig cfg) : cfg_(std::move(cfg)) {}
  [[nodiscard]] Result<FeedPayload> fetch(const std::string& last_version, bool force) override;

 private:
  threatfeed::FeedConfig cfg_;
};

/// Transfers an axfr:// RPZ zone: AXFR first, then IXFR from the serial it keeps (ZoneCopy);
/// TSIG-signed when the feed has a `tsig_file` (loaded when the fetcher is made). The bytes are
/// the zone as a master file, for the RPZ parser; the version is the SOA serial.
class AxfrFetcher final : public FeedFetcher {
 public:
  explicit AxfrFetcher(threatfeed::FeedConfig cfg);
  [[nodiscard]] Result<FeedPayload> fetch(const std::string& last_version, bool force) override;
  void restore(const std::string& bytes) override;

 private:
  threatfeed::FeedConfig cfg_;
  Result<fetch::XfrTarget> target_;
  std::optional<Result<fetch::TsigKey>> key_;
  fetch::ZoneCopy zone_;
  SystemClock clock_;
};

/// The fetcher of a [[feed]] (chosen by its source's scheme), or null when its scheme has
/// none yet (such a feed is logged and left out).
std::unique_ptr<FeedFetcher> makeFetcher(const threatfeed::FeedConfig& feed);

}  // namespace steadfast::app
