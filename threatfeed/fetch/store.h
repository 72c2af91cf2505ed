// SPDX-License-Identifier: Apache-2.0
// FeedStore: the last accepted copy of every feed under `[state] dir`/feeds, so a restart while
// the hub is unreachable still blocks, and IXFR resumes from the stored serial. One file per
// feed holds both the metadata and the body, so one rename() replaces them together: written
// to a temporary file in the same directory, fsynced, renamed over the old copy, and the
// directory fsynced. A SHA-256 of the body in the header catches a damaged file on load.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "resolver/base/result.h"

namespace steadfast::fetch {

struct StoredMeta {
  std::string source;              // the feed's source URI when it was stored
  std::optional<uint32_t> serial;  // RPZ: SOA serial of the stored zone
  std::string etag;                // HTTPS: validator of the stored body
  std::string last_modified;       // HTTPS
  int64_t stored_unix = 0;         // wall-clock seconds when accepted
};

struct StoredFeed {
  StoredMeta meta;
  std::string body;  // RPZ: the zone as a master file; lists: the body as fetched
};

class FeedStore {
 public:
  /// `state_dir` is `[state] dir`; feeds live in `state_dir`/feeds (created on demand).
  explicit FeedStore(std::string state_dir);

  /// Atomically replaces the stored copy of `feed`. On error the previous copy is intact.
  Status save(std::string_view feed, const StoredFeed& copy) const;
  /// The stored copy; Errc::Io when there is none, Errc::Malformed when it is damaged (both
  /// name the file).
  Result<StoredFeed> load(std::string_view feed) const;
  /// The path of `feed`'s file (names outside [A-Za-z0-9._-] are hex-escaped).
  std::string pathOf(std::string_view feed) const;

  /// Serialization, exposed for tests and fuzzing.
  static std::string encode(const StoredFeed& copy);
  static Result<StoredFeed> decode(std::string_view bytes);

 private:
  std::string dir_;
};

}  // namespace steadfast::fetch
