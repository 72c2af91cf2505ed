// SPDX-License-Identifier: Apache-2.0
#include "resolver/pipeline/top_hits.h"

#include <algorithm>

namespace steadfast::pipeline {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

// FNV-1a over the name: a cheap first comparison before the name words.
uint64_t nameHash(std::span<const uint8_t> name) noexcept {
  uint64_t h = 14695981039346656037ULL;
  for (const uint8_t c : name) {
    h = (h ^ c) * 1099511628211ULL;
  }
  return h | 1U;  // never 0: 0 marks an unused slot
}

// Word i of the packed form: octet 0 is the length, octets 1.. the name.
uint64_t packedWord(std::span<const uint8_t> name, size_t word) noexcept {
  uint64_t w = 0;
  for (size_t b = 0; b < 8; ++b) {
    const size_t at = word * 8 + b;
    uint8_t octet = 0;
    if (at == 0) {
      octet = static_cast<uint8_t>(name.size());
    } else if (at - 1 < name.size()) {
      octet = name[at - 1];
    }
    w |= uint64_t{octet} << (8U * b);
  }
  return w;
}

int64_t toNs(TopHits::WallTime t) noexcept {
  return std::chrono::duration_cast<Nanos>(t.time_since_epoch()).count();
}

}  // namespace

bool TopHits::sameName(const Slot& s, std::span<const uint8_t> name) const noexcept {
  const size_t words = (name.size() + 1 + 7) / 8;
  for (size_t w = 0; w < words; ++w) {
    if (s.name[w].load(kRelaxed) != packedWord(name, w)) {
      return false;
    }
  }
  return true;
}

void TopHits::hit(std::span<const uint8_t> name, WallTime now) noexcept {
  if (name.size() > kNameWords * 8 - 1) {
    return;
  }
  const uint64_t h = nameHash(name);
  const int64_t t = toNs(now);
  Slot* lowest = &slots_[0];
  for (Slot& s : slots_) {
    const uint64_t sh = s.hash.load(kRelaxed);
    if (sh == h && sameName(s, name)) {
      s.count.store(s.count.load(kRelaxed) + 1, kRelaxed);
      s.last_ns.store(t, kRelaxed);
      return;
    }
    if (sh == 0) {
      lowest = &s;  // an unused slot: nothing to evict
      break;
    }
    if (s.count.load(kRelaxed) < lowest->count.load(kRelaxed)) {
      lowest = &s;
    }
  }
  Slot& s = *lowest;
  const bool used = s.hash.load(kRelaxed) != 0;
  const uint64_t inherited = used ? s.count.load(kRelaxed) : 0;
  const uint64_t seq = s.seq.load(kRelaxed);
  s.seq.store(seq + 1, kRelaxed);
  std::atomic_thread_fence(std::memory_order_release);
  const size_t words = (name.size() + 1 + 7) / 8;
  for (size_t w = 0; w < kNameWords; ++w) {
    s.name[w].store(w < words ? packedWord(name, w) : 0, kRelaxed);
  }
  s.hash.store(h, kRelaxed);
  s.count.store(inherited + 1, kRelaxed);
  s.error.store(inherited, kRelaxed);
  s.first_ns.store(t, kRelaxed);
  s.last_ns.store(t, kRelaxed);
  s.seq.store(seq + 2, std::memory_order_release);
}

std::vector<TopHits::Entry> TopHits::snapshot() const {
  std::vector<Entry> out;
  for (const Slot& s : slots_) {
    // A slot being rewritten is read again; bounded: after a few tries it is left out.
    for (int attempt = 0; attempt < 4; ++attempt) {
      const uint64_t before = s.seq.load(std::memory_order_acquire);
      if ((before & 1U) != 0) {
        continue;
      }
      Entry e;
      const uint64_t h = s.hash.load(kRelaxed);
      std::array<uint64_t, kNameWords> words{};
      for (size_t w = 0; w < kNameWords; ++w) {
        words[w] = s.name[w].load(kRelaxed);
      }
      e.count = s.count.load(kRelaxed);
      e.error = s.error.load(kRelaxed);
      const int64_t first = s.first_ns.load(kRelaxed);
      const int64_t last = s.last_ns.load(kRelaxed);
      std::atomic_thread_fence(std::memory_order_acquire);
      if (s.seq.load(kRelaxed) != before) {
        continue;
      }
      if (h == 0) {
        break;
      }
      const auto len = static_cast<size_t>(words[0] & 0xFFU);
      e.name.reserve(len);
      for (size_t i = 1; i <= len; ++i) {
        e.name.push_back(static_cast<char>((words[i / 8] >> (8U * (i % 8))) & 0xFFU));
      }
      e.first_seen = WallTime{std::chrono::duration_cast<WallTime::duration>(Nanos{first})};
      e.last_seen = WallTime{std::chrono::duration_cast<WallTime::duration>(Nanos{last})};
      out.push_back(std::move(e));
      break;
    }
  }
  std::sort(out.begin(), out.end(),
            [](const Entry& a, const Entry& b) { return a.count > b.count; });
  return out;
}

}  // namespace steadfast::pipeline
