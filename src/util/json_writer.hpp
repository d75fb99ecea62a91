// A small streaming JSON writer: modelkit's output is always one object per
// command, written field by field in a fixed order so outputs diff cleanly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace modelkit::util {

class JsonWriter {
 public:
  explicit JsonWriter(bool pretty = true) : pretty_(pretty) {}

  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view k);

  JsonWriter& value(std::string_view v);
  JsonWriter& value(const char* v) { return value(std::string_view(v)); }
  JsonWriter& value(const std::string& v) { return value(std::string_view(v)); }
  JsonWriter& value(bool v);
  JsonWriter& value(std::int64_t v);
  JsonWriter& value(std::uint64_t v);
  JsonWriter& value(int v) { return value(static_cast<std::int64_t>(v)); }
  JsonWriter& value(double v);
  JsonWriter& null();
  JsonWriter& value(const std::optional<std::string>& v) { return v ? value(*v) : null(); }
  JsonWriter& value(const std::optional<double>& v) { return v ? value(*v) : null(); }
  // Inserts already-serialized JSON verbatim (e.g. a nested object built elsewhere).
  JsonWriter& raw(std::string_view json);

  template <class T>
  JsonWriter& field(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }
  JsonWriter& null_field(std::string_view k) {
    key(k);
    return null();
  }
  JsonWriter& string_array(const std::vector<std::string>& items);

  [[nodiscard]] const std::string& str() const { return out_; }
  [[nodiscard]] std::string take() { return std::move(out_); }

 private:
  void before_value();
  void newline();

  std::string out_;
  std::vector<bool> has_items_;  // per open container
  bool pretty_;
  bool after_key_ = false;
};

// Appends s as a JSON string literal (quotes, escapes) to out.
void append_json_string(std::string& out, std::string_view s);

}  // namespace modelkit::util
