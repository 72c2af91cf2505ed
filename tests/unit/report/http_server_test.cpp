// SPDX-License-Identifier: Apache-2.0
// HttpServer and the core routes over real loopback sockets: a tiny raw HTTP/1.1 client
// sends requests to a server bound to 127.0.0.1:0.
#include "resolver/report/http_server.h"

#include <arpa/inet.h>
#include <atomic>
#include <cctype>
#include <cstring>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "resolver/report/core_routes.h"
#include "resolver/report/metrics.h"

namespace steadfast::report {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

/// Sends `raw` to 127.0.0.1:port and reads until the server closes.
Reply rawRequest(uint16_t port, const std::string& raw) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    throw std::runtime_error("socket");
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a = loopback(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    throw std::runtime_error("connect");
  }
  size_t sent = 0;
  while (sent < raw.size()) {
    const ssize_t n = send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      break;
    }
    sent += static_cast<size_t>(n);
  }
  std::string in;
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      break;
    }
    in.append(buf, static_cast<size_t>(n));
  }
  close(fd);

  Reply r;
  const size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos || !in.starts_with("HTTP/1.1 ")) {
    return r;
  }
  r.status = std::stoi(in.substr(9, 3));
  size_t pos = in.find("\r\n") + 2;
  while (pos < end) {
    const size_t eol = in.find("\r\n", pos);
    const std::string line = in.substr(pos, eol - pos);
    const size_t colon = line.find(':');
    std::string name = line.substr(0, colon);
    for (char& c : name) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    pos = eol + 2;
  }
  r.body = in.substr(end + 4);
  return r;
}

Reply get(uint16_t port, const std::string& path, const std::string& method = "GET") {
  return rawRequest(port, method + " " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
}

SocketAddress loopbackAddress(uint16_t port) {
  sockaddr_in a = loopback(port);
  return SocketAddress(reinterpret_cast<const sockaddr*>(&a), sizeof a);
}

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() : server_(loopbackAddress(0)) {
    stats_.worker(0).queries[0].inc(5);
    installCoreRoutes(server_, CoreRoutes{&collector_, nullptr, [this] { return ready_.load(); }});
  }

  void start() {
    const Status s = server_.start();
    ASSERT_TRUE(s.ok()) << s.error().detail;
    ASSERT_NE(server_.port(), 0);
  }

  pipeline::StatsRegistry stats_{1};
  MetricsCollector collector_{stats_};
  std::atomic<bool> ready_{false};
  HttpServer server_;
};

