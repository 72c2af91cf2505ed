// SPDX-License-Identifier: Apache-2.0
#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "threatfeed/core/block_index.h"
#include "threatfeed/core/guards.h"
#include "threatfeed/core/index_holder.h"
#include "threatfeed/core/lists.h"
#include "threatfeed/core/names.h"
#include "threatfeed/core/rpz.h"

namespace steadfast::threatfeed {
namespace {

LookupResult look(const BlockIndex& idx, std::string_view presentation) {
  std::string w;
  // presentation with case kept: build wire by hand
  size_t s = 0;
  while (s < presentation.size()) {
    size_t d = presentation.find('.', s);
    if (d == std::string_view::npos) {
      d = presentation.size();
    }
    w.push_back(static_cast<char>(d - s));
    w.append(presentation.substr(s, d - s));
    s = d + 1;
  }
  w.push_back('\0');
  return idx.lookup(std::span(reinterpret_cast<const uint8_t*>(w.data()), w.size()));
}

std::unique_ptr<const BlockIndex> twoFeeds() {
  BlockIndexBuilder b;
  b.addAllow("good.evil.example");
  FeedEntries rpz = parseRpzZone(
                        "$ORIGIN rpz.\nexact.example CNAME .\n*.wild.example CNAME rpz-drop.\n"
                        "shared.example CNAME rpz-passthru.\n32.4.3.2.1.rpz-ip CNAME .\n"
                        "local.example A 192.0.2.7\n")
                        .entries;
  EXPECT_EQ(b.addFeed(rpz), 0);
  FeedEntries list = parseDomainList("evil.example\nshared.example\nexact.example\n");
  EXPECT_EQ(b.addFeed(list, Action::Nodata), 1);
  return b.build();
}

TEST(BlockIndex, ExactWildcardCaseDeep) {
  auto idx = twoFeeds();
  EXPECT_EQ(look(*idx, "exact.example").verdict, Verdict::Matched);
  EXPECT_EQ(look(*idx, "EXACT.Example").match.action, Action::Nxdomain);
  EXPECT_EQ(look(*idx, "exact.example").match.feed, 0);
  // exact rule of feed 0 does not cover subdomains; feed 1's list entry does
  EXPECT_EQ(look(*idx, "a.exact.example").match.feed, 1);
  EXPECT_EQ(look(*idx, "wild.example").verdict, Verdict::None);
  EXPECT_EQ(look(*idx, "x.y.z.Wild.example").match.action, Action::Drop);
  EXPECT_EQ(look(*idx, "other.example").verdict, Verdict::None);
  EXPECT_EQ(look(*idx, "example").verdict, Verdict::None);
  const auto local = look(*idx, "local.example");
  ASSERT_EQ(local.match.local.size(), 1u);
  EXPECT_EQ(local.match.local[0].type, kTypeA);
  std::string deep;
  for (int i = 0; i < 120; ++i) {
    deep += "a.";
  }
  EXPECT_EQ(look(*idx, deep + "evil.example").match.action, Action::Nodata);
  EXPECT_NE(look(*idx, "exact.example").match.rule_id, look(*idx, "evil.example").match.rule_id);
  EXPECT_EQ(idx->ruleInfo(look(*idx, "q.wild.example").match.rule_id).name, "wild.example");
}

TEST(BlockIndex, PrecedenceAndAllow) {
  auto idx = twoFeeds();
  // feed 0 passthru wins over feed 1's block
  EXPECT_EQ(look(*idx, "shared.example").match.action, Action::Passthru);
  EXPECT_EQ(look(*idx, "good.evil.example").verdict, Verdict::Allowed);
  EXPECT_EQ(look(*idx, "a.GOOD.evil.example").verdict, Verdict::Allowed);
  EXPECT_EQ(look(*idx, "bad.evil.example").verdict, Verdict::Matched);
}

TEST(BlockIndex, MalformedWireAndEmpty) {
  auto idx = twoFeeds();
  const uint8_t bad[] = {5, 'a', 'b'};
  EXPECT_EQ(idx->lookup(bad).verdict, Verdict::None);
  BlockIndex empty;
  EXPECT_EQ(look(empty, "evil.example").verdict, Verdict::None);
}

TEST(BlockIndex, ResponseIp) {
  BlockIndexBuilder b;
  FeedEntries f = parseRpzZone(
                      "$ORIGIN rpz.\n24.0.2.0.192.rpz-ip CNAME .\n32.7.2.0.192.rpz-ip CNAME "
                      "rpz-drop.\n48.zz.db8.2001.rpz-ip CNAME .\n")
                      .entries;
  b.addFeed(f);
  auto idx = b.build();
  const uint8_t in[] = {192, 0, 2, 9};
  const uint8_t exact[] = {192, 0, 2, 7};
  const uint8_t out[] = {192, 0, 3, 7};
  EXPECT_EQ(idx->lookupAddress(in).match.action, Action::Nxdomain);
  EXPECT_EQ(idx->lookupAddress(exact).match.action, Action::Drop);
  EXPECT_EQ(idx->lookupAddress(out).verdict, Verdict::None);
  uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  EXPECT_EQ(idx->lookupAddress(v6).verdict, Verdict::Matched);
  v6[5] = 1;
  EXPECT_EQ(idx->lookupAddress(v6).verdict, Verdict::None);
  EXPECT_EQ(idx->ruleInfo(idx->lookupAddress(in).match.rule_id).name, "192.0.2.0/24");
}

TEST(Guards, RootTldPublicSuffixProtected) {
  PublicSuffixList psl = PublicSuffixList::parse("// c\ncom\nco.uk\n*.ck\n!www.ck\n");
  FeedEntries f = parseDomainList(
      ".\ncom\nco.uk\nfoo.ck\nwww.ck\nevil.example\nexample.net\n"
      "upstream.example.org\n");
  GuardConfig cfg;
  cfg.public_suffixes = &psl;
  cfg.protected_names = {"dns.example.net", "upstream.example.org"};
  GuardReport r = applyGuards(f, cfg);
  EXPECT_EQ(r.verdict, FeedVerdict::Accepted);
  EXPECT_EQ(r.rejected_root, 2u);  // exact and subdomains
  EXPECT_EQ(r.rejected_tld, 2u);
  EXPECT_EQ(r.rejected_public_suffix, 4u);  // co.uk, foo.ck
  EXPECT_EQ(r.rejected_protected, 2u);      // *.example.net, upstream.example.org exact
  // kept: www.ck x2, evil.example x2, example.net exact, upstream.example.org subdomains
  EXPECT_EQ(r.accepted, 6u);
  EXPECT_FALSE(r.first_rejected.empty());
}

TEST(Guards, DebianPublicSuffixList) {
  auto psl = PublicSuffixList::loadFile(kDebianPublicSuffixList);
  ASSERT_TRUE(psl.has_value());
  EXPECT_TRUE(psl->isPublicSuffix("co.uk"));
  EXPECT_TRUE(psl->isPublicSuffix("github.io"));
  EXPECT_FALSE(psl->isPublicSuffix("example.co.uk"));
}

TEST(Guards, MalformedShareMaxEntriesShrink) {
  std::string text;
  for (int i = 0; i < 95; ++i) {
    text += "n" + std::to_string(i) + ".example\n";
  }
  text += "bad..1\nbad..2\nbad..3\nbad..4\nbad..5\n";  // 5 of 100: not over 5%
  FeedEntries ok = parseDomainList(text);
  EXPECT_EQ(applyGuards(ok, {}).verdict, FeedVerdict::Accepted);
  FeedEntries bad = parseDomainList(text + "bad..6\n");  // 6 of 101: over 5%
  EXPECT_EQ(applyGuards(bad, {}).verdict, FeedVerdict::RejectedMalformed);
  GuardConfig small;
  small.max_entries = 10;
  FeedEntries big = parseDomainList(text);
  EXPECT_EQ(applyGuards(big, small).verdict, FeedVerdict::RejectedTooLarge);
  GuardConfig shrink;
  shrink.previous_size = 1000;
  FeedEntries s1 = parseDomainList(text);  // 190 entries: lost 81%
  EXPECT_EQ(applyGuards(s1, shrink).verdict, FeedVerdict::HeldShrink);
  shrink.operator_refresh = true;
  FeedEntries s2 = parseDomainList(text);
  EXPECT_EQ(applyGuards(s2, shrink).verdict, FeedVerdict::Accepted);
}

TEST(BlockIndexHolder, SwapUnderConcurrentReaders) {
  BlockIndexHolder holder(4);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> seen{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      const uint32_t id = holder.registerReader();
      for (int i = 0; i < 20000 && !stop.load(); ++i) {
        BlockIndexHolder::Guard g(holder, id);
        const LookupResult r = look(g.index(), "evil.example");
        if (r.verdict == Verdict::Matched) {
          seen.fetch_add(1);
          EXPECT_EQ(g->ruleInfo(r.match.rule_id).name, "evil.example");
        }
      }
    });
  }
  for (int v = 0; v < 200; ++v) {
    BlockIndexBuilder b;
    b.addFeed(parseDomainList("evil.example\nv" + std::to_string(v) + ".example\n"));
    holder.publish(b.build());
  }
  stop.store(true);
  for (auto& t : readers) {
    t.join();
  }
  EXPECT_EQ(holder.reclaim(), 0u);
  EXPECT_EQ(look(holder.currentForWriter(), "v199.example").verdict, Verdict::Matched);
}

}  // namespace
}  // namespace steadfast::threatfeed
