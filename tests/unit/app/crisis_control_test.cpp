// SPDX-License-Identifier: Apache-2.0
// The parts of CrisisControl that need no running daemon: the public key at start, the
// atomic state file write, the directive fetch by scheme. The poll, the state file across a
// restart and the API are covered end to end by tests/integration/test_crisis.py.
#include "resolver/app/crisis_control.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace steadfast::app {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kKey =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAUk5lbCUeVd4Emf3zDUeodWAwrD7IqY1abLcju3IyioE=\n"
    "-----END PUBLIC KEY-----\n";

class CrisisControlFiles : public ::testing::Test {
 protected:
  CrisisControlFiles() {
    char tmpl[] = "/tmp/crisis-control-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  ~CrisisControlFiles() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, std::string_view body) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << body;
    return path;
  }
  static std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::string dir_;
};

TEST_F(CrisisControlFiles, NoDirectiveUrlLoadsNoKey) {
  failover::CrisisConfig c;
  c.directive_public_key = dir_ + "/missing.pem";
  auto key = loadDirectiveKey(c);
  ASSERT_TRUE(key.ok());
  EXPECT_FALSE(key->has_value());
}

TEST_F(CrisisControlFiles, GoodKeyLoads) {
  failover::CrisisConfig c;
  c.directive_url = "file:///d.json";
  c.directive_public_key = write("k.pem", kKey);
  auto key = loadDirectiveKey(c);
  ASSERT_TRUE(key.ok()) << key.error().detail;
  EXPECT_TRUE(key->has_value());
}

TEST_F(CrisisControlFiles, BadOrMissingKeyNamesTheFile) {
  failover::CrisisConfig c;
  c.directive_url = "file:///d.json";
  for (const std::string& path : {write("bad.pem", "not a key\n"), dir_ + "/missing.pem"}) {
    c.directive_public_key = path;
    auto key = loadDirectiveKey(c);
    ASSERT_FALSE(key.ok()) << path;
    EXPECT_THAT(key.error().detail, HasSubstr(path));
    EXPECT_THAT(key.error().detail, HasSubstr("directive_public_key"));
  }
}

TEST_F(CrisisControlFiles, AtomicWriteReplacesAndLeavesNoTemporary) {
  const std::string path = dir_ + "/crisis.json";
  ASSERT_TRUE(writeFileAtomic(path, "one").ok());
  ASSERT_TRUE(writeFileAtomic(path, "two").ok());
  EXPECT_EQ(read(path), "two");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST_F(CrisisControlFiles, AtomicWriteIntoAMissingDirectoryFails) {
  auto w = writeFileAtomic(dir_ + "/no/such/crisis.json", "x");
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, Errc::Io);
  EXPECT_THAT(w.error().detail, HasSubstr("no/such/crisis.json.tmp"));
}

TEST_F(CrisisControlFiles, FetchByScheme) {
  const std::string path = write("d.json", "{}");
  auto body = fetchDirectiveAny("file://" + path);
  ASSERT_TRUE(body.ok()) << body.error().detail;
  EXPECT_EQ(*body, "{}");
  // https goes to the HTTPS client: nothing listens on loopback port 1.
  auto https = fetchDirectiveAny("https://127.0.0.1:1/d.json");
  ASSERT_FALSE(https.ok());
  EXPECT_THAT(https.error().detail, HasSubstr("https://127.0.0.1:1/d.json"));
}

}  // namespace
}  // namespace steadfast::app
