// Result<T>: the one way errors travel in modelkit. Each layer prefixes context
// ("config.json: ...") and only the CLI's main prints and picks the exit code.
#pragma once

#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace modelkit {

// Exit codes follow the CLI contract: 2 for usage errors, 1 for failures.
enum class ErrorKind { failure = 1, usage = 2 };

struct Error {
  std::string message;
  ErrorKind kind = ErrorKind::failure;

  // Returns a copy with `context: ` in front, for the caller's layer.
  [[nodiscard]] Error with_context(std::string_view context) const {
    std::string m;
    m.reserve(context.size() + 2 + message.size());
    m.append(context).append(": ").append(message);
    return Error{std::move(m), kind};
  }
  [[nodiscard]] int exit_code() const { return static_cast<int>(kind); }
};

[[nodiscard]] inline Error failure(std::string message) {
  return Error{std::move(message), ErrorKind::failure};
}
[[nodiscard]] inline Error usage_error(std::string message) {
  return Error{std::move(message), ErrorKind::usage};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  [[nodiscard]] bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(v_); }
  Error&& take_error() { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT
  [[nodiscard]] bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_; }
  Error&& take_error() { return std::move(error_); }

 private:
  Error error_;
  bool failed_ = false;
};

}  // namespace modelkit

// Propagates an error from a Result-returning expression, prefixing nothing.
#define MODELKIT_TRY_VOID(expr)                          \
  do {                                                   \
    auto modelkit_try_r_ = (expr);                       \
    if (!modelkit_try_r_.ok()) return modelkit_try_r_.take_error(); \
  } while (0)
