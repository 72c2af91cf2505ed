// SPDX-License-Identifier: Apache-2.0
// FeedStore: round trip with metadata, replacement is all-or-nothing (a stale temporary file
// from a crash does not matter, a failed save keeps the old copy), damaged files are refused
// with the file named, odd feed names stay inside the directory.
#include "threatfeed/fetch/store.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace steadfast::fetch {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sf-store-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string dir;
};

StoredFeed sample(const std::string& body, uint32_t serial) {
  StoredFeed f;
  f.meta.source = "axfr://127.0.0.1:5300/rpz.example";
  f.meta.serial = serial;
  f.meta.etag = "\"abc\"";
  f.meta.last_modified = "Wed, 02 Dec 2026 10:00:00 GMT";
  f.meta.stored_unix = 1795000000;
  f.body = body;
  return f;
}

TEST_F(StoreTest, RoundTrip) {
  FeedStore store(dir);
  ASSERT_TRUE(store.save("hub-rpz", sample("a.example. CNAME .\n", 42)).ok());
  auto got = store.load("hub-rpz");
  ASSERT_TRUE(got.ok()) << got.error().detail;
  EXPECT_EQ(got->body, "a.example. CNAME .\n");
  ASSERT_TRUE(got->meta.serial.has_value());
  EXPECT_EQ(*got->meta.serial, 42U);
  EXPECT_EQ(got->meta.etag, "\"abc\"");
  EXPECT_EQ(got->meta.last_modified, "Wed, 02 Dec 2026 10:00:00 GMT");
  EXPECT_EQ(got->meta.source, "axfr://127.0.0.1:5300/rpz.example");
  EXPECT_EQ(got->meta.stored_unix, 1795000000);
  EXPECT_EQ(store.pathOf("hub-rpz"), dir + "/feeds/hub-rpz.feed");
}

TEST_F(StoreTest, NoSerialAndEmptyBody) {
  FeedStore store(dir);
  StoredFeed f;
  f.meta.source = "https://x/list";
  ASSERT_TRUE(store.save("list", f).ok());
  auto got = store.load("list");
  ASSERT_TRUE(got.ok()) << got.error().detail;
  EXPECT_FALSE(got->meta.serial.has_value());
  EXPECT_TRUE(got->body.empty());
}

TEST_F(StoreTest, ReplaceLeavesNoTemporaryAndIgnoresStaleOne) {
  FeedStore store(dir);
  ASSERT_TRUE(store.save("f", sample("old\n", 1)).ok());
  // A crash between write and rename left a half-written temporary: it is not the copy.
  { std::ofstream(store.pathOf("f") + ".tmp") << "steadfast-feed 1\nsource: x\nlen"; }
  EXPECT_EQ(store.load("f")->body, "old\n");
  ASSERT_TRUE(store.save("f", sample("new\n", 2)).ok());
  EXPECT_EQ(store.load("f")->body, "new\n");
  EXPECT_EQ(*store.load("f")->meta.serial, 2U);
  EXPECT_FALSE(fs::exists(store.pathOf("f") + ".tmp"));
}

TEST_F(StoreTest, FailedSaveKeepsOldCopy) {
  // (root ignores permissions, so the temporary's path is made a directory instead.)
  FeedStore store(dir);
  ASSERT_TRUE(store.save("f", sample("old\n", 1)).ok());
  fs::create_directory(store.pathOf("f") + ".tmp");  // open(O_CREAT) of the temporary fails
  auto st = store.save("f", sample("new\n", 2));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().detail.find(".tmp"), std::string::npos) << st.error().detail;
  EXPECT_EQ(store.load("f")->body, "old\n");
}

TEST_F(StoreTest, DamagedFilesRefusedWithPath) {
  FeedStore store(dir);
  ASSERT_TRUE(store.save("f", sample("0123456789\n", 1)).ok());
  const std::string path = store.pathOf("f");
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // Truncated.
  { std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 3); }
  auto t = store.load("f");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, Errc::Malformed);
  EXPECT_NE(t.error().detail.find(path), std::string::npos);
  // Same length, one byte changed.
  std::string flipped = bytes;
  flipped[flipped.size() - 2] = 'X';
  { std::ofstream(path, std::ios::binary | std::ios::trunc) << flipped; }
  EXPECT_NE(store.load("f").error().detail.find("checksum"), std::string::npos);
  // Not ours.
  { std::ofstream(path, std::ios::binary | std::ios::trunc) << "hello"; }
  EXPECT_EQ(store.load("f").error().code, Errc::Malformed);
  // Missing.
  EXPECT_EQ(store.load("absent").error().code, Errc::Io);
}

TEST_F(StoreTest, HostileNamesStayInside) {
  FeedStore store(dir);
  ASSERT_TRUE(store.save("../../etc/passwd", sample("x\n", 1)).ok());
  const std::string p = store.pathOf("../../etc/passwd");
  EXPECT_EQ(p.rfind(dir + "/feeds/", 0), 0U);
  EXPECT_EQ(p.find('/', dir.size() + 7), std::string::npos) << p;
  EXPECT_TRUE(store.load("../../etc/passwd").ok());
  EXPECT_NE(store.pathOf("a"), store.pathOf("%61"));
}

TEST_F(StoreTest, MetadataWithLineBreakRefused) {
  FeedStore store(dir);
  StoredFeed f = sample("x", 1);
  f.meta.etag = "\"a\"\nserial: 9";
  EXPECT_EQ(store.save("f", f).error().code, Errc::InvalidArgument);
}

}  // namespace
}  // namespace steadfast::fetch
