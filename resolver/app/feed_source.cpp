// SPDX-License-Identifier: Apache-2.0
#include "resolver/app/feed_source.h"

#include <cerrno>
#include <cstdio>
#include <sys/stat.h>
#include <system_error>

#include "resolver/io/http_client.h"

namespace steadfast::app {
namespace {

std::string errnoText(int e) {
  return std::generic_category().message(e);
}

}  // namespace

Result<FeedPayload> FileFetcher::fetch(const std::string& last_version, bool force) {
  FeedPayload p;
  p.origin = path_;
  std::FILE* f = std::fopen(path_.c_str(), "rb");
  if (f == nullptr) {
    return makeError(Errc::Io, path_ + ": cannot read: " + errnoText(errno));
  }
  struct stat st {};
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    (void)std::fclose(f);
    return makeError(Errc::Io, path_ + ": cannot read: not a regular file");
  }
  p.version = std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
              std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_ino);
  p.fetched = std::chrono::system_clock::now();
  if (!force && p.version == last_version) {
    (void)std::fclose(f);
    p.unchanged = true;
    return p;
  }
  if (static_cast<uint64_t>(st.st_size) > max_) {
    (void)std::fclose(f);
    return makeError(Errc::Io, path_ + ": larger than the feed size limit of " +
                                   std::to_string(max_) + " bytes");
  }
  p.bytes.resize(static_cast<size_t>(st.st_size));
  const size_t got = p.bytes.empty() ? 0 : std::fread(p.bytes.data(), 1, p.bytes.size(), f);
  const bool failed = std::ferror(f) != 0;
  const int e = errno;
  (void)std::fclose(f);
  if (failed) {
    return makeError(Errc::Io, path_ + ": cannot read: " + errnoText(e));
  }
  p.bytes.resize(got);  // a file that shrank while read: what was there
  return p;
}

Result<FeedPayload> HttpsFetcher::fetch(const std::string& last_version, bool force) {
  io::HttpRequest req;
  req.url = cfg_.source;
  req.ca_file = cfg_.ca_file;
  req.max_body_bytes = cfg_.max_size;
  if (!cfg_.credentials_file.empty()) {
    auto creds = io::loadHttpCredentials(cfg_.credentials_file);
    if (!creds) {
      return makeError(Errc::Io, creds.error().detail);
    }
    req.credentials = std::move(*creds);
  }
  const auto tab = last_version.find('\t');
  if (!force && tab != std::string::npos) {
    req.if_none_match = last_version.substr(0, tab);
    req.if_modified_since = last_version.substr(tab + 1);
  }
  auto resp = io::fetchHttps(req);
  if (!resp) {
    return makeError(resp.error().code, cfg_.source + ": " + resp.error().detail);
  }
  FeedPayload p;
  p.origin = cfg_.source;
  p.fetched = std::chrono::system_clock::now();
  if (resp->not_modified) {
    if (force || tab == std::string::npos) {
      return makeError(Errc::Io, cfg_.source + ": 304 Not Modified to an unconditional GET");
    }
    p.version = last_version;
    p.unchanged = true;
    return p;
  }
  if (resp->status < 200 || resp->status > 299) {
    return makeError(Errc::Io, cfg_.source + ": HTTP status " + std::to_string(resp->status));
  }
  if (resp->etag.empty() && resp->last_modified.empty()) {
    p.version = "size " + std::to_string(resp->body.size());  // no tab: never conditional
  } else {
    p.version = resp->etag + "\t" + resp->last_modified;
  }
  p.bytes = std::move(resp->body);
  return p;
}

AxfrFetcher::AxfrFetcher(threatfeed::FeedConfig cfg)
    : cfg_(std::move(cfg)), target_(fetch::parseAxfrUri(cfg_.source)) {
  if (!cfg_.tsig_file.empty()) {
    key_ = fetch::loadTsigKeyFile(cfg_.tsig_file);
  }
}

Result<FeedPayload> AxfrFetcher::fetch(const std::string& last_version, bool force) {
  if (!target_) {
    return makeError(target_.error().code, cfg_.source + ": " + target_.error().detail);
  }
  fetch::XfrOptions opt;
  if (key_) {
    if (!*key_) {
      return makeError(Errc::Io, key_->error().detail);
    }
    opt.key = &**key_;
  }
  auto r = fetch::transfer(*target_, zone_.serial, opt, clock_);
  if (!r) {
    return makeError(r.error().code, cfg_.source + ": " + r.error().detail);
  }
  fetch::ZoneCopy next = zone_;
  if (auto st = next.apply(*r); !st) {
    return makeError(st.error().code, cfg_.source + ": " + st.error().detail);
  }
  zone_ = std::move(next);
  FeedPayload p;
  p.origin = cfg_.source;
  p.fetched = std::chrono::system_clock::now();
  p.version = zone_.serial ? "serial " + std::to_string(*zone_.serial) : "";
  if (!force && p.version == last_version) {
    p.unchanged = true;
    return p;
  }
  p.bytes = zone_.toMasterFile();
  return p;
}

void AxfrFetcher::restore(const std::string& bytes) {
  if (auto z = fetch::ZoneCopy::fromMasterFile(bytes)) {
    zone_ = std::move(*z);
  }
}

std::unique_ptr<FeedFetcher> makeFetcher(const threatfeed::FeedConfig& feed) {
  constexpr size_t kMaxFeedBytes = size_t{1} << 30U;  // 1 GiB: far over 5M names
  if (feed.source.starts_with("file://")) {
    return std::make_unique<FileFetcher>(feed.source.substr(7), kMaxFeedBytes);
  }
  if (feed.source.starts_with("https://")) {
    return std::make_unique<HttpsFetcher>(feed);
  }
  if (feed.source.starts_with("axfr://")) {
    return std::make_unique<AxfrFetcher>(feed);
  }
  return nullptr;
}

}  // namespace steadfast::app
