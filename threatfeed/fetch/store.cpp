// SPDX-License-Identifier: Apache-2.0
#include "threatfeed/fetch/store.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

namespace steadfast::fetch {
namespace {

constexpr std::string_view kMagic = "steadfast-feed 1\n";

std::string sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2U);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4U]);
    out.push_back(kHex[md[i] & 15U]);
  }
  return out;
}

bool safeValue(std::string_view v) {
  return v.find_first_of("\r\n") == std::string_view::npos;
}

std::string errnoText(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

Status writeAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return makeError(Errc::Io, errnoText("cannot write", path));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Ok{};
}

Status ensureDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0750) != 0 && errno != EEXIST) {
    return makeError(Errc::Io, errnoText("cannot create directory", path));
  }
  return Ok{};
}

template <class T>
bool parseNumber(std::string_view s, T& out) {
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

}  // namespace

FeedStore::FeedStore(std::string state_dir) : dir_(std::move(state_dir) + "/feeds") {}

std::string FeedStore::pathOf(std::string_view feed) const {
  std::string name;
  for (const char ch : feed) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || (c == '.' && !name.empty())) {
      name.push_back(ch);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      name.push_back('%');
      name.push_back(kHex[c >> 4U]);
      name.push_back(kHex[c & 15U]);
    }
  }
  return dir_ + "/" + name + ".feed";
}

std::string FeedStore::encode(const StoredFeed& copy) {
  std::string out(kMagic);
  out += "source: " + copy.meta.source + "\n";
  if (copy.meta.serial) {
    out += "serial: " + std::to_string(*copy.meta.serial) + "\n";
  }
  if (!copy.meta.etag.empty()) {
    out += "etag: " + copy.meta.etag + "\n";
  }
  if (!copy.meta.last_modified.empty()) {
    out += "last-modified: " + copy.meta.last_modified + "\n";
  }
  out += "stored: " + std::to_string(copy.meta.stored_unix) + "\n";
  out += "length: " + std::to_string(copy.body.size()) + "\n";
  out += "sha256: " + sha256Hex(copy.body) + "\n\n";
  out += copy.body;
  return out;
}

Result<StoredFeed> FeedStore::decode(std::string_view bytes) {
  if (bytes.substr(0, kMagic.size()) != kMagic) {
    return makeError(Errc::Malformed, "not a steadfast feed file");
  }
  bytes.remove_prefix(kMagic.size());
  StoredFeed copy;
  std::optional<uint64_t> length;
  std::string sha;
  for (;;) {
    const size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      return makeError(Errc::Malformed, "header not terminated");
    }
    const std::string_view line = bytes.substr(0, nl);
    bytes.remove_prefix(nl + 1);
    if (line.empty()) {
      break;
    }
    const size_t sep = line.find(": ");
    if (sep == std::string_view::npos) {
      return makeError(Errc::Malformed, "bad header line");
    }
    const std::string_view key = line.substr(0, sep);
    const std::string_view value = line.substr(sep + 2);
    if (key == "source") {
      copy.meta.source = std::string(value);
    } else if (key == "serial") {
      uint32_t s = 0;
      if (!parseNumber(value, s)) {
        return makeError(Errc::Malformed, "bad serial");
      }
      copy.meta.serial = s;
    } else if (key == "etag") {
      copy.meta.etag = std::string(value);
    } else if (key == "last-modified") {
      copy.meta.last_modified = std::string(value);
    } else if (key == "stored") {
      if (!parseNumber(value, copy.meta.stored_unix)) {
        return makeError(Errc::Malformed, "bad stored time");
      }
    } else if (key == "length") {
      uint64_t n = 0;
      if (!parseNumber(value, n)) {
        return makeError(Errc::Malformed, "bad length");
      }
      length = n;
    } else if (key == "sha256") {
      sha = std::string(value);
    }  // unknown keys: written by a newer version, ignored
  }
  if (!length || *length != bytes.size()) {
    return makeError(Errc::Malformed, "body length does not match (truncated file?)");
  }
  if (sha != sha256Hex(bytes)) {
    return makeError(Errc::Malformed, "body checksum does not match");
  }
  copy.body = std::string(bytes);
  return copy;
}

Status FeedStore::save(std::string_view feed, const StoredFeed& copy) const {
  if (!safeValue(copy.meta.source) || !safeValue(copy.meta.etag) ||
      !safeValue(copy.meta.last_modified)) {
    return makeError(Errc::InvalidArgument, "feed metadata with a line break");
  }
  const size_t slash = dir_.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    if (auto st = ensureDir(dir_.substr(0, slash)); !st) {
      return st;
    }
  }
  if (auto st = ensureDir(dir_); !st) {
    return st;
  }
  const std::string path = pathOf(feed);
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    return makeError(Errc::Io, errnoText("cannot create", tmp));
  }
  Status st = writeAll(fd, encode(copy), tmp);
  if (st && ::fsync(fd) != 0) {
    st = makeError(Errc::Io, errnoText("cannot fsync", tmp));
  }
  if (::close(fd) != 0 && st) {
    st = makeError(Errc::Io, errnoText("cannot close", tmp));
  }
  if (st && ::rename(tmp.c_str(), path.c_str()) != 0) {
    st = makeError(Errc::Io, errnoText("cannot rename to", path));
  }
  if (!st) {
    ::unlink(tmp.c_str());
    return st;
  }
  const int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    const int rc = ::fsync(dfd);
    ::close(dfd);
    if (rc != 0) {
      return makeError(Errc::Io, errnoText("cannot fsync directory", dir_));
    }
  }
  return Ok{};
}

Result<StoredFeed> FeedStore::load(std::string_view feed) const {
  const std::string path = pathOf(feed);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return makeError(Errc::Io, errnoText("cannot open", path));
  }
  std::string bytes;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const std::string err = errnoText("cannot read", path);
      ::close(fd);
      return makeError(Errc::Io, err);
    }
    if (n == 0) {
      break;
    }
    bytes.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  auto decoded = decode(bytes);
  if (!decoded) {
    return makeError(Errc::Malformed, path + ": " + decoded.error().detail);
  }
  return decoded;
}

}  // namespace steadfast::fetch
