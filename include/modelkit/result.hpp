// Result<T>: the one way errors travel in modelkit. Each layer prefixes context
// ("config.json: ...") and only the CLI's main prints and picks the exit code.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace modelkit {

// An error is one line (the CLI prints `modelkit: <message>`), but messages quote values read
// from untrusted files, which may hold any byte: control characters are written as escapes
// (\n, \r, \t, \xNN) so a tensor name with a newline or a terminal escape sequence cannot
// break the line or reach the terminal raw. Everything else, UTF-8 included, passes unchanged.
[[nodiscard]] inline std::string escape_control_characters(std::string_view text) {
  auto is_control = [](unsigned char c) { return c < 0x20 || c == 0x7f; };
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (!is_control(c)) {
      out += ch;
      continue;
    }
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        out += "\\x";
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
    }
  }
  return out;
}

// How messages quote a name, a value or a path: 'x'. Escaping happens once, when the message
// becomes an Error (failure(), usage_error(), with_context()).
[[nodiscard]] inline std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.append(1, '\'').append(text).append(1, '\'');
  return out;
}
[[nodiscard]] inline std::string quoted(const std::string& text) { return quoted(std::string_view(text)); }
// A non-const string too: otherwise argument-dependent lookup prefers std::quoted (<iomanip>).
[[nodiscard]] inline std::string quoted(std::string& text) { return quoted(std::string_view(text)); }
[[nodiscard]] inline std::string quoted(const char* text) { return quoted(std::string_view(text)); }
[[nodiscard]] inline std::string quoted(const std::filesystem::path& path) { return quoted(path.string()); }

// Exit codes follow the CLI contract: 2 for usage errors, 1 for failures.
enum class ErrorKind { failure = 1, usage = 2 };

struct Error {
  std::string message;
  ErrorKind kind = ErrorKind::failure;

  // Returns a copy with `context: ` in front, for the caller's layer.
  [[nodiscard]] Error with_context(std::string_view context) const {
    std::string m;
    m.reserve(context.size() + 2 + message.size());
    m.append(escape_control_characters(context)).append(": ").append(message);
    return Error{std::move(m), kind};
  }
  [[nodiscard]] int exit_code() const { return static_cast<int>(kind); }
};

[[nodiscard]] inline Error failure(std::string_view message) {
  return Error{escape_control_characters(message), ErrorKind::failure};
}
[[nodiscard]] inline Error usage_error(std::string_view message) {
  return Error{escape_control_characters(message), ErrorKind::usage};
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

#define MODELKIT_CONCAT_INNER_(a, b) a##b
#define MODELKIT_CONCAT_(a, b) MODELKIT_CONCAT_INNER_(a, b)

// Value-returning TRY: declares `decl` from the value of a Result-returning expression, or
// returns its error from the enclosing function.
//   MODELKIT_TRY(auto info, onnx::read_model_info(path));
//   MODELKIT_TRY(config, parse(text));          // assigns to an existing variable
#define MODELKIT_TRY(decl, expr)                                                        \
  auto MODELKIT_CONCAT_(modelkit_try_, __LINE__) = (expr);                             \
  if (!MODELKIT_CONCAT_(modelkit_try_, __LINE__).ok())                                 \
    return MODELKIT_CONCAT_(modelkit_try_, __LINE__).take_error();                     \
  decl = std::move(MODELKIT_CONCAT_(modelkit_try_, __LINE__)).value()

// The same, with context in front of the error ("config.json: ...").
#define MODELKIT_TRY_CTX(decl, expr, context)                                           \
  auto MODELKIT_CONCAT_(modelkit_try_, __LINE__) = (expr);                             \
  if (!MODELKIT_CONCAT_(modelkit_try_, __LINE__).ok())                                 \
    return MODELKIT_CONCAT_(modelkit_try_, __LINE__).error().with_context(context);    \
  decl = std::move(MODELKIT_CONCAT_(modelkit_try_, __LINE__)).value()
