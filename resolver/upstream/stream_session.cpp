// SPDX-License-Identifier: Apache-2.0
#include "resolver/upstream/stream_session.h"

#include <algorithm>

namespace steadfast::upstream {

StreamIds::StreamIds(size_t capacity) : capacity_(capacity) {
  entries_.reserve(capacity);
}

bool StreamIds::add(uint16_t id, uint64_t cookie) noexcept {
  if (full()) {
    return false;
  }
  for (const Entry& e : entries_) {
    if (e.id == id) {
      return false;
    }
  }
  entries_.push_back(Entry{id, cookie});  // within the reserved capacity: no allocation
  return true;
}

std::optional<uint64_t> StreamIds::take(uint16_t id) noexcept {
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].id == id) {
      const uint64_t cookie = entries_[i].cookie;
      entries_[i] = entries_.back();
      entries_.pop_back();
      return cookie;
    }
  }
  return std::nullopt;
}

bool StreamIds::forget(uint64_t cookie) noexcept {
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].cookie == cookie) {
      entries_[i] = entries_.back();
      entries_.pop_back();
      return true;
    }
  }
  return false;
}

std::vector<uint64_t> StreamIds::drain() {
  std::vector<uint64_t> out;
  out.reserve(entries_.size());
  for (const Entry& e : entries_) {
    out.push_back(e.cookie);
  }
  entries_.clear();
  return out;
}

ReconnectBackoff::ReconnectBackoff(const Clock& clock, Random& random, Nanos base,
                                   Nanos max) noexcept
    : clock_(clock), random_(random), base_(base), max_(std::max(base, max)) {}

void ReconnectBackoff::onFailure() noexcept {
  ++failures_;
  Nanos wait = base_;
  for (uint32_t i = 1; i < failures_ && wait < max_; ++i) {
    wait *= 2;
  }
  wait = std::min(wait, max_);
  const double factor = 0.5 + (0.5 * random_.unit());
  next_ = clock_.now() + Nanos{static_cast<int64_t>(static_cast<double>(wait.count()) * factor)};
}

void ReconnectBackoff::onSuccess() noexcept {
  failures_ = 0;
  next_ = MonoTime{};
}

Choice chooseConnection(std::span<const ConnView> conns, size_t max_connections,
                        bool backoff_allows) noexcept {
  std::optional<size_t> best;
  std::optional<size_t> connecting;
  for (size_t i = 0; i < conns.size(); ++i) {
    const ConnView& c = conns[i];
    if (c.in_flight >= c.capacity) {
      continue;
    }
    if (c.ready) {
      if (!best || c.in_flight < conns[*best].in_flight) {
        best = i;
      }
    } else if (!connecting) {
      connecting = i;
    }
  }
  if (best) {
    return Choice{Choice::Kind::Use, *best};
  }
  if (connecting) {
    return Choice{Choice::Kind::Wait, *connecting};
  }
  if (conns.size() < max_connections && backoff_allows) {
    return Choice{Choice::Kind::Open};
  }
  return Choice{Choice::Kind::None};
}

}  // namespace steadfast::upstream
