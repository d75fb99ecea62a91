// Reading and writing ModelProto: external data (save/load round trip, escaping and missing
// side files), and bad bytes (truncations and bit flips of real models must give an error or a
// model, never a crash).
#include <modelkit/onnx.hpp>

#include "onnx/onnx_json.hpp"
#include "test_models.hpp"
#include "onnx/model_proto.hpp"
#include "onnx/tensor_walk.hpp"
#include "util/file.hpp"
#include "util/json_writer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>

namespace modelkit::onnx {
namespace {

namespace fs = std::filesystem;
using modelkit::testing::TempDir;
using modelkit::testing::test_model;
using ::testing::HasSubstr;

// Every initializer's dense bytes, by name.
std::map<std::string, std::vector<std::byte>> initializer_bytes(const ::onnx::ModelProto& m, const fs::path& dir) {
  std::map<std::string, std::vector<std::byte>> out;
  for (const auto& t : m.graph().initializer()) {
    auto tensor = tensor_from_proto(t, dir);
    EXPECT_TRUE(tensor.ok()) << tensor.error().message;
    if (tensor.ok()) out[t.name()] = tensor->bytes;
  }
  return out;
}

TEST(ExternalData, SaveAlwaysThenLoadRoundTrips) {
  auto src = test_model("bert-tiny-like/model.onnx");
  auto model = read_model_proto(src);
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto before = initializer_bytes(*model, src.parent_path());
  std::string serialized_before = model->SerializeAsString();

  TempDir dir;
  SaveOptions options;
  options.external_data = ExternalDataPolicy::always;
  ASSERT_TRUE(save_model_proto(*model, dir.path() / "model.onnx", options).ok());
  EXPECT_EQ(model->SerializeAsString(), serialized_before) << "saving must leave the model unchanged";
  EXPECT_TRUE(fs::exists(dir.path() / "model.onnx_data"));
  EXPECT_LT(fs::file_size(dir.path() / "model.onnx"), 64u * 1024) << "weights must have moved to the side file";

  auto info = read_model_info(dir.path() / "model.onnx");
  ASSERT_TRUE(info.ok()) << info.error().message;
  ASSERT_EQ(info->external_data_files.size(), 1u);
  EXPECT_EQ(info->external_data_files[0].location, "model.onnx_data");
  EXPECT_GT(info->external_data_files[0].tensor_count, 10);
  EXPECT_GT(info->external_data_bytes, info->initializer_bytes * 9 / 10);
  EXPECT_EQ(info->external_data_files[0].file_bytes, fs::file_size(dir.path() / "model.onnx_data"));

  auto reread = read_model_proto(dir.path() / "model.onnx");
  ASSERT_TRUE(reread.ok());
  EXPECT_EQ(initializer_bytes(*reread, dir.path()), before);
  ASSERT_TRUE(load_external_data(*reread, dir.path()).ok());
  EXPECT_EQ(initializer_bytes(*reread, {}), before);
  // Every offset is page-aligned so ONNX Runtime can map the tensors.
  auto saved = read_model_proto(dir.path() / "model.onnx");
  ASSERT_TRUE(saved.ok());
  for (const auto& t : saved->graph().initializer()) {
    auto ref = external_ref(t);
    ASSERT_TRUE(ref.ok());
    if (ref->has_value()) {
      EXPECT_EQ((*ref)->offset % 4096, 0u) << t.name();
    }
  }
}

TEST(ExternalData, AutomaticKeepsSmallModelsInline) {
  auto model = read_model_proto(test_model("cnn-tiny/model.onnx"));
  ASSERT_TRUE(model.ok());
  TempDir dir;
  ASSERT_TRUE(save_model_proto(*model, dir.path() / "m.onnx").ok());
  EXPECT_FALSE(fs::exists(dir.path() / "m.onnx_data"));
  auto a = util::read_file(dir.path() / "m.onnx");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, model->SerializeAsString());
}

TEST(ExternalData, ResavingAnExternalModelCopiesItsData) {
  auto src = read_model_proto(test_model("bert-tiny-like/model.onnx"));
  ASSERT_TRUE(src.ok());
  auto before = initializer_bytes(*src, {});
  TempDir a, b;
  SaveOptions always;
  always.external_data = ExternalDataPolicy::always;
  ASSERT_TRUE(save_model_proto(*src, a.path() / "model.onnx", always).ok());
  auto external = read_model_proto(a.path() / "model.onnx");
  ASSERT_TRUE(external.ok());

  auto refused = save_model_proto(*external, b.path() / "model.onnx");
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message, HasSubstr("still refers to external data"));

