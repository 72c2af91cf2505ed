// SPDX-License-Identifier: Apache-2.0
// HttpServer: the one HTTP listener of [report] listen, a thin router over civetweb. Routes
// are (method, path) -> Handler; everything else answers 404/405 with a JSON error. No file
// serving, no directory listing, small request limits. GET /metrics, /healthz and /readyz
// are installed by installCoreRoutes() (core_routes.h); later issues add /status and /api.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "resolver/base/result.h"
#include "resolver/base/socket_address.h"

struct mg_context;
struct mg_connection;

namespace steadfast::report {

/// One request as a handler sees it. Everything is copied out of civetweb.
struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // URL-decoded, without the query string
  std::string query;   // raw query string without '?', empty if none
  std::string body;    // at most HttpServerOptions::max_body_bytes
  std::string remote;  // client address, e.g. "127.0.0.1"
  std::vector<std::pair<std::string, std::string>> headers;

  /// The first header called `name` (case-insensitive), if any.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  /// Extra headers; Content-Type, Content-Length and Connection are set by the server.
  std::vector<std::pair<std::string, std::string>> headers;
};

/// A response of `status` with body `{"error": message}` (spec: errors are JSON).
[[nodiscard]] HttpResponse jsonError(int status, std::string_view message);
/// A response with the given JSON text as body.
[[nodiscard]] HttpResponse jsonResponse(int status, std::string json_text);

/// Receives civetweb's error messages (bind failures, broken connections). Any thread.
using HttpLogFn = std::function<void(std::string_view)>;

struct HttpServerOptions {
  SocketAddress listen;  // IPv4 (this civetweb build has no IPv6); port 0 picks a free port
  int threads = 2;
  size_t max_body_bytes = size_t{64} << 10U;  // larger bodies get 413
  HttpLogFn log;                              // none: civetweb's messages are dropped
};

/// Owns a civetweb context. Register routes, then start(); handlers run on civetweb's
/// threads (`threads` of them), so they must be thread-safe and must not throw (a throwing
/// handler answers 500). start()/stop() belong to one owner thread.
class HttpServer {
 public:
  /// Returns the response to a matched request.
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  explicit HttpServer(HttpServerOptions options);
  explicit HttpServer(SocketAddress listen, int threads = 2);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  HttpServer(HttpServer&&) = delete;
  HttpServer& operator=(HttpServer&&) = delete;

  /// Routes `method` + `path` to `handler`, replacing an earlier route of the same pair. A
  /// path ending in "/*" matches everything below that prefix ("/api/v1/feeds/*" matches
  /// "/api/v1/feeds/x/refresh"); exact paths win over prefixes, longer prefixes over shorter.
  /// GET routes also answer HEAD. May be called before or after start().
  void handle(std::string method, std::string path, Handler handler);
  void handleGet(std::string path, Handler handler) {
    handle("GET", std::move(path), std::move(handler));
  }
  void handlePost(std::string path, Handler handler) {
    handle("POST", std::move(path), std::move(handler));
  }

  /// Binds and starts the threads. Error (Errc::Io) e.g. "cannot listen on
  /// 127.0.0.1:8053: Address already in use". Calling it while running is an error.
  [[nodiscard]] Status start();
  /// Stops accepting, waits for running handlers, joins the threads. Idempotent.
  void stop() noexcept;
  [[nodiscard]] bool running() const noexcept { return ctx_ != nullptr; }
  /// The bound port while running (the real one when the configured port was 0), else 0.
  [[nodiscard]] uint16_t port() const noexcept { return port_; }
  /// The configured address with the bound port.
  [[nodiscard]] SocketAddress localAddress() const noexcept;

  /// Dispatches one request; public for the civetweb callback and for tests.
  [[nodiscard]] HttpResponse dispatch(const HttpRequest& request) const;

 private:
  struct Route {
    std::string method;
    std::string path;  // exact path, or prefix ending in '/' when `prefix`
    bool prefix = false;
    Handler handler;
  };

  static int onRequest(mg_connection* conn) noexcept;
  static int onLog(const mg_connection* conn, const char* message) noexcept;
  int serve(mg_connection* conn) const noexcept;
  void log(std::string_view message);

  HttpServerOptions options_;
  mg_context* ctx_ = nullptr;
  uint16_t port_ = 0;

  mutable std::shared_mutex routes_mu_;  // guards routes_
  std::vector<Route> routes_;

  std::mutex log_mu_;  // guards start_errors_, capturing_
  std::vector<std::string> start_errors_;
  bool capturing_ = false;
};

}  // namespace steadfast::report
