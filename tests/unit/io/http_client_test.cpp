// SPDX-License-Identifier: Apache-2.0
// HTTPS client: credential files, refusals before any network (plain http, bad method,
// header injection), a refused connection on loopback mapped to ConnectFailed, and HttpClient
// delivering its result on the loop thread. TLS, ETag/304 and the size cap against a real
// server are in the integration suite (nginx on loopback).
#include "resolver/io/http_client.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>
#include <uv.h>

#include "resolver/io/socket_util.h"

namespace steadfast::io {
namespace {

TEST(HttpCredentials, Bearer) {
  auto c = parseHttpCredentials("Bearer abc.DEF-123\n");
  ASSERT_TRUE(c.ok()) << c.error().detail;
  EXPECT_EQ(c->kind, HttpCredentials::Kind::Bearer);
  EXPECT_EQ(c->token, "abc.DEF-123");
}

TEST(HttpCredentials, Basic) {
  auto c = parseHttpCredentials("  basic feed-reader:s3cr:et  \n");
  ASSERT_TRUE(c.ok()) << c.error().detail;
  EXPECT_EQ(c->kind, HttpCredentials::Kind::Basic);
  EXPECT_EQ(c->user, "feed-reader");
  EXPECT_EQ(c->password, "s3cr:et");
}

TEST(HttpCredentials, Rejects) {
  EXPECT_FALSE(parseHttpCredentials("").ok());
  EXPECT_FALSE(parseHttpCredentials("token abc").ok());
  EXPECT_FALSE(parseHttpCredentials("bearer ").ok());
  EXPECT_FALSE(parseHttpCredentials("bearer a b").ok());
  EXPECT_FALSE(parseHttpCredentials("basic nouser").ok());
  EXPECT_FALSE(parseHttpCredentials("basic :pw").ok());
  EXPECT_FALSE(parseHttpCredentials("bearer a\nbearer b").ok());
}

TEST(HttpCredentials, MissingFileNamed) {
  auto c = loadHttpCredentials("/nonexistent/steadfast-creds");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().detail.find("/nonexistent/steadfast-creds"), std::string::npos);
}

TEST(FetchHttps, PlainHttpRefused) {
  HttpRequest r;
  r.url = "http://127.0.0.1:1/list.txt";
  auto res = fetchHttps(r);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, Errc::InvalidArgument);
}

TEST(FetchHttps, BadMethodAndHeaderInjectionRefused) {
  HttpRequest r;
  r.url = "https://127.0.0.1:1/";
  r.method = "DELETE";
  EXPECT_EQ(fetchHttps(r).error().code, Errc::InvalidArgument);
  r.method = "GET";
  r.if_none_match = "\"x\"\r\nX-Evil: 1";
  EXPECT_EQ(fetchHttps(r).error().code, Errc::InvalidArgument);
}

/// A TCP port on 127.0.0.1 that is bound but not listening: connecting to it is refused.
struct RefusingPort {
  RefusingPort() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    port = localPort(fd);
  }
  ~RefusingPort() { closeFd(fd); }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  int fd = -1;
  uint16_t port = 0;
};

TEST(FetchHttps, RefusedConnection) {
  RefusingPort p;
  HttpRequest r;
  r.url = "https://127.0.0.1:" + std::to_string(p.port) + "/list.txt";
  auto res = fetchHttps(r);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, Errc::ConnectFailed) << res.error().detail;
}

TEST(HttpClient, CallbackRunsOnLoopThread) {
  RefusingPort p;
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  bool called = false;
  std::thread::id callback_thread;
  {
    HttpClient client(&loop);
    HttpRequest r;
    r.url = "https://127.0.0.1:" + std::to_string(p.port) + "/";
    client.submit(r, [&](Result<HttpResponse> res) {
      called = true;
      callback_thread = std::this_thread::get_id();
      EXPECT_FALSE(res.ok());
      EXPECT_EQ(res.error().code, Errc::ConnectFailed);
      client.stop();  // closes the async handle, so uv_run returns
    });
    uv_run(&loop, UV_RUN_DEFAULT);
    EXPECT_EQ(client.pending(), 0U);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_TRUE(called);
  EXPECT_EQ(callback_thread, std::this_thread::get_id());
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

}  // namespace
}  // namespace steadfast::io
