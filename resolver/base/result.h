// SPDX-License-Identifier: Apache-2.0
// Result<T>: the error-as-value type of the data plane (STYLE.md section 5). Shaped like
// C++23 std::expected, which GCC 12's libstdc++ lacks. Per packet, query or probe we
// return Result or an enum and never throw; exceptions are for startup and config only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace steadfast {

enum class Errc : uint8_t {
  Timeout,
  ConnectFailed,
  TlsFailed,
  Malformed,
  Mismatch,
  Truncated,
  Refused,
  ServFail,
  NoHealthyUpstream,
  Overloaded,
  InvalidArgument,
  Io,
  Internal,
};

/// An error: a code and a short detail. On the hot path `detail` points at static text.
struct Error {
  Errc code = Errc::Internal;
  std::string detail;
};

template <class E>
struct Unexpected {
  E error;
};

inline Unexpected<Error> makeError(Errc code, std::string detail) {
  return Unexpected<Error>{Error{code, std::move(detail)}};
}

/// Expected<T, E>: holds a T or an E. `value()` on an error is a programming bug.
template <class T, class E = Error>
class Expected {
 public:
  Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}            // NOLINT: implicit
  Expected(Unexpected<E> e) : v_(std::in_place_index<1>, std::move(e.error)) {}  // NOLINT
  [[nodiscard]] bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const E& error() const& { return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

template <class T>
using Result = Expected<T, Error>;

/// Result of an operation that returns nothing.
struct Ok {};
using Status = Result<Ok>;

}  // namespace steadfast