  SaveOptions copy;
  copy.external_source_dir = a.path();
  copy.location = "weights.bin";
  ASSERT_TRUE(save_model_proto(*external, b.path() / "model.onnx", copy).ok());
  auto info = read_model_info(b.path() / "model.onnx");
  ASSERT_TRUE(info.ok()) << info.error().message;
  ASSERT_EQ(info->external_data_files.size(), 1u);
  EXPECT_EQ(info->external_data_files[0].location, "weights.bin");
  auto reread = read_model_proto(b.path() / "model.onnx");
  EXPECT_EQ(initializer_bytes(*reread, b.path()), before);
}

// Makes cnn-tiny's first initializer refer to `location` and writes it to dir/model.onnx.
fs::path model_with_location(const fs::path& dir, const std::string& location, std::uint64_t offset = 0) {
  auto model = read_model_proto(test_model("cnn-tiny/model.onnx"));
  EXPECT_TRUE(model.ok());
  auto* t = model->mutable_graph()->mutable_initializer(0);
  t->clear_raw_data();
  t->set_data_location(::onnx::TensorProto_DataLocation_EXTERNAL);
  auto* kv = t->add_external_data();
  kv->set_key("location");
  kv->set_value(location);
  kv = t->add_external_data();
  kv->set_key("offset");
  kv->set_value(std::to_string(offset));
  auto path = dir / "model.onnx";
  EXPECT_TRUE(util::write_file_atomic(path, model->SerializeAsString()).ok());
  return path;
}

TEST(ExternalData, LocationOutsideTheFolderIsRefused) {
  TempDir dir;
  for (std::string location : {"../../etc/passwd", "/etc/passwd", "sub/../../outside.bin", ".."}) {
    auto path = model_with_location(dir.path(), location);
    auto info = read_model_info(path);
    ASSERT_FALSE(info.ok()) << location;
    EXPECT_THAT(info.error().message, HasSubstr("'" + location + "'"));
    EXPECT_THAT(info.error().message, HasSubstr(path.string()));
    EXPECT_THAT(info.error().message, ::testing::AnyOf(HasSubstr("outside the model's folder"),
                                                       HasSubstr("absolute path")));
    auto model = read_model_proto(path);
    ASSERT_TRUE(model.ok());
    auto loaded = load_external_data(*model, dir.path());
    ASSERT_FALSE(loaded.ok());
    EXPECT_THAT(loaded.error().message, HasSubstr("'" + location + "'"));
  }
}

TEST(ExternalData, SymlinkLeavingTheFolderIsRefused) {
  TempDir outside, dir;
  {
    std::ofstream f(outside.path() / "secret.bin", std::ios::binary);
    f << std::string(4096, 'x');
  }
  fs::create_symlink(outside.path() / "secret.bin", dir.path() / "weights.bin");
  auto path = model_with_location(dir.path(), "weights.bin");
  auto info = read_model_info(path);
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.error().message, HasSubstr("'weights.bin' points outside the model's folder"));
}

