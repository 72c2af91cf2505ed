// SPDX-License-Identifier: Apache-2.0
// TopHits: the most-hit indicators of one feed as seen by one worker, in bounded memory
// (kSlots names), with counts and first/last seen, for the reports of a later issue.
// Space-Saving (Metwally et al. 2005): a name not in the table replaces the one with the
// lowest count and inherits that count + 1, so a name hit more than total/kSlots times is
// always present and no count is ever under its true value by more than the count inherited.
// One writer (the worker, on the blocked path only; a no-match query never gets here), any
// number of readers (the control or HTTP thread): every field is a relaxed atomic, and a slot
// carries a sequence number (odd while it is rewritten) so a reader never reports a torn
// name. No lock, no allocation after construction.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "resolver/base/clock.h"

namespace steadfast::pipeline {

class TopHits {
 public:
  using WallTime = std::chrono::system_clock::time_point;
  static constexpr size_t kSlots = 32;
  static constexpr size_t kNameWords = 32;  // 256 octets: a wire name of up to 255 and length

  struct Entry {
    std::string name;  // wire form, as the index matched it (lower case)
    uint64_t count = 0;
    uint64_t error = 0;  // count inherited from the name it replaced (Space-Saving bound)
    WallTime first_seen{};
    WallTime last_seen{};
  };

  /// Counts one hit of `name` (a wire name of at most 255 octets) at `now`. Writer only.
  void hit(std::span<const uint8_t> name, WallTime now) noexcept;
  /// A consistent copy of every used slot, most hits first. Any thread.
  [[nodiscard]] std::vector<Entry> snapshot() const;

 private:
  struct Slot {
    std::atomic<uint64_t> seq{0};  // odd while the writer rewrites the slot
    std::atomic<uint64_t> hash{0};
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> error{0};
    std::atomic<int64_t> first_ns{0};
    std::atomic<int64_t> last_ns{0};
    std::array<std::atomic<uint64_t>, kNameWords> name{};  // [0] low octet: the length
  };

  [[nodiscard]] bool sameName(const Slot& s, std::span<const uint8_t> name) const noexcept;

  std::array<Slot, kSlots> slots_{};
};

}  // namespace steadfast::pipeline
