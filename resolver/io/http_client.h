// SPDX-License-Identifier: Apache-2.0
// HTTPS client (libcurl) for threat feeds, signed crisis directives, MISP and TAXII.
// Security by default: https only (a redirect to plain http fails), the peer certificate and
// host name verified (system store, or a CA file), a size cap that aborts the transfer, connect
// and total timeouts, conditional GET with the ETag / Last-Modified of the last good copy.
//
// fetchHttps() blocks its calling thread; HttpClient runs requests on its own thread and
// hands each result back on a libuv loop (uv_async), so no event loop ever waits for the
// network.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "resolver/base/clock.h"
#include "resolver/base/result.h"

struct uv_loop_s;
struct uv_async_s;

namespace steadfast::io {

/// Credentials sent with a request, read from a file (never from the config itself).
struct HttpCredentials {
  enum class Kind : uint8_t { None, Basic, Bearer };
  Kind kind = Kind::None;
  std::string user;      // Basic
  std::string password;  // Basic
  std::string token;     // Bearer
};

/// The file holds one line: `bearer TOKEN` or `basic USER:PASSWORD` (the keyword in any case,
/// surrounding blanks and a final newline ignored). Errors name the file.
Result<HttpCredentials> parseHttpCredentials(std::string_view text);
Result<HttpCredentials> loadHttpCredentials(const std::string& path);

struct HttpRequest {
  std::string url;                        // must be https://
  std::string method = "GET";             // GET or POST
  std::string body;                       // POST body
  std::vector<std::string> headers;       // extra "Name: value" lines
  std::string ca_file;                    // empty: the system trust store
  HttpCredentials credentials;            // Authorization header
  std::string if_none_match;              // ETag of the copy we have ("" = none)
  std::string if_modified_since;          // Last-Modified of the copy we have ("" = none)
  uint64_t max_body_bytes = 64ULL << 20;  // the transfer is aborted past this
  Nanos connect_timeout = std::chrono::seconds(10);
  Nanos total_timeout = std::chrono::seconds(60);
  long max_redirects = 5;  // redirects are followed to https only
};

struct HttpResponse {
  long status = 0;            // 200, 304, ...
  bool not_modified = false;  // status 304: keep the copy we have
  std::string body;
  std::string etag;           // of the final response
  std::string last_modified;  // of the final response
  std::string content_type;
  std::string effective_url;  // after redirects
};

/// Errors: InvalidArgument (not https, bad method), ConnectFailed, TlsFailed (certificate or
/// handshake), Timeout, Truncated (body over the cap), Io (anything else). An HTTP status
/// other than 2xx/304 comes back as a response (the caller decides), not as an error.
Result<HttpResponse> fetchHttps(const HttpRequest& request);

/// Runs requests one at a time on a thread of its own and calls each callback on `loop`'s
/// thread. Construct and destroy on the loop's thread; stop() (or the destructor) joins the
/// thread, and callbacks of requests not yet run are dropped.
class HttpClient {
 public:
  using Callback = std::function<void(Result<HttpResponse>)>;
  explicit HttpClient(uv_loop_s* loop);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// Queues a request; thread-safe. The callback runs on the loop thread.
  void submit(HttpRequest request, Callback callback);
  /// Requests queued or running.
  size_t pending() const;
  void stop();

 private:
  struct Job;
  struct Shared;
  void run();
  static void onAsync(uv_async_s* handle);

  std::shared_ptr<Shared> shared_;
  uv_async_s* async_ = nullptr;
  std::thread thread_;
};

}  // namespace steadfast::io
