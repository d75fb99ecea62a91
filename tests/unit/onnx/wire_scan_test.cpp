// The wire-format scanner behind read_model_info: it must describe every model exactly as the
// protobuf parse does (checked against protobuf on the real test models and on thousands of
// truncations and bit flips of them), refuse malformed bytes with one line naming the file and
// the byte, and never read a tensor's payload (checked by putting the payload on pages that
// cannot be read).
#include <modelkit/onnx.hpp>

#include "onnx/model_proto.hpp"
#include "onnx/onnx_json.hpp"
#include "onnx/wire_scan.hpp"
#include "test_models.hpp"
#include "util/file.hpp"
#include "util/json_writer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <sys/mman.h>
#include <unistd.h>

namespace modelkit::onnx {
namespace {

namespace fs = std::filesystem;
using modelkit::testing::TempDir;
using modelkit::testing::test_model;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string info_json(const ModelInfo& info) {
  util::JsonWriter json;
  write_model_info_json(json, info);
  return json.str();
}

// --- a little protobuf encoder for hand-made inputs ----------------------------------------------

std::string varint(std::uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}
std::string tag(std::uint32_t field, std::uint32_t wire) { return varint((std::uint64_t{field} << 3) | wire); }
std::string len_field(std::uint32_t field, std::string_view body) {
  return tag(field, 2) + varint(body.size()) + std::string(body);
}
std::string int_field(std::uint32_t field, std::uint64_t v) { return tag(field, 0) + varint(v); }

// ModelProto{ir_version 8, opset 17, graph{name "g", initializer `tensor`}}.
std::string model_with(std::string_view tensor) {
  std::string graph = len_field(2, "g") + len_field(5, tensor);
  return int_field(1, 8) + len_field(8, int_field(2, 17)) + len_field(7, graph);
}

const std::vector<std::string>& differential_models() {
  static const std::vector<std::string> names = {
      "bert-tiny-like/model.onnx", "cnn-tiny/model.onnx",          "silero-vad/silero_vad_legacy.onnx",
      "silero-vad/silero_vad_v5.onnx", "kv-gpt-tiny/model.onnx", "minilm-like/model.onnx"};
  return names;
}

// --- agreement with protobuf -----------------------------------------------------------------------

TEST(WireScan, DescribesRealModelsExactlyAsTheProtobufParse) {
  for (const auto& name : differential_models()) {
    SCOPED_TRACE(name);
    auto path = test_model(name);
    auto parsed = read_model_proto(path);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    auto from_proto = model_info_from_proto(*parsed, path, fs::file_size(path));
    auto scanned = read_model_info(path);
    ASSERT_TRUE(from_proto.ok()) << from_proto.error().message;
    ASSERT_TRUE(scanned.ok()) << scanned.error().message;
    EXPECT_EQ(info_json(*scanned), info_json(*from_proto));
    EXPECT_EQ(format_model_info_table(*scanned), format_model_info_table(*from_proto));
  }
}

// Wherever protobuf accepts damaged bytes and describes them, the scanner says the same; where
// protobuf refuses them the scanner may still describe them (it does not look inside fields
// inspect does not show), but never crashes.
TEST(WireScan, AgreesWithProtobufOnDamagedModels) {
  std::mt19937_64 rng(20261203);
  int compared = 0;
  // Small models (a damaged copy is made per try): a CNN, a BERT-like and a KV-cache decoder.
  for (const char* name : {"cnn-tiny/model.onnx", "kv-gpt-tiny/model.onnx", "bert-tiny-like/model.onnx"}) {
    auto bytes = util::read_file(test_model(name));
    ASSERT_TRUE(bytes.ok());
    for (int i = 0; i < 250; ++i) {
      std::string damaged = *bytes;
      if (i % 3 == 0) {
        damaged.resize(rng() % damaged.size());
      } else {
        int flips = 1 + static_cast<int>(rng() % 6);
        // Most of a model's bytes are weights; aim half the flips at the first 4 KiB (the graph).
        for (int f = 0; f < flips; ++f) {
          std::size_t at = (rng() % 2) ? rng() % damaged.size() : rng() % std::min<std::size_t>(4096, damaged.size());
          damaged[at] ^= static_cast<char>(1u << (rng() % 8));
        }
      }
      auto scanned_model = wire::scan_model(damaged, "'damaged.onnx'");
      Result<ModelInfo> scanned = scanned_model.ok()
                                      ? model_info_from_scan(*scanned_model, "/nonexistent-dir/m.onnx", damaged.size())
                                      : Result<ModelInfo>(scanned_model.error());
      if (!scanned.ok()) {
        EXPECT_EQ(scanned.error().message.find('\n'), std::string::npos);
      }
      auto parsed = parse_model_proto(damaged, "'damaged.onnx'");
      if (!parsed.ok()) continue;
      auto from_proto = model_info_from_proto(*parsed, "/nonexistent-dir/m.onnx", damaged.size());
      if (!from_proto.ok()) {
        ASSERT_FALSE(scanned.ok()) << name << " damage " << i;
        EXPECT_EQ(scanned.error().message, from_proto.error().message);
        continue;
      }
      ASSERT_TRUE(scanned.ok()) << name << " damage " << i << ": " << scanned.error().message;
      EXPECT_EQ(info_json(*scanned), info_json(*from_proto)) << name << " damage " << i;
      ++compared;
    }
  }
  EXPECT_GT(compared, 100);
}

TEST(WireScan, FollowsProtobufMergeOneofAndUnknownWireTypeRules) {
  // The tensor: dims packed [2] then unpacked 3, data_type 1, name "w", raw_data given twice
  // (the last wins), data_location 7 (not a DataLocation: ignored), data_type sent as fixed32
  // (wrong wire type: skipped like an unknown field).
  std::string tensor = len_field(1, varint(2)) + int_field(1, 3) + int_field(2, 1) + len_field(8, "w") +
                       len_field(9, std::string(4, 'x')) + len_field(9, std::string(24, 'y')) + int_field(14, 7) +
                       tag(2, 5) + std::string(4, '\0');
  // An input whose type is first a sequence, then a tensor (the oneof keeps the tensor), with one
  // dim that is first a value then a name (the name wins).
  std::string dim = int_field(1, 5) + len_field(2, "batch");
  std::string tensor_type = int_field(1, 7) + len_field(2, len_field(1, dim));
  std::string type = len_field(4, len_field(1, "")) + len_field(1, tensor_type);
  std::string input = len_field(1, "ids") + len_field(2, type);
  // The graph arrives in two parts, which protobuf merges: the second adds a node and an output.
  std::string graph1 = len_field(2, "g") + len_field(5, tensor) + len_field(11, input);
  std::string graph2 = len_field(1, len_field(4, "Relu")) + len_field(12, len_field(1, "out"));
  std::string bytes = int_field(1, 8) + len_field(8, int_field(2, 17)) + len_field(7, graph1) + len_field(7, graph2);

  auto parsed = parse_model_proto(bytes, "'m'");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  auto from_proto = model_info_from_proto(*parsed, "m.onnx", bytes.size());
  ASSERT_TRUE(from_proto.ok()) << from_proto.error().message;
  auto scanned = wire::scan_model(bytes, "'m'");
  ASSERT_TRUE(scanned.ok()) << scanned.error().message;
  auto info = model_info_from_scan(*scanned, "m.onnx", bytes.size());
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info_json(*info), info_json(*from_proto));
  EXPECT_EQ(info->initializer_bytes, 24u);  // float32 [2, 3], the second raw_data
  ASSERT_EQ(info->inputs.size(), 1u);
  EXPECT_EQ(format_dims(info->inputs[0]), "[batch]");
  EXPECT_EQ(info->node_count, 1);
  EXPECT_EQ(info->outputs.size(), 1u);
}

// --- malformed bytes --------------------------------------------------------------------------------

struct Hostile {
  const char* what;
  std::string bytes;
  const char* says;
};

std::vector<Hostile> hostile_inputs() {
  std::string good = model_with(len_field(8, "w") + int_field(2, 1) + len_field(1, varint(4)) +
                                len_field(9, std::string(16, 'z')));
  std::string nested = len_field(2, "deep");
  for (int i = 0; i < 60; ++i)  // graph -> node -> attribute -> graph ...
    nested = len_field(1, len_field(4, "If") + len_field(5, len_field(1, "then_branch") + len_field(6, nested)));
  return {
      {"truncated", good.substr(0, good.size() - 5), "claims"},
      {"length past the end", int_field(1, 8) + tag(7, 2) + varint(1'000'000) + "abc", "claims 1000000 bytes but only 3"},
      {"varint of 11 bytes", int_field(1, 8) + tag(5, 0) + std::string(10, '\xff') + "\x01", "longer than 10 bytes"},
      {"nested too deep", int_field(1, 8) + len_field(7, nested), "nested more than 100 deep"},
      {"invalid wire type", int_field(1, 8) + tag(3, 7), "invalid wire type 7"},
      {"field number 0", int_field(1, 8) + tag(0, 0) + varint(1), "field number 0"},
      {"packed floats of 6 bytes", model_with(len_field(4, std::string(6, '\0'))), "holds 6 bytes"},
      {"unterminated packed varint", model_with(len_field(5, "\x80\x80")), "packed varint runs past the end"},
  };
}

TEST(WireScan, MalformedBytesAreOneLineErrorsNamingFileAndPlace) {
  TempDir dir;
  for (const auto& h : hostile_inputs()) {
    SCOPED_TRACE(h.what);
    auto path = dir.path() / "hostile.onnx";
    ASSERT_TRUE(util::write_file_atomic(path, h.bytes).ok());
    auto info = read_model_info(path);
    ASSERT_FALSE(info.ok());
    EXPECT_THAT(info.error().message, StartsWith("'" + path.string() + "' is not a valid ONNX model (truncated or corrupt: "));
    EXPECT_THAT(info.error().message, HasSubstr(h.says));
    EXPECT_THAT(info.error().message, HasSubstr(" at byte "));
    EXPECT_EQ(info.error().message.find('\n'), std::string::npos);
    // protobuf refuses each of them too.
    EXPECT_FALSE(parse_model_proto(h.bytes, "'x'").ok());
  }
}

TEST(WireScan, RefusesWhatTheParseRefuses) {
  EXPECT_THAT(wire::scan_model("", "'e'").error().message, HasSubstr("'e' is empty, not an ONNX model"));
  EXPECT_THAT(wire::scan_model(int_field(1, 8), "'n'").error().message, HasSubstr("it has no graph"));
  EXPECT_THAT(wire::scan_model(len_field(7, ""), "'v'").error().message, HasSubstr("ir_version 0"));
  TempDir dir;
  EXPECT_THAT(read_model_info(dir.path()).error().message, HasSubstr("is a folder"));
  EXPECT_THAT(read_model_info(dir.path() / "absent.onnx").error().message, HasSubstr("absent.onnx': no such file"));
  auto fifo = dir.path() / "fifo.onnx";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THAT(read_model_info(fifo).error().message, HasSubstr("not a regular file"));
}

// --- payloads are never read -----------------------------------------------------------------------

// The scanned bytes end with a tensor payload that lies on pages mapped PROT_NONE: reading one
// byte of it would kill the test with SIGSEGV.
TEST(WireScan, NeverReadsTensorPayloads) {
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t payload = 64 * page;
  for (int field : {9, 4, 10}) {  // raw_data, packed float_data, packed double_data
    SCOPED_TRACE(field);
    std::size_t elements = field == 9 ? payload / 4 : field == 4 ? payload / 4 : payload / 8;
    std::string tensor_head = len_field(8, "w") + int_field(2, field == 10 ? 11 : 1) +
                              len_field(1, varint(elements)) + tag(static_cast<std::uint32_t>(field), 2) + varint(payload);
    std::string graph_head = len_field(2, "g") + tag(5, 2) + varint(tensor_head.size() + payload);
    std::string head = int_field(1, 8) + len_field(8, int_field(2, 17)) + tag(7, 2) +
                       varint(graph_head.size() + tensor_head.size() + payload) + graph_head + tensor_head;
    std::size_t head_pages = (head.size() + page - 1) / page;
    std::size_t total = (head_pages * page) + payload;
    void* region = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(region, MAP_FAILED);
    char* base = static_cast<char*>(region);
    char* start = base + head_pages * page - head.size();
    std::memcpy(start, head.data(), head.size());
    ASSERT_EQ(::mprotect(base + head_pages * page, payload, PROT_NONE), 0);
    std::string_view bytes(start, head.size() + payload);
    auto scanned = wire::scan_model(bytes, "'m'");
    ASSERT_TRUE(scanned.ok()) << scanned.error().message;
    auto info = model_info_from_scan(*scanned, "m.onnx", bytes.size());
    ASSERT_TRUE(info.ok()) << info.error().message;
    EXPECT_EQ(info->initializer_bytes, payload);
    ::munmap(region, total);
  }
}

// Dims that disagree with the data are reported as before (from the length, not the data).
TEST(WireScan, DimsThatDisagreeWithTheDataAreNamed) {
  std::string tensor = len_field(8, "big") + int_field(2, 1) + len_field(1, varint(100'000) + varint(100'000)) +
                       len_field(9, std::string(16, 'z'));
  std::string bytes = model_with(tensor);  // the scan's views point into it
  auto scanned = wire::scan_model(bytes, "'m'");
  ASSERT_TRUE(scanned.ok());
  auto info = model_info_from_scan(*scanned, "m.onnx", 0);
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.error().message,
              HasSubstr("tensor 'big': dims [100000, 100000] describe 40000000000 bytes but its data holds 16"));
}

}  // namespace
}  // namespace modelkit::onnx
