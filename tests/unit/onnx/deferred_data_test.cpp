// Tensors whose bytes are produced while the model is written (onnx/deferred_data.hpp): the
// written files are byte for byte those of the same model holding the bytes in memory, inline and
// in an external data file; a producer that fails half-way, or a placeholder that would be written
// as it is, fails the save and leaves nothing at the output.
#include "onnx/deferred_data.hpp"
#include "onnx/model_proto.hpp"
#include "test_models.hpp"
#include "util/file.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

namespace modelkit::onnx {
namespace {
namespace fs = std::filesystem;
using modelkit::testing::TempDir;
using ::testing::HasSubstr;

// Several pieces per tensor, of uneven sizes, as the weight writer hands them.
constexpr std::size_t kPieceBytes = 100003;

std::string random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

ByteProducer pieces_of(std::string bytes) {
  return [bytes = std::move(bytes)](const ByteSink& sink) -> Result<void> {
    for (std::size_t at = 0; at < bytes.size(); at += kPieceBytes) {
      const std::size_t n = std::min(kPieceBytes, bytes.size() - at);
      MODELKIT_TRY_VOID(sink(std::span(reinterpret_cast<const unsigned char*>(bytes.data()) + at, n)));
    }
    return {};
  };
}

// A graph of two large int8 initializers (data), a small one and a node using them.
::onnx::ModelProto model_with(const std::vector<std::string>& data, DeferredTensors* deferred) {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("g");
  for (std::size_t i = 0; i < data.size(); ++i) {
    auto* t = g->add_initializer();
    t->set_name("w" + std::to_string(i));
    t->set_data_type(::onnx::TensorProto::INT8);
    t->add_dims(static_cast<std::int64_t>(data[i].size()));
    if (deferred) deferred->defer(*t, data[i].size(), pieces_of(data[i]));
    else t->set_raw_data(data[i]);
  }
  auto* small = g->add_initializer();
  small->set_name("s");
  small->set_data_type(::onnx::TensorProto::FLOAT);
  small->add_dims(1);
  small->add_float_data(0.5f);
  auto* n = g->add_node();
  n->set_op_type("Concat");
  n->add_input("w0");
  n->add_input("w1");
  n->add_output("y");
  return m;
}

std::string contents(const fs::path& p) {
  auto bytes = util::read_file(p, std::uint64_t{1} << 30);
  EXPECT_TRUE(bytes.ok()) << p;
  return bytes.ok() ? *bytes : std::string();
}

const std::vector<std::string>& tensor_data() {
  static const std::vector<std::string> data{random_bytes(kMinDeferredBytes + 12345, 1),
                                             random_bytes(3 * kMinDeferredBytes, 2)};
  return data;
}

TEST(DeferredTensors, WriteTheSameBytesAsTheModelHoldingThemInlineAndExternal) {
  for (auto policy : {ExternalDataPolicy::automatic, ExternalDataPolicy::always}) {
    TempDir in_memory, streamed;
    SaveOptions options;
    options.external_data = policy;
    auto plain = model_with(tensor_data(), nullptr);
    ASSERT_TRUE(save_model_proto(plain, in_memory.path() / "model.onnx", options).ok());

    DeferredTensors deferred;
    auto m = model_with(tensor_data(), &deferred);
    options.deferred = &deferred;
    auto saved = save_model_proto(m, streamed.path() / "model.onnx", options);
    ASSERT_TRUE(saved.ok()) << saved.error().message;

    const bool external = policy == ExternalDataPolicy::always;
    for (const char* file : {"model.onnx", "model.onnx_data"}) {
      SCOPED_TRACE(std::string(file) + (external ? " (external)" : " (inline)"));
      ASSERT_EQ(fs::exists(in_memory.path() / file), fs::exists(streamed.path() / file));
      if (!fs::exists(in_memory.path() / file)) continue;
      EXPECT_TRUE(contents(in_memory.path() / file) == contents(streamed.path() / file));
    }
    EXPECT_EQ(fs::exists(streamed.path() / "model.onnx_data"), external);
    // And the bytes read back are the produced ones.
    auto back = read_model_proto(streamed.path() / "model.onnx");
    ASSERT_TRUE(back.ok());
    ASSERT_TRUE(load_external_data(*back, streamed.path()).ok());
    EXPECT_TRUE(back->graph().initializer(0).raw_data() == tensor_data()[0]);
    EXPECT_TRUE(back->graph().initializer(1).raw_data() == tensor_data()[1]);
  }
}

TEST(DeferredTensors, AProducerFailingHalfWayLeavesNothingAtTheOutput) {
  for (auto policy : {ExternalDataPolicy::automatic, ExternalDataPolicy::always}) {
    TempDir dir;
    DeferredTensors deferred;
    auto m = model_with(tensor_data(), nullptr);
    auto* t = m.mutable_graph()->mutable_initializer(1);
    const std::uint64_t size = t->raw_data().size();
    deferred.defer(*t, size, [](const ByteSink& sink) -> Result<void> {
      std::string half(kPieceBytes, 'x');
      MODELKIT_TRY_VOID(sink(std::span(reinterpret_cast<const unsigned char*>(half.data()), half.size())));
      return failure("tensor 'w1': the disk went away");
    });
    SaveOptions options;
    options.external_data = policy;
    options.deferred = &deferred;
    auto saved = save_model_proto(m, dir.path() / "model.onnx", options);
    ASSERT_FALSE(saved.ok());
    EXPECT_THAT(saved.error().message, HasSubstr("the disk went away"));
    EXPECT_TRUE(fs::is_empty(dir.path())) << "temporary or partial files left behind";
  }
}

TEST(DeferredTensors, AProducerHandingTheWrongSizeFailsTheSave) {
  TempDir dir;
  DeferredTensors deferred;
  auto m = model_with(tensor_data(), nullptr);
  auto* t = m.mutable_graph()->mutable_initializer(0);
  deferred.defer(*t, t->raw_data().size(), pieces_of(random_bytes(100, 3)));
  SaveOptions options;
  options.deferred = &deferred;
  auto saved = save_model_proto(m, dir.path() / "model.onnx", options);
  ASSERT_FALSE(saved.ok());
  EXPECT_THAT(saved.error().message, HasSubstr("produced 100 of its"));
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(DeferredTensors, APlaceholderProtobufCopiesIsNeverWrittenAsItIs) {
  // Protobuf copies small strings into its buffer instead of handing them over by address, so a
  // placeholder that small would be written as it is (garbage): the save fails instead.
  TempDir dir;
  DeferredTensors deferred;
  auto m = model_with(tensor_data(), nullptr);
  auto* t = m.mutable_graph()->add_initializer();
  t->set_name("tiny");
  t->set_data_type(::onnx::TensorProto::INT8);
  t->add_dims(1000);
  deferred.defer(*t, 1000, pieces_of(random_bytes(1000, 4)));
  SaveOptions options;
  options.deferred = &deferred;
  auto saved = save_model_proto(m, dir.path() / "model.onnx", options);
  ASSERT_FALSE(saved.ok());
  EXPECT_THAT(saved.error().message, HasSubstr("1 streamed tensor(s) in the model but 0 written"));
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

}  // namespace
}  // namespace modelkit::onnx
