#include <modelkit/safetensors.hpp>

#include "test_support.hpp"

#include <cstring>

namespace modelkit::test {
namespace {

// A real safetensors file: 8-byte little-endian header length, JSON header, data.
std::string safetensors_bytes(const std::string& header, size_t data_bytes, int64_t claimed_length = -1) {
  std::string out(8, '\0');
  uint64_t n = claimed_length >= 0 ? static_cast<uint64_t>(claimed_length) : header.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  out += header;
  out += std::string(data_bytes, '\x01');
  return out;
}

const char* kTwoTensors =
    R"({"__metadata__": {"format": "pt"}, "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},)"
    R"( "b": {"dtype": "BF16", "shape": [4], "data_offsets": [24, 32]}})";

TEST(Safetensors, SummarisesAFile) {
  TempDir tmp;
  write_file(tmp / "model.safetensors", safetensors_bytes(kTwoTensors, 32));
  auto s = read_safetensors(tmp / "model.safetensors");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->tensors, 2u);
  EXPECT_EQ(s->parameters, 10u);
  EXPECT_EQ(s->bytes, 32u);
  ASSERT_EQ(s->dtypes.size(), 2u);
  EXPECT_EQ(s->dtypes[0].dtype, "BF16");
  EXPECT_EQ(s->dtypes[1].parameters, 6u);
}

TEST(Safetensors, ShardedIndex) {
  TempDir tmp;
  write_file(tmp / "a.safetensors", safetensors_bytes(R"({"x": {"dtype": "F16", "shape": [8], "data_offsets": [0, 16]}})", 16));
  write_file(tmp / "b.safetensors", safetensors_bytes(R"({"y": {"dtype": "I64", "shape": [1, 2], "data_offsets": [0, 16]}})", 16));
  write_file(tmp / "model.safetensors.index.json",
             R"({"metadata": {"total_size": 32}, "weight_map": {"x": "a.safetensors", "y": "b.safetensors"}})");
  auto s = summarize_weights(tmp.path());
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->files, (std::vector<std::string>{"a.safetensors", "b.safetensors"}));
  EXPECT_EQ(s->parameters, 10u);
  EXPECT_EQ(s->bytes, 32u);
}

TEST(Safetensors, ShardOutsideTheFolderIsRefused) {
  TempDir tmp;
  write_file(tmp / "model.safetensors.index.json", R"({"weight_map": {"x": "../../etc/passwd"}})");
  auto s = summarize_weights(tmp.path());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("shard '../../etc/passwd' is not a file name inside the folder"), std::string::npos);
}

struct BadHeader {
  const char* name;
  std::string bytes;
  std::string message_tail;
};
// Printed (in test names and failures) as its name, not "72-byte object <...>".
void PrintTo(const BadHeader& c, std::ostream* os) { *os << c.name; }

class BadHeaders : public ::testing::TestWithParam<BadHeader> {};

TEST_P(BadHeaders, OneClearLine) {
  TempDir tmp;
  write_file(tmp / "m.safetensors", GetParam().bytes);
  auto s = read_safetensors(tmp / "m.safetensors");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.error().message.ends_with(GetParam().message_tail)) << s.error().message;
  EXPECT_NE(s.error().message.find("m.safetensors'"), std::string::npos) << "names the file";
}

INSTANTIATE_TEST_SUITE_P(
    Safetensors, BadHeaders,
    ::testing::Values(
        BadHeader{"too_short", "abc", "3 bytes, too short for a safetensors header"},
        BadHeader{"length_past_file", safetensors_bytes(kTwoTensors, 32, 1 << 20),
                  "header length 1048576 is larger than the file (203 bytes)"},
        BadHeader{"huge_length", safetensors_bytes("{}", 0, INT64_MAX), "is larger than the file (10 bytes)"},
        BadHeader{"unknown_dtype",
                  safetensors_bytes(R"({"t": {"dtype": "Q9", "shape": [1], "data_offsets": [0, 1]}})", 1),
                  "tensor 't': unknown dtype 'Q9'"},
        BadHeader{"offsets_past_data",
                  safetensors_bytes(R"({"t": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", 8),
                  "tensor 't': data_offsets end 16 is past the data (8 bytes)"},
        BadHeader{"negative_offsets",
                  safetensors_bytes(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}})", 8),
                  "tensor 't': 'data_offsets' must be non-negative integers"},
        BadHeader{"size_mismatch",
                  safetensors_bytes(R"({"t": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8),
                  "tensor 't': data_offsets [0, 8] hold 8 bytes, its dtype and shape need 12"},
        BadHeader{"overflowing_shape",
                  safetensors_bytes(R"({"t": {"dtype": "F32", "shape": [4294967296, 4294967296, 16], "data_offsets": [0, 8]}})", 8),
                  "tensor 't': shape overflows"},
        BadHeader{"overlap",
                  safetensors_bytes(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", 12),
                  "tensors 'a' and 'b' overlap"},
        BadHeader{"not_json", safetensors_bytes("{nope", 0), "invalid JSON (The JSON document has an improper structure: missing or superfluous commas, braces, missing keys, etc.)"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Safetensors, RandomCorruptionNeverCrashes) {
  TempDir tmp;
  std::string good = safetensors_bytes(kTwoTensors, 32);
  std::mt19937 rng(99);
  int failures = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string bytes = good;
    if (i % 3 == 0) bytes.resize(rng() % bytes.size());
    else
      for (int k = 0; k < 3; ++k) bytes[rng() % bytes.size()] = static_cast<char>(rng() % 256);
    write_file(tmp / "f.safetensors", bytes);
    auto s = read_safetensors(tmp / "f.safetensors");
    if (!s.ok()) {
      ++failures;
      EXPECT_EQ(s.error().message.find('\n'), std::string::npos);
    }
  }
  EXPECT_GT(failures, 500);
}

}  // namespace
}  // namespace modelkit::test
