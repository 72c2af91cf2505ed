// SPDX-License-Identifier: Apache-2.0
// HttpServer over civetweb's C API: one begin_request callback answers every request from the
// route table, so civetweb's own file serving never runs (no document_root is configured).
#include "resolver/report/http_server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <civetweb.h>
#include <nlohmann/json.hpp>

namespace steadfast::report {
namespace {

constexpr int kMaxHeaderBytes = 8192;  // request line + headers (civetweb max_request_size)
constexpr int kRequestTimeoutMs = 5000;

bool equalsIgnoreCase(std::string_view a, std::string_view b) noexcept {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

/// Header names and values from handlers go out verbatim; strip CR/LF so a value can never
/// start another header.
std::string headerSafe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c != '\r' && c != '\n') {
      out.push_back(c);
    }
  }
  return out;
}

/// civetweb says "cannot bind to 127.0.0.1:8053: 98 (Address already in use)"; keep the
/// part in parentheses, or the whole message when it has none.
std::string bindReason(const std::vector<std::string>& messages, std::string_view fallback) {
  for (const auto& m : messages) {
    if (m.find("bind") == std::string::npos && m.find("port spec") == std::string::npos) {
      continue;
    }
    const size_t open = m.rfind('(');
    const size_t close = m.rfind(')');
    if (open != std::string::npos && close != std::string::npos && close > open + 1) {
      return m.substr(open + 1, close - open - 1);
    }
    return m;
  }
  if (!messages.empty()) {
    return messages.front();
  }
  return std::string(fallback);
}

void initCivetweb() {
  static std::once_flag once;
  // Process-wide and never undone: mg_exit_library would break a later server.
  std::call_once(once, [] { mg_init_library(0); });
}

bool writeAll(mg_connection* conn, std::string_view data) noexcept {
  while (!data.empty()) {
    const int n = mg_write(conn, data.data(), data.size());
    if (n <= 0) {
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

std::optional<std::string_view> HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (equalsIgnoreCase(key, name)) {
      return std::string_view(value);
    }
  }
  return std::nullopt;
}

HttpResponse jsonResponse(int status, std::string json_text) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(json_text);
  r.body.push_back('\n');
  return r;
}