TEST(ExternalData, MissingOrShortFilesAreNamed) {
  TempDir dir;
  auto path = model_with_location(dir.path(), "weights.bin");
  auto info = read_model_info(path);
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.error().message, HasSubstr("external data file 'weights.bin' not found"));
  EXPECT_THAT(info.error().message, HasSubstr(path.string()));

  {
    std::ofstream f(dir.path() / "weights.bin", std::ios::binary);
    f << "short";
  }
  info = read_model_info(path);
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.error().message, HasSubstr("of 'weights.bin', which has only 5"));
  auto model = read_model_proto(path);
  ASSERT_TRUE(model.ok());
  auto loaded = load_external_data(*model, dir.path());
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.error().message, HasSubstr("past the end of 'weights.bin'"));
}

TEST(ReadModel, TruncatedFileIsAClearError) {
  auto bytes = util::read_file(test_model("silero-vad/silero_vad_legacy.onnx"));
  ASSERT_TRUE(bytes.ok());
  TempDir dir;
  auto path = dir.path() / "truncated.onnx";
  ASSERT_TRUE(util::write_file_atomic(path, std::string_view(*bytes).substr(0, bytes->size() / 2)).ok());
  auto info = read_model_info(path);
  ASSERT_FALSE(info.ok());
  // The scanner says where: "... (truncated or corrupt: field 7 of ModelProto claims N bytes but only M are left
  // in its message at byte 12)".
  EXPECT_THAT(info.error().message,
              ::testing::StartsWith("'" + path.string() + "' is not a valid ONNX model (truncated or corrupt: "));
  EXPECT_THAT(info.error().message, HasSubstr(" at byte "));
  EXPECT_EQ(info.error().message.find('\n'), std::string::npos);
}

TEST(ReadModel, NotAModel) {
  TempDir dir;
  auto empty = dir.path() / "empty.onnx";
  ASSERT_TRUE(util::write_file_atomic(empty, "").ok());
  auto info = read_model_info(empty);
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.error().message, HasSubstr("is empty, not an ONNX model"));

  auto json = dir.path() / "config.onnx";
  ASSERT_TRUE(util::write_file_atomic(json, "{\"model_type\": \"bert\"}\n").ok());
  info = read_model_info(json);
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.error().message, HasSubstr("config.onnx"));

  info = read_model_info(dir.path() / "absent.onnx");
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.error().message, HasSubstr("absent.onnx': no such file"));
  info = read_model_info(dir.path());
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.error().message, HasSubstr("is a folder"));
}

// Many random truncations and bit flips of real model bytes: each must give an error or a
// model description, never a crash or a read outside the folder.
TEST(ReadModel, CorruptionNeverCrashes) {
  std::mt19937_64 rng(1234);
  int parsed = 0, rejected = 0;
  for (const char* name : {"silero-vad/silero_vad_legacy.onnx", "cnn-tiny/model.onnx", "silero-vad/silero_vad_v5.onnx"}) {
    auto bytes = util::read_file(test_model(name));
    ASSERT_TRUE(bytes.ok());
    for (int i = 0; i < 400; ++i) {
      std::string damaged = *bytes;
      if (i % 2 == 0) {
        damaged.resize(rng() % damaged.size());
      } else {
        int flips = 1 + static_cast<int>(rng() % 8);
        for (int f = 0; f < flips; ++f) damaged[rng() % damaged.size()] ^= static_cast<char>(1u << (rng() % 8));
      }
      auto model = parse_model_proto(damaged, "'fuzz'");
      if (!model.ok()) {
        ++rejected;
        EXPECT_FALSE(model.error().message.empty());
        continue;
      }
      auto info = model_info_from_proto(*model, "/nonexistent-dir/m.onnx", damaged.size());
      if (info.ok()) {
        ++parsed;
        util::JsonWriter json;
        write_model_info_json(json, *info);
        (void)format_model_info_table(*info);
      } else {
        ++rejected;
      }
      for (const auto& t : model->graph().initializer()) (void)tensor_from_proto(t, "/nonexistent-dir");
    }
  }
  EXPECT_GT(parsed, 0);
  EXPECT_GT(rejected, 0);
}

