// SPDX-License-Identifier: Apache-2.0
#include "threatfeed/core/lists.h"

#include <string>

#include "threatfeed/core/names.h"

namespace steadfast::threatfeed {
namespace {

std::string_view stripBom(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) {
    text.remove_prefix(3);
  }
  return text;
}

bool isSpace(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && isSpace(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

void noteError(ParseStats& st, uint64_t line, std::string_view what) {
  ++st.malformed;
  if (st.first_errors.size() < kMaxReportedErrors) {
    st.first_errors.push_back(std::to_string(line) + ": " + std::string{what});
  }
}

// Calls fn(line_number, content-without-comment) for every non-blank line.
template <typename Fn>
void forEachLine(std::string_view text, ParseStats& st, Fn&& fn) {
  text = stripBom(text);
  uint64_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      nl = text.size();
    }
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line.size() > kMaxLineBytes) {
      ++st.lines;
      noteError(st, line_no, "line too long");
      continue;
    }
    const size_t hash = line.find('#');
    if (hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    line = trim(line);
    if (line.empty()) {
      continue;
    }
    ++st.lines;
    fn(line_no, line);
  }
}

bool isLocalhostName(std::string_view n) {
  return n == "localhost" || n == "localhost.localdomain" || n == "local" || n == "broadcasthost" ||
         n.starts_with("ip6-") || n == "0.0.0.0";
}

}  // namespace

FeedEntries parseDomainList(std::string_view text) {
  FeedEntries out;
  forEachLine(text, out.stats, [&](uint64_t line_no, std::string_view line) {
    for (char c : line) {
      if (isSpace(c)) {
        noteError(out.stats, line_no, "more than one field");
        return;
      }
    }
    auto name = canonicalName(line);
    if (!name || name->find('*') != std::string::npos) {
      noteError(out.stats, line_no, "not a domain name");
      return;
    }
    out.names.push_back(NameEntry{*name, Match::Exact, Action::FeedDefault, {}});
    out.names.push_back(NameEntry{std::move(*name), Match::Subdomains, Action::FeedDefault, {}});
  });
  return out;
}

FeedEntries parseHostsFile(std::string_view text) {
  FeedEntries out;
  forEachLine(text, out.stats, [&](uint64_t line_no, std::string_view line) {
    size_t i = 0;
    auto next = [&]() -> std::string_view {
      while (i < line.size() && isSpace(line[i])) {
        ++i;
      }
      const size_t b = i;
      while (i < line.size() && !isSpace(line[i])) {
        ++i;
      }
      return line.substr(b, i - b);
    };
    const std::string_view addr = next();
    if (addr != "0.0.0.0" && addr != "127.0.0.1" && addr != "::" && addr != "::1") {
      noteError(out.stats, line_no, "address is not a blocking address");
      return;
    }
    bool any = false;
    for (std::string_view field = next(); !field.empty(); field = next()) {
      auto name = canonicalName(field);
      if (!name || name->find('*') != std::string::npos || name->empty()) {
        noteError(out.stats, line_no, "not a host name");
        return;
      }
      any = true;
      if (isLocalhostName(*name)) {
        ++out.stats.ignored;
        continue;
      }
      out.names.push_back(NameEntry{std::move(*name), Match::Exact, Action::FeedDefault, {}});
    }
    if (!any) {
      noteError(out.stats, line_no, "no host name");
    }
  });
  return out;
}

}  // namespace steadfast::threatfeed