HttpResponse jsonError(int status, std::string_view message) {
  const nlohmann::json body = {{"error", std::string(message)}};
  return jsonResponse(status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

HttpServer::HttpServer(HttpServerOptions options) : options_(std::move(options)) {}

HttpServer::HttpServer(SocketAddress listen, int threads)
    : HttpServer(HttpServerOptions{listen, threads, size_t{64} << 10U, {}}) {}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::handle(std::string method, std::string path, Handler handler) {
  Route route{std::move(method), std::move(path), false, std::move(handler)};
  if (route.path.size() >= 2 && route.path.ends_with("/*")) {
    route.path.pop_back();  // keep the trailing '/'
    route.prefix = true;
  }
  std::unique_lock lock(routes_mu_);
  for (auto& r : routes_) {
    if (r.method == route.method && r.path == route.path && r.prefix == route.prefix) {
      r.handler = std::move(route.handler);
      return;
    }
  }
  routes_.push_back(std::move(route));
}

Status HttpServer::start() {
  const std::string where = options_.listen.toString();
  if (ctx_ != nullptr) {
    return makeError(Errc::InvalidArgument, "HTTP server on " + where + " is already running");
  }
  initCivetweb();
  if (options_.listen.family() != AF_INET &&
      (options_.listen.family() != AF_INET6 || mg_check_feature(MG_FEATURES_IPV6) == 0)) {
    return makeError(Errc::InvalidArgument,
                     "cannot listen on " + where + ": this civetweb build supports IPv4 only");
  }

  const std::string threads = std::to_string(std::max(1, options_.threads));
  const std::string header_limit = std::to_string(kMaxHeaderBytes);
  const std::string timeout = std::to_string(kRequestTimeoutMs);
  // No document_root: civetweb serves no files. civetweb copies the option strings.
  // clang-format off
  std::vector<const char*> options = {
      "listening_ports",          where.c_str(),
      "num_threads",              threads.c_str(),
      "max_request_size",         header_limit.c_str(),
      "request_timeout_ms",       timeout.c_str(),
      "enable_keep_alive",        "no",
      "enable_directory_listing", "no",
      "decode_url",               "yes",
      nullptr};
  // clang-format on

  mg_callbacks callbacks{};
  callbacks.begin_request = &HttpServer::onRequest;
  callbacks.log_message = &HttpServer::onLog;

  std::array<char, 256> error_text{};
  unsigned error_code = 0;
  mg_error_data error{&error_code, error_text.data(), error_text.size()};
  mg_init_data init{&callbacks, this, options.data()};

  {
    std::lock_guard lock(log_mu_);
    start_errors_.clear();
    capturing_ = true;
  }
  mg_context* ctx = mg_start2(&init, &error);
  std::vector<std::string> messages;
  {
    std::lock_guard lock(log_mu_);
    capturing_ = false;
    messages.swap(start_errors_);
  }
  if (ctx == nullptr) {
    return makeError(Errc::Io,
                     "cannot listen on " + where + ": " + bindReason(messages, error_text.data()));
  }

  mg_server_port bound{};
  if (mg_get_server_ports(ctx, 1, &bound) < 1 || bound.port <= 0 || bound.port > 65535) {
    mg_stop(ctx);
    return makeError(Errc::Io, "cannot listen on " + where + ": no port was bound");
  }
  ctx_ = ctx;
  port_ = static_cast<uint16_t>(bound.port);
  return Ok{};
}

void HttpServer::stop() noexcept {
  if (ctx_ == nullptr) {
    return;
  }
  // civetweb's accept thread notices the stop flag only when its poll() returns, and the
  // Debian build polls in 2 s quanta, so poke the listener with empty connections until
  // mg_stop() is through. Without the helper thread stop() is just slower.
  std::atomic<bool> stopped{false};
  std::thread waker;
  try {
    waker = std::thread([&stopped, address = localAddress()] {
      while (!stopped.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
        const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
          return;
        }
        (void)::connect(fd, address.sockaddrPtr(), address.length());
        ::close(fd);
      }
    });
  } catch (...) {  // NOLINT(bugprone-empty-catch): no thread, no shortcut
  }
  mg_stop(ctx_);  // joins civetweb's threads; running handlers finish first
  stopped = true;
  if (waker.joinable()) {
    waker.join();
  }
  ctx_ = nullptr;
  port_ = 0;
}

SocketAddress HttpServer::localAddress() const noexcept {
  SocketAddress a = options_.listen;
  a.setPort(port_);
  return a;
}

HttpResponse HttpServer::dispatch(const HttpRequest& request) const {
  const bool head = request.method == "HEAD";
  Handler chosen;
  size_t chosen_rank = 0;  // exact: max; prefix: its length
  std::vector<std::string> allowed;
  {
    std::shared_lock lock(routes_mu_);
    for (const auto& r : routes_) {
      const bool path_match = r.prefix ? request.path.starts_with(r.path) : request.path == r.path;
      if (!path_match) {
        continue;
      }
      if (std::find(allowed.begin(), allowed.end(), r.method) == allowed.end()) {
        allowed.push_back(r.method);
      }
      const bool method_match = r.method == request.method || (head && r.method == "GET");
      if (!method_match) {
        continue;
      }
      const size_t rank = r.prefix ? r.path.size() : std::string::npos;
      if (!chosen || rank > chosen_rank) {
        chosen = r.handler;
        chosen_rank = rank;
      }
    }
  }
  if (chosen) {
    return chosen(request);
  }
  if (allowed.empty()) {
    return jsonError(404, "not found");
  }
  if (std::find(allowed.begin(), allowed.end(), "GET") != allowed.end()) {
    allowed.emplace_back("HEAD");
  }
  std::sort(allowed.begin(), allowed.end());
  std::string allow;
  for (const auto& m : allowed) {
    allow += allow.empty() ? m : ", " + m;
  }
  HttpResponse r = jsonError(405, "method not allowed");
  r.headers.emplace_back("Allow", allow);
  return r;
}

int HttpServer::onRequest(mg_connection* conn) noexcept {
  const auto* self = static_cast<const HttpServer*>(mg_get_user_data(mg_get_context(conn)));
  return self->serve(conn);
}

int HttpServer::onLog(const mg_connection* conn, const char* message) noexcept {
  const mg_context* ctx = conn != nullptr ? mg_get_context(conn) : nullptr;
  auto* self = ctx != nullptr ? static_cast<HttpServer*>(mg_get_user_data(ctx)) : nullptr;
  if (self != nullptr && message != nullptr) {
    try {
      self->log(message);
    } catch (...) {  // NOLINT(bugprone-empty-catch): a log line is not worth a crash
    }
  }
  return 1;  // never let civetweb write to stderr itself
}

void HttpServer::log(std::string_view message) {
  {
    std::lock_guard lock(log_mu_);
    if (capturing_) {
      start_errors_.emplace_back(message);
    }
  }
  if (options_.log) {
    options_.log(message);
  }
}

int HttpServer::serve(mg_connection* conn) const noexcept {
  HttpResponse response;
  bool head = false;
  try {
    const mg_request_info* info = mg_get_request_info(conn);
    HttpRequest request;
    request.method = info->request_method != nullptr ? info->request_method : "";
    request.path = info->local_uri != nullptr ? info->local_uri : "";
    request.query = info->query_string != nullptr ? info->query_string : "";
    request.remote = info->remote_addr;
    for (int i = 0; i < info->num_headers; ++i) {
      const mg_header& h = info->http_headers[i];
      request.headers.emplace_back(h.name != nullptr ? h.name : "",
                                   h.value != nullptr ? h.value : "");
    }
    head = request.method == "HEAD";

    // Without Content-Length or chunked encoding civetweb would read until the client
    // closes, holding one of the few threads; such a request gets an empty body.
    const size_t limit = options_.max_body_bytes;
    const bool chunked = request.header("Transfer-Encoding").has_value();
    bool too_large =
        info->content_length > 0 && static_cast<unsigned long long>(info->content_length) > limit;
    if (!too_large && (info->content_length > 0 || chunked)) {
      std::array<char, 4096> chunk{};
      for (;;) {
        const int n = mg_read(conn, chunk.data(), chunk.size());
        if (n <= 0) {
          break;
        }
        if (request.body.size() + static_cast<size_t>(n) > limit) {
          too_large = true;
          break;
        }
        request.body.append(chunk.data(), static_cast<size_t>(n));
      }
    }
    response = too_large ? jsonError(413, "request body too large") : dispatch(request);
  } catch (...) {
    response = jsonError(500, "internal error");
  }

  try {
    std::string head_text = "HTTP/1.1 " + std::to_string(response.status) + " " +
                            mg_get_response_code_text(conn, response.status) + "\r\n";
    head_text += "Content-Type: " + headerSafe(response.content_type) + "\r\n";
    head_text += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
    head_text += "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n";
    head_text += "Connection: close\r\n";
    for (const auto& [name, value] : response.headers) {
      head_text += headerSafe(name) + ": " + headerSafe(value) + "\r\n";
    }
    head_text += "\r\n";
    if (writeAll(conn, head_text) && !head) {
      writeAll(conn, response.body);
    }
  } catch (...) {  // NOLINT(bugprone-empty-catch): out of memory; the client sees a close
  }
  return response.status > 0 && response.status < 1000 ? response.status : 500;
}

}  // namespace steadfast::report