TEST(TensorProto, TypedFieldsAndRawDataAgree) {
  ::onnx::TensorProto typed;
  typed.set_name("t");
  typed.set_data_type(static_cast<int>(ElementType::float32));
  typed.add_dims(2);
  typed.add_dims(2);
  for (float v : {1.0f, -2.5f, 3.0f, 0.125f}) typed.add_float_data(v);
  auto a = tensor_from_proto(typed);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->shape, (std::vector<std::int64_t>{2, 2}));
  EXPECT_THAT(a->values<float>(), ::testing::ElementsAre(1.0f, -2.5f, 3.0f, 0.125f));
  auto back = tensor_to_proto(*a);
  auto b = tensor_from_proto(back);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->bytes, b->bytes);

  typed.add_float_data(9.0f);
  auto bad = tensor_from_proto(typed);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("holds 20 bytes of typed data, its shape and type need 16"));

  ::onnx::TensorProto negative;
  negative.set_name("n");
  negative.set_data_type(1);
  negative.add_dims(-3);
  EXPECT_FALSE(tensor_from_proto(negative).ok());
}

}  // namespace
}  // namespace modelkit::onnx

namespace modelkit::onnx {
namespace {

// What current exporters write (IR 10, opset 21, IR-10-only fields that libonnx 1.12's proto does
// not know): read, described and saved without loss. libonnx's checker would reject this model.
::onnx::ModelProto ir10_model() {
  ::onnx::ModelProto m;
  m.set_ir_version(10);
  m.set_producer_name("pytorch");
  m.set_producer_version("2.5.0");
  auto* opset = m.add_opset_import();
  opset->set_version(21);
  auto* g = m.mutable_graph();
  g->set_name("main_graph");
  for (const char* name : {"a", "b"}) {
    auto* v = g->add_input();
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(1);
    t->mutable_shape()->add_dim()->set_dim_param("batch_size");
    t->mutable_shape()->add_dim()->set_dim_value(4);
  }
  auto* n = g->add_node();
  n->set_op_type("Add");
  n->add_input("a");
  n->add_input("b");
  n->add_output("sum");
  // NodeProto.metadata_props (field 9, IR 10), unknown to libonnx 1.12: must survive.
  ::onnx::StringStringEntryProto entry;
  entry.set_key("pkg.torch.onnx.stack_trace");
  entry.set_value("model.py:12");
  n->GetReflection()->MutableUnknownFields(n)->AddLengthDelimited(9, entry.SerializeAsString());
  auto* out = g->add_output();
  out->set_name("sum");
  out->mutable_type()->mutable_tensor_type()->set_elem_type(1);
  auto* meta = m.add_metadata_props();
  meta->set_key("converted_by");
  meta->set_value("modelkit-test");
  return m;
}

TEST(CurrentExporters, Ir10Opset21ReadsAndRoundTrips) {
  TempDir dir;
  auto model = ir10_model();
  auto path = dir.path() / "model.onnx";
  ASSERT_TRUE(util::write_file_atomic(path, model.SerializeAsString()).ok());
  auto info = read_model_info(path);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->ir_version, 10);
  EXPECT_EQ(info->default_opset(), 21);
  EXPECT_EQ(info->node_count, 1);
  ASSERT_EQ(info->metadata_props.size(), 1u);
  EXPECT_EQ(info->metadata_props[0].second, "modelkit-test");
  EXPECT_EQ(format_dims(info->inputs[0]), "[batch_size, 4]");

  auto reread = read_model_proto(path);
  ASSERT_TRUE(reread.ok());
  auto out = dir.path() / "copy.onnx";
  ASSERT_TRUE(save_model_proto(*reread, out).ok());
  auto copy = util::read_file(out);
  ASSERT_TRUE(copy.ok());
  EXPECT_EQ(*copy, model.SerializeAsString()) << "unknown (newer) fields must be kept byte for byte";
}

}  // namespace
}  // namespace modelkit::onnx
