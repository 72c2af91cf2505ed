// SPDX-License-Identifier: Apache-2.0
// The POST API: token loading and checking, the drain body parser, and the routes through
// HttpServer::dispatch (no sockets) with a fake PlanControl.
#include "resolver/report/api_routes.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "resolver/base/socket_address.h"

namespace steadfast::report {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kToken = "0123456789abcdef0123456789abcdef";

struct DrainCall {
  std::string uri;
  bool drain = false;
};

class FakePlan final : public PlanControl {
 public:
  ApiResult failback() override {
    std::lock_guard lock(mu_);
    ++failbacks_;
    return answer_;
  }
  ApiResult drain(const std::string& canonical_uri, bool drain) override {
    std::lock_guard lock(mu_);
    drains_.push_back({canonical_uri, drain});
    return answer_;
  }
  ApiResult crisis(bool union_only) override {
    std::lock_guard lock(mu_);
    crises_.push_back(union_only);
    return answer_;
  }
  std::vector<bool> crises() {
    std::lock_guard lock(mu_);
    return crises_;
  }

  void answer(ApiResult r) {
    std::lock_guard lock(mu_);
    answer_ = std::move(r);
  }
  int failbacks() {
    std::lock_guard lock(mu_);
    return failbacks_;
  }
  std::vector<DrainCall> drains() {
    std::lock_guard lock(mu_);
    return drains_;
  }

 private:
  std::mutex mu_;
  ApiResult answer_{200, R"({"ok":true})"};
  int failbacks_ = 0;
  std::vector<DrainCall> drains_;
  std::vector<bool> crises_;
};

SocketAddress anyLoopback() {
  auto a = SocketAddress::parse("127.0.0.1:0", 0);
  EXPECT_TRUE(a.ok());
  return *a;
}

HttpRequest post(std::string path, std::string body,
                 std::optional<std::string> authorization = "Bearer " + std::string(kToken)) {
  HttpRequest req;
  req.method = "POST";
  req.path = std::move(path);
  req.body = std::move(body);
  req.remote = "127.0.0.1";
  if (authorization) {
    req.headers.emplace_back("Authorization", *authorization);
  }
  return req;
}

std::string errorOf(const HttpResponse& r) {
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_string()) {
    return "<not a JSON error: " + r.body + ">";
  }
  return j["error"].get<std::string>();
}

std::optional<std::string> headerOf(const HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) {
      return v;
    }
  }
  return std::nullopt;
}

class ApiRoutesTest : public ::testing::Test {
 protected:
  ApiRoutesTest() { installApiRoutes(server_, ApiRoutes{&plan_, std::string(kToken)}); }

  HttpServer server_{anyLoopback()};
  FakePlan plan_;
};

// --- disabled API ------------------------------------------------------------------------