TEST_F(HttpServerTest, MetricsServesTheTextExposition) {
  start();
  Reply r = get(server_.port(), "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.headers["content-length"], std::to_string(r.body.size()));
  EXPECT_THAT(r.body, HasSubstr("\nsteadfast_queries_total{transport=\"udp\"} 5\n"));
  EXPECT_THAT(r.body, StartsWith("# HELP "));
}

TEST_F(HttpServerTest, HealthzIsOk) {
  start();
  Reply r = get(server_.port(), "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
}

TEST_F(HttpServerTest, ReadyzFollowsTheOwnersCallback) {
  start();
  Reply r = get(server_.port(), "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(nlohmann::json::parse(r.body).at("error"), "not ready");

  ready_ = true;
  r = get(server_.port(), "/readyz");
  EXPECT_EQ(r.status, 200);
}

TEST_F(HttpServerTest, UnknownPathIs404Json) {
  start();
  Reply r = get(server_.port(), "/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(nlohmann::json::parse(r.body), nlohmann::json({{"error", "not found"}}));
}

TEST_F(HttpServerTest, WrongMethodIs405JsonWithAllow) {
  start();
  Reply r = rawRequest(server_.port(),
                       "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["allow"], "GET, HEAD");
  EXPECT_EQ(nlohmann::json::parse(r.body).at("error"), "method not allowed");
}

TEST_F(HttpServerTest, HeadAnswersWithoutBody) {
  start();
  Reply r = get(server_.port(), "/healthz", "HEAD");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-length"], "2");
  EXPECT_EQ(r.body, "");
}

TEST_F(HttpServerTest, RegisteredRoutesSeeMethodPathQueryHeadersAndBody) {
  server_.handlePost("/api/v1/feeds/*", [](const HttpRequest& req) {
    nlohmann::json j = {{"path", req.path},
                        {"query", req.query},
                        {"body", req.body},
                        {"token", std::string(req.header("authorization").value_or("-"))}};
    return jsonResponse(202, j.dump());
  });
  start();
  const std::string body = R"({"x":1})";
  Reply r = rawRequest(server_.port(),
                       "POST /api/v1/feeds/hub%2Drpz/refresh?now=1 HTTP/1.1\r\nHost: x\r\n"
                       "Authorization: Bearer t0k\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n" + body);
  ASSERT_EQ(r.status, 202);
  const auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j.at("path"), "/api/v1/feeds/hub-rpz/refresh");
  EXPECT_EQ(j.at("query"), "now=1");
  EXPECT_EQ(j.at("body"), body);
  EXPECT_EQ(j.at("token"), "Bearer t0k");

  // The prefix itself without a trailing part is not matched by "/api/v1/feeds/*".
  EXPECT_EQ(get(server_.port(), "/api/v1/feeds").status, 404);
}

TEST_F(HttpServerTest, OversizedBodyIs413) {
  server_.handlePost("/echo", [](const HttpRequest& req) {
    HttpResponse r;
    r.body = req.body;
    return r;
  });
  start();
  const std::string big(size_t{70} << 10U, 'a');
  Reply r = rawRequest(server_.port(), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                           std::to_string(big.size()) + "\r\n\r\n" + big);
  EXPECT_EQ(r.status, 413);
}

TEST_F(HttpServerTest, ThrowingHandlerIs500) {
  server_.handleGet("/boom",
                    [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); });
  start();
  Reply r = get(server_.port(), "/boom");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(nlohmann::json::parse(r.body).at("error"), "internal error");
  EXPECT_EQ(get(server_.port(), "/healthz").status, 200);  // still serving
}

TEST_F(HttpServerTest, HandlerHeadersCannotInjectLines) {
  server_.handleGet("/h", [](const HttpRequest&) {
    HttpResponse r;
    r.headers.emplace_back("X-Test", "a\r\nX-Injected: 1");
    return r;
  });
  start();
  Reply r = get(server_.port(), "/h");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.count("x-injected"), 0U);
  EXPECT_EQ(r.headers["x-test"], "aX-Injected: 1");
}

TEST_F(HttpServerTest, StopIsIdempotentAndTheServerCanStartAgain) {
  start();
  const uint16_t first = server_.port();
  EXPECT_EQ(server_.localAddress().toString(), "127.0.0.1:" + std::to_string(first));
  server_.stop();
  server_.stop();
  EXPECT_FALSE(server_.running());
  EXPECT_EQ(server_.port(), 0);
  start();
  EXPECT_EQ(get(server_.port(), "/healthz").status, 200);
}

TEST_F(HttpServerTest, StartingTwiceIsAnError) {
  start();
  const Status again = server_.start();
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.error().detail, HasSubstr("already running"));
  EXPECT_EQ(get(server_.port(), "/healthz").status, 200);
}

TEST(HttpServerBind, PortInUseIsAnErrorNotACrash) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a = loopback(0);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const uint16_t port = ntohs(a.sin_port);

  std::mutex mu;
  std::vector<std::string> logged;
  HttpServerOptions options;
  options.listen = loopbackAddress(port);
  options.log = [&](std::string_view m) {
    std::lock_guard lock(mu);
    logged.emplace_back(m);
  };
  HttpServer server(options);
  const Status s = server.start();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::Io);
  EXPECT_EQ(s.error().detail,
            "cannot listen on 127.0.0.1:" + std::to_string(port) + ": Address already in use");
  EXPECT_FALSE(server.running());
  EXPECT_FALSE(logged.empty());
  server.stop();  // harmless
  close(fd);
}

TEST(HttpServerBind, SecondServerOnTheSamePortFails) {
  HttpServer first(loopbackAddress(0));
  ASSERT_TRUE(first.start().ok());
  HttpServer second(loopbackAddress(first.port()));
  const Status s = second.start();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().detail, HasSubstr("Address already in use"));
}

TEST(HttpServerBind, Ipv6EitherServesOrSaysWhy) {
  auto addr = SocketAddress::parse("[::1]:0");
  ASSERT_TRUE(addr.ok());
  HttpServer server(*addr);
  const Status s = server.start();
  if (s.ok()) {
    EXPECT_NE(server.port(), 0);
  } else {
    EXPECT_THAT(s.error().detail, StartsWith("cannot listen on [::1]:0: "));
  }
}

TEST(HttpServerDispatch, ExactBeatsPrefixAndLongerPrefixBeatsShorter) {
  HttpServer server(loopbackAddress(0));
  auto answer = [](std::string tag) {
    return [tag](const HttpRequest&) {
      HttpResponse r;
      r.body = tag;
      return r;
    };
  };
  server.handleGet("/a/*", answer("a"));
  server.handleGet("/a/b/*", answer("ab"));
  server.handleGet("/a/b/c", answer("exact"));
  auto at = [&](std::string path) {
    HttpRequest req;
    req.method = "GET";
    req.path = std::move(path);
    return server.dispatch(req).body;
  };
  EXPECT_EQ(at("/a/x"), "a");
  EXPECT_EQ(at("/a/b/x"), "ab");
  EXPECT_EQ(at("/a/b/c"), "exact");
  server.handleGet("/a/b/c", answer("replaced"));
  EXPECT_EQ(at("/a/b/c"), "replaced");
}

}  // namespace
}  // namespace steadfast::report
