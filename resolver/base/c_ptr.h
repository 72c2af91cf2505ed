// SPDX-License-Identifier: Apache-2.0
// unique_ptr for C library objects with a stateless deleter (sizeof == sizeof(T*)).
// Example: using LdnsPkt = CPtr<ldns_pkt, ldns_pkt_free>; (ldns only in .cpp files).
#pragma once

#include <memory>

namespace steadfast {

template <auto FreeFn>
struct CFree {
  template <class T>
  void operator()(T* p) const noexcept {
    FreeFn(p);
  }
};

template <class T, auto FreeFn>
using CPtr = std::unique_ptr<T, CFree<FreeFn>>;

}  // namespace steadfast