TEST(ApiRoutesDisabled, EveryPostAnswers403WithoutAToken) {
  HttpServer server(anyLoopback());
  FakePlan plan;
  installApiRoutes(server, ApiRoutes{&plan, ""});
  for (const char* path : {"/api/v1/failback", "/api/v1/upstreams/drain"}) {
    for (const auto& auth : std::vector<std::optional<std::string>>{
             std::nullopt, "Bearer ", "Bearer " + std::string(kToken)}) {
      const HttpResponse r = server.dispatch(post(path, R"({"upstream":"dns://127.0.0.1"})", auth));
      EXPECT_EQ(r.status, 403) << path;
      EXPECT_EQ(r.content_type, "application/json");
      EXPECT_EQ(errorOf(r), "the API is disabled: set [report] api_token_file");
    }
  }
  EXPECT_EQ(plan.failbacks(), 0);
  EXPECT_TRUE(plan.drains().empty());
}

TEST(ApiRoutesDisabled, GetIsMethodNotAllowed) {
  HttpServer server(anyLoopback());
  installApiRoutes(server, ApiRoutes{nullptr, std::string(kToken)});
  HttpRequest req = post("/api/v1/failback", "");
  req.method = "GET";
  EXPECT_EQ(server.dispatch(req).status, 405);
}

// --- authentication ----------------------------------------------------------------------

TEST_F(ApiRoutesTest, MissingAuthorizationIs401WithChallenge) {
  for (const char* path : {"/api/v1/failback", "/api/v1/upstreams/drain"}) {
    const HttpResponse r = server_.dispatch(post(path, "", std::nullopt));
    EXPECT_EQ(r.status, 401) << path;
    EXPECT_THAT(errorOf(r), HasSubstr("Authorization: Bearer"));
    EXPECT_EQ(headerOf(r, "WWW-Authenticate"), R"(Bearer realm="steadfast")");
  }
  EXPECT_EQ(plan_.failbacks(), 0);
}

TEST_F(ApiRoutesTest, WrongTokensAre401InvalidToken) {
  const std::string t(kToken);
  std::string last_byte = t;
  last_byte.back() = 'X';
  std::string first_byte = t;
  first_byte.front() = 'X';
  const std::vector<std::string> wrong = {
      "",
      "Bearer",
      "Bearer ",
      "Bearer wrong",
      "Bearer " + t.substr(0, 16),  // a prefix (short)
      "Bearer " + t.substr(0, 31),  // almost right: one byte short
      "Bearer " + t + "0",          // one byte too many
      "Bearer " + last_byte,        // last byte differs
      "Bearer " + first_byte,       // first byte differs
      "Basic " + t,                 // other scheme
      "Bearer" + t,                 // no separator
      "Bearer " + t + " ",          // trailing garbage
      "Token " + t,                 //
      t,                            // token alone
  };
  for (const auto& auth : wrong) {
    const HttpResponse r = server_.dispatch(post("/api/v1/failback", "", auth));
    EXPECT_EQ(r.status, 401) << auth;
    EXPECT_EQ(errorOf(r), "invalid token") << auth;
    EXPECT_EQ(headerOf(r, "WWW-Authenticate"), R"(Bearer realm="steadfast", error="invalid_token")")
        << auth;
  }
  EXPECT_EQ(plan_.failbacks(), 0);
  EXPECT_TRUE(plan_.drains().empty());
}

TEST_F(ApiRoutesTest, AuthorizationHeaderNameIsCaseInsensitive) {
  HttpRequest req = post("/api/v1/failback", "", std::nullopt);
  req.headers.emplace_back("authorization", "bearer " + std::string(kToken));
  EXPECT_EQ(server_.dispatch(req).status, 200);
}

TEST_F(ApiRoutesTest, AuthIsCheckedBeforeTheBody) {
  const HttpResponse r =
      server_.dispatch(post("/api/v1/upstreams/drain", "not json", "Bearer nope"));
  EXPECT_EQ(r.status, 401);
}

// --- failback -----------------------------------------------------------------------------

TEST_F(ApiRoutesTest, FailbackReachesThePlanAndReturnsItsAnswer) {
  plan_.answer({200, R"({"active_tier":"primary"})"});
  const HttpResponse r = server_.dispatch(post("/api/v1/failback", ""));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, "{\"active_tier\":\"primary\"}\n");
  EXPECT_EQ(plan_.failbacks(), 1);
}

TEST_F(ApiRoutesTest, FailbackAcceptsEmptyObjectAndWhitespace) {
  EXPECT_EQ(server_.dispatch(post("/api/v1/failback", "{}")).status, 200);
  EXPECT_EQ(server_.dispatch(post("/api/v1/failback", " { } \n")).status, 200);
  EXPECT_EQ(server_.dispatch(post("/api/v1/failback", "\r\n")).status, 200);
  EXPECT_EQ(plan_.failbacks(), 3);
}

TEST_F(ApiRoutesTest, FailbackRefusesArguments) {
  for (const char* body : {R"({"tier":"primary"})", "[]", "{", "null", "1"}) {
    const HttpResponse r = server_.dispatch(post("/api/v1/failback", body));
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_FALSE(errorOf(r).empty());
  }
  EXPECT_THAT(errorOf(server_.dispatch(post("/api/v1/failback", R"({"tier":"primary"})"))),
              HasSubstr("unknown key \"tier\""));
  EXPECT_EQ(plan_.failbacks(), 0);
}

TEST_F(ApiRoutesTest, PlanErrorStatusIsPassedThrough) {
  plan_.answer({504, R"({"error":"the control loop did not answer in time"})"});
  const HttpResponse r = server_.dispatch(post("/api/v1/failback", ""));
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(errorOf(r), "the control loop did not answer in time");
}

TEST_F(ApiRoutesTest, InvalidStatusFromThePlanIs500) {
  plan_.answer({42, "{}"});
  EXPECT_EQ(server_.dispatch(post("/api/v1/failback", "")).status, 500);
  plan_.answer({200, ""});
  const HttpResponse r = server_.dispatch(post("/api/v1/failback", ""));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{}\n");
}

TEST(ApiRoutesNoPlan, AuthorizedCommandsAnswer503) {
  HttpServer server(anyLoopback());
  installApiRoutes(server, ApiRoutes{nullptr, std::string(kToken)});
  EXPECT_EQ(server.dispatch(post("/api/v1/failback", "")).status, 503);
  const HttpResponse r =
      server.dispatch(post("/api/v1/upstreams/drain", R"({"upstream":"dns://127.0.0.1"})"));
  EXPECT_EQ(r.status, 503);
  EXPECT_FALSE(errorOf(r).empty());
  // Still 401 / 400 first.
  EXPECT_EQ(server.dispatch(post("/api/v1/failback", "", "Bearer x")).status, 401);
  EXPECT_EQ(server.dispatch(post("/api/v1/upstreams/drain", "{}")).status, 400);
}

TEST(ApiRoutesReinstall, ReplacesTheToken) {
  HttpServer server(anyLoopback());
  FakePlan plan;
  installApiRoutes(server, ApiRoutes{&plan, std::string(kToken)});
  const std::string other = "ffffffffffffffffffffffffffffffff";
  installApiRoutes(server, ApiRoutes{&plan, other});
  EXPECT_EQ(server.dispatch(post("/api/v1/failback", "")).status, 401);
  EXPECT_EQ(server.dispatch(post("/api/v1/failback", "", "Bearer " + other)).status, 200);
}

// --- drain --------------------------------------------------------------------------------

TEST_F(ApiRoutesTest, DrainPassesTheCanonicalUriAndDefaultsToTrue) {
  const HttpResponse r =
      server_.dispatch(post("/api/v1/upstreams/drain", R"({"upstream":"dns://127.0.0.1"})"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"ok\":true}\n");
  const auto calls = plan_.drains();
  ASSERT_EQ(calls.size(), 1U);
  EXPECT_EQ(calls[0].uri, "dns://127.0.0.1:53");
  EXPECT_TRUE(calls[0].drain);
}

TEST_F(ApiRoutesTest, DrainFalseUndrains) {
  EXPECT_EQ(
      server_
          .dispatch(post("/api/v1/upstreams/drain",
                         R"({"drain": false, "upstream": "tls://[2001:DB8::1]#DNS.Example"})"))
          .status,
      200);
  EXPECT_EQ(server_
                .dispatch(post("/api/v1/upstreams/drain",
                               R"({"upstream": "tcp://192.0.2.1:5353", "drain": true})"))
                .status,
            200);
  const auto calls = plan_.drains();
  ASSERT_EQ(calls.size(), 2U);
  EXPECT_EQ(calls[0].uri, "tls://[2001:db8::1]:853#dns.example");
  EXPECT_FALSE(calls[0].drain);
  EXPECT_EQ(calls[1].uri, "tcp://192.0.2.1:5353");
  EXPECT_TRUE(calls[1].drain);
}

TEST_F(ApiRoutesTest, BadDrainBodiesAre400WithTheParserMessage) {
  struct Case {
    std::string body;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", "empty body"},
      {"{", "invalid JSON"},
      {"not json", "invalid JSON"},
      {R"({"upstream":"dns://127.0.0.1"} x)", "invalid JSON"},
      {"[]", "expected a JSON object"},
      {R"("dns://127.0.0.1")", "expected a JSON object"},
      {"{}", "missing \"upstream\""},
      {R"({"drain":true})", "missing \"upstream\""},
      {R"({"upstream":"dns://127.0.0.1","extra":1})", "unknown key \"extra\""},
      {R"({"upstream":53})", "\"upstream\" must be a string, got number"},
      {R"({"upstream":null})", "\"upstream\" must be a string, got null"},
      {R"({"upstream":"dns://127.0.0.1","drain":"yes"})", "\"drain\" must be true or false"},
      {R"({"upstream":"dns://127.0.0.1","drain":1})", "\"drain\" must be true or false"},
      {R"({"upstream":"dns://resolver.example"})", "not a host name"},
      {R"({"upstream":"https://192.0.2.1"})", "DNS over HTTPS is not supported"},
      {R"({"upstream":"dns://192.0.2.1\u0000x"})", "control character"},
      {R"({"upstream":"dns://192.0.2.1","upstream":"dns://192.0.2.2"})",
       "duplicate key \"upstream\""},
      {R"({"upstream":"dns://127.0.0.1","pad":")" + std::string(5000, 'a') + "\"}",
       "request body too large"},
  };
  for (const auto& c : cases) {
    const HttpResponse r = server_.dispatch(post("/api/v1/upstreams/drain", c.body));
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_THAT(errorOf(r), HasSubstr(c.message)) << c.body;
  }
  EXPECT_TRUE(plan_.drains().empty());
}

// --- POST /api/v1/crisis -----------------------------------------------------------------

TEST_F(ApiRoutesTest, CrisisPassesTheModeToThePlan) {
  EXPECT_EQ(server_.dispatch(post("/api/v1/crisis", R"({"mode":"union-only"})")).status, 200);
  EXPECT_EQ(server_.dispatch(post("/api/v1/crisis", R"( {"mode" : "auto"} )")).status, 200);
  EXPECT_EQ(plan_.crises(), (std::vector<bool>{true, false}));
}

TEST_F(ApiRoutesTest, CrisisNeedsTheToken) {
  const HttpResponse none =
      server_.dispatch(post("/api/v1/crisis", R"({"mode":"union-only"})", std::nullopt));
  EXPECT_EQ(none.status, 401);
  const HttpResponse wrong = server_.dispatch(
      post("/api/v1/crisis", R"({"mode":"union-only"})", "Bearer not-the-right-token-at-all"));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_TRUE(plan_.crises().empty());
}

TEST_F(ApiRoutesTest, BadCrisisBodiesAre400WithTheParserMessage) {
  struct Case {
    std::string body;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", "empty body"},
      {"{", "invalid JSON"},
      {"[]", "expected a JSON object"},
      {"{}", "missing \"mode\""},
      {R"({"mode":"union_only"})", "must be \"union-only\" or \"auto\""},
      {R"({"mode":"UNION-ONLY"})", "must be \"union-only\" or \"auto\""},
      {R"({"mode":1})", "\"mode\" must be a string"},
      {R"({"mode":"auto","by":"me"})", "unknown key \"by\""},
      {R"({"mode":"auto","mode":"union-only"})", "duplicate key \"mode\""},
      {R"({"mode":"auto","pad":")" + std::string(5000, 'a') + "\"}", "request body too large"},
  };
  for (const auto& c : cases) {
    const HttpResponse r = server_.dispatch(post("/api/v1/crisis", c.body));
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_THAT(errorOf(r), HasSubstr(c.message)) << c.body;
  }
  EXPECT_TRUE(plan_.crises().empty());
}

// --- parseDrainRequest --------------------------------------------------------------------

TEST(ParseDrainRequest, AcceptsTheSpecShape) {
  auto r = parseDrainRequest(R"({"upstream":"dns://[2001:db8::1]:5353","drain":true})");
  ASSERT_TRUE(r.ok()) << r.error().detail;
  EXPECT_EQ(r->upstream, "dns://[2001:db8::1]:5353");
  EXPECT_TRUE(r->drain);
}

TEST(ParseDrainRequest, BodyLimitIsExactly4KiB) {
  const std::string head = R"({"upstream":"dns://127.0.0.1"})";
  std::string at_limit = head;
  at_limit.insert(at_limit.size() - 1, std::string(kMaxApiBodyBytes - head.size(), ' '));
  ASSERT_EQ(at_limit.size(), kMaxApiBodyBytes);
  EXPECT_TRUE(parseDrainRequest(at_limit).ok());
  at_limit.insert(1, " ");
  const auto r = parseDrainRequest(at_limit);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::InvalidArgument);
  EXPECT_THAT(r.error().detail, HasSubstr("at most 4096"));
}

TEST(ParseDrainRequest, DeepNestingAndOddInputNeverThrow) {
  EXPECT_FALSE(parseDrainRequest(std::string(4000, '[')).ok());
  EXPECT_FALSE(parseDrainRequest(R"({"upstream":{"upstream":"dns://127.0.0.1"}})").ok());
  EXPECT_FALSE(parseDrainRequest(std::string("{\"upstream\":\"\xff\"}")).ok());
  EXPECT_FALSE(parseDrainRequest(std::string("\0", 1)).ok());
  EXPECT_FALSE(parseDrainRequest(R"({"upstream":"dns://127.0.0.1",})").ok());
  // A nested object may repeat a top-level key name; that is just an unknown key.
  const auto nested = parseDrainRequest(R"({"x":{"upstream":1},"upstream":"dns://127.0.0.1"})");
  ASSERT_FALSE(nested.ok());
  EXPECT_THAT(nested.error().detail, HasSubstr("unknown key \"x\""));
}

TEST(ParseDrainRequest, LongUnknownKeyIsShortenedInTheMessage) {
  const auto r = parseDrainRequest("{\"" + std::string(1000, 'k') + "\":1}");
  ASSERT_FALSE(r.ok());
  EXPECT_LT(r.error().detail.size(), 200U);
}

// --- tokenMatches ---------------------------------------------------------------------------

TEST(TokenMatches, Table) {
  const std::string t(kToken);
  struct Case {
    std::string expected;
    std::string header;
    bool match;
  };
  const std::vector<Case> cases = {
      {t, "Bearer " + t, true},
      {t, "bearer " + t, true},
      {t, "BEARER " + t, true},
      {t, "BeArEr " + t, true},
      {t, "Bearer   " + t, true},  // RFC 6750: 1*SP
      {t, "Bearer " + t.substr(1), false},
      {t, "Bearer " + t.substr(0, t.size() - 1), false},
      {t, "Bearer " + t + "x", false},
      {t, "Bearer " + t + " ", false},
      {t, "Bearer\t" + t, false},
      {t, "Bearer" + t, false},
      {t, " Bearer " + t, false},
      {t, "Bearerx " + t, false},
      {t, "Basic " + t, false},
      {t, t, false},
      {t, "", false},
      {t, "Bearer ", false},
      {t, "Bearer", false},
      {t, "Bearer " + std::string(t.size(), '\0'), false},
      {"", "Bearer ", false},  // an empty expected token never matches
      {"", "Bearer", false},
      {"", "", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(tokenMatches(c.expected, c.header), c.match)
        << "expected='" << c.expected << "' header='" << c.header << "'";
  }
}

TEST(TokenMatches, EveryDifferingPositionIsCaught) {
  const std::string t(kToken);
  for (size_t i = 0; i < t.size(); ++i) {
    std::string wrong = t;
    wrong[i] = static_cast<char>(wrong[i] ^ 0x01);
    EXPECT_FALSE(tokenMatches(t, "Bearer " + wrong)) << i;
  }
}

// --- loadApiToken ---------------------------------------------------------------------------

class LoadApiTokenTest : public ::testing::Test {
 protected:
  LoadApiTokenTest() {
    dir_ = std::filesystem::temp_directory_path() /
           ("steadfast_api_token_test." + std::to_string(getpid()) + "." +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  ~LoadApiTokenTest() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string write(const std::string& content) {
    const auto p = dir_ / "token";
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << content;
    return p.string();
  }

  std::filesystem::path dir_;
};

TEST_F(LoadApiTokenTest, TrimsTrailingWhitespace) {
  auto r = loadApiToken(write(std::string(kToken) + "\n"));
  ASSERT_TRUE(r.ok()) << r.error().detail;
  EXPECT_EQ(*r, kToken);
  r = loadApiToken(write(std::string(kToken) + " \t\r\n\n"));
  ASSERT_TRUE(r.ok()) << r.error().detail;
  EXPECT_EQ(*r, kToken);
  r = loadApiToken(write(std::string(kToken)));
  ASSERT_TRUE(r.ok()) << r.error().detail;
  EXPECT_EQ(*r, kToken);
}

TEST_F(LoadApiTokenTest, ExactlySixteenCharactersIsEnough) {
  auto r = loadApiToken(write("0123456789abcdef\n"));
  ASSERT_TRUE(r.ok()) << r.error().detail;
  EXPECT_EQ(*r, "0123456789abcdef");
}

TEST_F(LoadApiTokenTest, MissingFileNamesTheFile) {
  const std::string path = (dir_ / "absent").string();
  const auto r = loadApiToken(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::Io);
  EXPECT_THAT(r.error().detail, HasSubstr(path));
  EXPECT_THAT(r.error().detail, HasSubstr("No such file"));
}

TEST_F(LoadApiTokenTest, PathThroughAFileIsAnError) {  // fails for root too
  const std::string path = write(std::string(kToken)) + "/token";
  const auto r = loadApiToken(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::Io);
  EXPECT_THAT(r.error().detail, HasSubstr(path));
  EXPECT_THAT(r.error().detail, HasSubstr("Not a directory"));
}

TEST_F(LoadApiTokenTest, DirectoryIsAnError) {
  const auto r = loadApiToken(dir_.string());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().detail, HasSubstr(dir_.string()));
}

TEST_F(LoadApiTokenTest, EmptyOrBlankFileIsAnError) {
  for (const char* content : {"", "\n", "  \r\n\t"}) {
    const std::string path = write(content);
    const auto r = loadApiToken(path);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::InvalidArgument);
    EXPECT_THAT(r.error().detail, HasSubstr(path));
    EXPECT_THAT(r.error().detail, HasSubstr("empty"));
  }
}

TEST_F(LoadApiTokenTest, ShortTokenIsAnError) {
  const std::string path = write("0123456789abcde\n");  // 15
  const auto r = loadApiToken(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::InvalidArgument);
  EXPECT_THAT(r.error().detail, HasSubstr(path));
  EXPECT_THAT(r.error().detail, HasSubstr("15 characters, at least 16"));
}

TEST_F(LoadApiTokenTest, InnerWhitespaceOrControlCharactersAreAnError) {
  for (const std::string& content :
       {std::string("01234567 89abcdef"), std::string(" 0123456789abcdef"),
        std::string("0123456789abcdef\n0123456789abcdef"),
        std::string("0123456789\x01"
                    "abcdef"),
        std::string("0123456789abcdef\xc3\xa9")}) {
    const auto r = loadApiToken(write(content));
    ASSERT_FALSE(r.ok()) << content;
    EXPECT_THAT(r.error().detail, HasSubstr("printable ASCII")) << content;
  }
}

TEST_F(LoadApiTokenTest, HugeFileIsAnError) {
  const std::string path = write(std::string(kMaxApiTokenLength + 1, 'a'));
  const auto r = loadApiToken(path);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().detail, HasSubstr("larger than"));
  EXPECT_TRUE(loadApiToken(write(std::string(kMaxApiTokenLength, 'a'))).ok());
}

TEST_F(LoadApiTokenTest, LoadedTokenWorksWithTheRoutes) {
  const auto token = loadApiToken(write(std::string(kToken) + "\n"));
  ASSERT_TRUE(token.ok());
  HttpServer server(anyLoopback());
  FakePlan plan;
  installApiRoutes(server, ApiRoutes{&plan, *token});
  EXPECT_EQ(server.dispatch(post("/api/v1/failback", "")).status, 200);
  EXPECT_EQ(plan.failbacks(), 1);
}

}  // namespace
}  // namespace steadfast::report
