// Inputs the libFuzzer targets safetensors_fuzz and sharded_index_fuzz found
// (tests/data/fuzz/<target>/), replayed through the same API.
#include "fuzz_regressions.hpp"
#include "test_support.hpp"

#include <modelkit/safetensors.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

namespace modelkit {
namespace {

using test::expect_one_line;
using test::fuzz_input;
using test::fuzz_inputs;

// safetensors_fuzz: 8 bytes of data size, then the header.
Result<WeightsSummary> parse_fuzz_header(const std::string& input) {
  std::uint64_t data_bytes = 0;
  std::memcpy(&data_bytes, input.data(), 8);
  return parse_safetensors_header(std::string_view(input).substr(8), data_bytes);
}

TEST(FuzzRegressions, SafetensorsHeaders) {
  for (const auto& [name, input] : fuzz_inputs("safetensors")) {
    ASSERT_GE(input.size(), 8u) << name;
    auto s = parse_fuzz_header(input);
    if (!s) expect_one_line(s.error(), name);
  }
}

TEST(FuzzRegressions, SafetensorsTensorNameWithNewlineStaysOnOneLine) {
  // {"__meta\nta__": {"a": "b"}, ...}: the key is a tensor name, not __metadata__.
  auto s = parse_fuzz_header(fuzz_input("safetensors", "newline_in_quoted_value.bin"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "tensor '__meta\\nta__': missing string field 'dtype'");
}

// sharded_index_fuzz: the index is read from a folder holding these two shards.
void write_fuzz_shards(const test::TempDir& dir) {
  auto shard = [](std::string_view header, std::size_t data_bytes) {
    std::string file(8, '\0');
    std::uint64_t n = header.size();
    std::memcpy(file.data(), &n, 8);
    file.append(header);
    file.append(data_bytes, '\0');
    return file;
  };
  test::write_file(dir / "model-00001-of-00002.safetensors",
                   shard(R"({"a.weight": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}})", 24));
  test::write_file(dir / "model-00002-of-00002.safetensors",
                   shard(R"({"__metadata__": {"format": "pt"}, "b.bias": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 8]}})",
                         8));
}

TEST(FuzzRegressions, ShardedIndexes) {
  test::TempDir dir;
  write_fuzz_shards(dir);
  for (const auto& [name, input] : fuzz_inputs("sharded_index")) {
    test::write_file(dir / "model.safetensors.index.json", input);
    auto s = summarize_weights(dir.path());
    if (!s) expect_one_line(s.error(), name);
  }
}

TEST(FuzzRegressions, ShardNameWithNewlineStaysOnOneLine) {
  test::TempDir dir;
  write_fuzz_shards(dir);
  test::write_file(dir / "model.safetensors.index.json", fuzz_input("sharded_index", "newline_in_quoted_value.bin"));
  auto s = summarize_weights(dir.path());
  ASSERT_FALSE(s.ok());
  expect_one_line(s.error(), "newline_in_quoted_value.bin");
  EXPECT_NE(s.error().message.find("model-00001-o\\n00002.safetensors': No such file"), std::string::npos)
      << s.error().message;
}

}  // namespace
}  // namespace modelkit
