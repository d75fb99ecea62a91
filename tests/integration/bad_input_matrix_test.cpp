// The bad-input matrix (issue 6), one test per row, through the real CLI: a one-line
// error naming the thing, the documented exit code (2 usage, 1 failure), nothing written,
// no crash, no read outside the model folder.
#include "onnx/model_proto.hpp"
#include "test_support.hpp"

#include <sys/mount.h>
#include <sys/stat.h>

namespace modelkit::test {
namespace {

fs::path models() { return fs::path(MODELKIT_DEPS_DIR) / "models"; }

// The error is the last line of stderr; lines before it can only be warnings.
void expect_error(const CliResult& r, int code, const std::string& want) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  ASSERT_FALSE(r.err.empty());
  ASSERT_EQ(r.err.back(), '\n');
  auto start = r.err.rfind('\n', r.err.size() - 2);
  std::string last = r.err.substr(start == std::string::npos ? 0 : start + 1);
  EXPECT_TRUE(last.starts_with("modelkit")) << last;
  EXPECT_NE(last.find(want), std::string::npos) << r.err;
  std::string before = r.err.substr(0, r.err.size() - last.size());
  for (size_t pos = 0; pos < before.size(); pos = before.find('\n', pos) + 1)
    EXPECT_TRUE(before.compare(pos, 9, "warning: ") == 0) << "only warnings before the error: " << r.err;
}

// A checkpoint folder with config.json = text; inspect, config and build --dry-run all fail the same way.
void expect_config_error(const std::string& text, const std::string& want) {
  TempDir tmp;
  write_file(tmp / "config.json", text);
  for (const char* cmd : {"inspect", "config"}) expect_error(run_cli({cmd, "-m", tmp.path().string()}), 1, want);
  expect_error(run_cli({"build", "-m", tmp.path().string(), "--dry-run"}), 1, want);
}

// --- config.json ------------------------------------------------------------------------------

TEST(BadInput, MalformedJson) { expect_config_error("{\"model_type\": \"bert\"", "config.json': invalid JSON"); }

TEST(BadInput, WrongFieldType) {
  expect_config_error(R"({"model_type": {"name": "bert"}})", "field 'model_type' must be a string, got an object");
}

TEST(BadInput, MissingModelType) {
  // Not an error by itself: a known architecture resolves; an unknown one stops config/build naming --task.
  TempDir tmp;
  write_file(tmp / "config.json", R"({"architectures": ["BertForMaskedLM"]})");
  EXPECT_EQ(run_cli({"config", "-m", tmp.path().string()}).exit_code, 0);
  write_file(tmp / "config.json", R"({"architectures": ["SomethingNew"]})");
  EXPECT_EQ(run_cli({"inspect", "-m", tmp.path().string()}).exit_code, 0);
  expect_error(run_cli({"config", "-m", tmp.path().string()}), 1, "could not resolve the task of '" + tmp.path().string() + "'; pass --task");
}

TEST(BadInput, ArchitecturesNotAList) {
  expect_config_error(R"({"model_type": "bert", "architectures": "BertModel"})",
                      "field 'architectures' must be a list of strings, got a string");
}

TEST(BadInput, NonUtf8) { expect_config_error("{\"model_type\": \"be\xc3\x28rt\"}", "config.json': not valid UTF-8"); }

TEST(BadInput, ByteOrderMark) {
  expect_config_error("\xEF\xBB\xBF{\"model_type\": \"bert\"}", "starts with a UTF-8 byte order mark");
}

TEST(BadInput, HundredMegabyteConfig) {
  TempDir tmp;
  {
    std::ofstream f(tmp / "config.json");
    f << "{\"model_type\": \"bert\", \"pad\": \"";
    f.seekp(100 << 20);
    f << "\"}";
  }
  expect_error(run_cli({"inspect", "-m", tmp.path().string()}), 1, "config.json' is 104857602 bytes, more than the");
}

TEST(BadInput, DeeplyNestedJson) {
  expect_config_error("{\"a\": " + std::string(5000, '[') + std::string(5000, ']') + "}", "JSON nested deeper than 1024 levels");
}

// --- safetensors --------------------------------------------------------------------------------

std::string safetensors(const std::string& header, uint64_t claimed, size_t data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((claimed >> (8 * i)) & 0xff);
  return out + header + std::string(data, '\0');
}

void expect_weights_error(const std::string& bytes, const std::string& want) {
  TempDir tmp;
  write_file(tmp / "config.json", R"({"model_type": "bert", "architectures": ["BertModel"]})");
  write_file(tmp / "model.safetensors", bytes);
  expect_error(run_cli({"inspect", "-m", tmp.path().string()}), 1, want);
}

TEST(BadInput, SafetensorsHeaderLongerThanFile) {
  std::string h = R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})";
  expect_weights_error(safetensors(h, 1u << 30, 4), "header length 1073741824 is larger than the file");
}

TEST(BadInput, SafetensorsNegativeOffsets) {
  std::string h = R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [-8, -4]}})";
  expect_weights_error(safetensors(h, h.size(), 4), "tensor 'w': 'data_offsets' must be non-negative integers");
}

TEST(BadInput, SafetensorsOverflowingOffsets) {
  std::string h = R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [18446744073709551611, 18446744073709551615]}})";
  expect_weights_error(safetensors(h, h.size(), 4), "tensor 'w': data_offsets end 18446744073709551615 is past the data (4 bytes)");
  std::string beyond = R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 18446744073709551616]}})";
  expect_weights_error(safetensors(beyond, beyond.size(), 4), "header: invalid JSON (Problem while parsing a number)");
}

TEST(BadInput, SafetensorsOverlappingTensors) {
  std::string h = R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})";
  expect_weights_error(safetensors(h, h.size(), 12), "tensors 'a' and 'b' overlap");
}

TEST(BadInput, SafetensorsUnknownDtype) {
  std::string h = R"({"w": {"dtype": "F7", "shape": [1], "data_offsets": [0, 1]}})";
  expect_weights_error(safetensors(h, h.size(), 1), "tensor 'w': unknown dtype 'F7'");
}

// --- ONNX ---------------------------------------------------------------------------------------

// A one-node float model y = Add(x, w) with w an initializer, written with libonnx's protobuf.
::onnx::ModelProto tiny_model() {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("g");
  auto add_io = [](auto* list, const char* name) {
    auto* v = list->Add();
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(::onnx::TensorProto::FLOAT);
    t->mutable_shape()->add_dim()->set_dim_value(4);
  };
  add_io(g->mutable_input(), "x");
  add_io(g->mutable_output(), "y");
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(::onnx::TensorProto::FLOAT);
  w->add_dims(4);
  for (int i = 0; i < 4; ++i) w->add_float_data(static_cast<float>(i));
  auto* n = g->add_node();
  n->set_op_type("Add");
  n->set_name("add");
  n->add_input("x");
  n->add_input("w");
  n->add_output("y");
  return m;
}

void write_model(const fs::path& path, const ::onnx::ModelProto& m) {
  std::string bytes;
  ASSERT_TRUE(m.SerializeToString(&bytes));
  write_file(path, bytes);
}

void make_external(::onnx::ModelProto& m, const std::string& location) {
  auto* w = m.mutable_graph()->mutable_initializer(0);
  w->clear_float_data();
  w->set_data_location(::onnx::TensorProto::EXTERNAL);
  auto* e = w->add_external_data();
  e->set_key("location");
  e->set_value(location);
}

TEST(BadInput, TruncatedOnnx) {
  TempDir tmp;
  auto bytes = read_text(models() / "bert-tiny-like" / "model.onnx");
  write_file(tmp / "model.onnx", bytes.substr(0, bytes.size() / 2));
  expect_error(run_cli({"inspect", "-m", (tmp / "model.onnx").string()}), 1, (tmp / "model.onnx").string());
  expect_error(run_cli({"quantize", "-m", (tmp / "model.onnx").string(), "-o", (tmp / "q.onnx").string(), "--quiet"}), 1,
               "model.onnx");
  EXPECT_FALSE(fs::exists(tmp / "q.onnx"));
}

TEST(BadInput, ExternalDataOutsideTheModelFolder) {
  TempDir tmp;
  auto m = tiny_model();
  make_external(m, "../../etc/passwd");
  write_model(tmp / "m" / "model.onnx", m);
  expect_error(run_cli({"inspect", "-m", (tmp / "m" / "model.onnx").string()}), 1, "../../etc/passwd");
  expect_error(run_cli({"quantize", "-m", (tmp / "m" / "model.onnx").string(), "-o", (tmp / "q.onnx").string(), "--quiet"}),
               1, "../../etc/passwd");
}

TEST(BadInput, ExternalDataFileMissing) {
  TempDir tmp;
  auto m = tiny_model();
  make_external(m, "weights.bin");
  write_model(tmp / "model.onnx", m);
  expect_error(run_cli({"inspect", "-m", (tmp / "model.onnx").string()}), 1, "weights.bin");
}

TEST(BadInput, CyclicGraph) {
  TempDir tmp;
  auto m = tiny_model();
  // add: y = x + z; back: z = y + w  — y and z depend on each other.
  auto* g = m.mutable_graph();
  g->mutable_node(0)->set_input(1, "z");
  auto* back = g->add_node();
  back->set_op_type("Add");
  back->set_name("back");
  back->add_input("y");
  back->add_input("w");
  back->add_output("z");
  write_model(tmp / "model.onnx", m);
  EXPECT_EQ(run_cli({"inspect", "-m", (tmp / "model.onnx").string()}).exit_code, 0);  // describing it is fine
  expect_error(run_cli({"quantize", "-m", (tmp / "model.onnx").string(), "-o", (tmp / "q.onnx").string(), "--quiet"}), 1,
               "cycl");
  EXPECT_FALSE(fs::exists(tmp / "q.onnx"));
}

TEST(BadInput, UnknownOperator) {
  TempDir tmp;
  auto m = tiny_model();
  m.mutable_graph()->mutable_node(0)->set_op_type("FrobnicateNd");
  write_model(tmp / "model.onnx", m);
  auto inspect = run_cli({"inspect", "-m", (tmp / "model.onnx").string()});
  EXPECT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_NE(inspect.out.find("FrobnicateNd 1"), std::string::npos) << inspect.out;
  expect_error(run_cli({"quantize", "-m", (tmp / "model.onnx").string(), "-o", (tmp / "q.onnx").string(), "--quiet"}), 1,
               "FrobnicateNd");
  EXPECT_FALSE(fs::exists(tmp / "q.onnx"));
}

// --- paths --------------------------------------------------------------------------------------

TEST(BadInput, ModelIdWithDotDot) {
  TempDir tmp;
  expect_error(run_cli({"inspect", "-m", "org/../../etc"}, {"HF_HUB_CACHE=" + (tmp / "hub").string()}), 1,
               "is not a model id");
}

TEST(BadInput, SymlinkLoopInTheCache) {
  TempDir tmp;
  auto repo = tmp / "hub" / "models--org--loop";
  write_file(repo / "refs" / "main", "abc\n");
  fs::create_directories(repo / "snapshots");
  fs::create_directory_symlink("abc", repo / "snapshots" / "abc");  // points at itself
  expect_error(run_cli({"inspect", "-m", "org/loop"}, {"HF_HUB_CACHE=" + (tmp / "hub").string()}), 1,
               "refs/main names snapshot 'abc', which is missing");
  // A config.json that is a symlink loop inside a real snapshot.
  auto snap = make_cache_snapshot(tmp / "hub", "org/cfgloop");
  fs::create_symlink("config.json", snap / "config.json");
  expect_error(run_cli({"inspect", "-m", "org/cfgloop"}, {"HF_HUB_CACHE=" + (tmp / "hub").string()}), 1,
               "config.json': Too many levels of symbolic links");
}

TEST(BadInput, UnreadableFiles) {
  TempDir tmp;
  fs::create_directories(tmp / "a" / "config.json");  // a folder where a file belongs
  expect_error(run_cli({"inspect", "-m", (tmp / "a").string()}), 1, "config.json': is a folder, expected a file");
  fs::create_directories(tmp / "b");
  ASSERT_EQ(::mkfifo((tmp / "b" / "config.json").c_str(), 0644), 0);  // would block a naive reader
  expect_error(run_cli({"inspect", "-m", (tmp / "b").string()}), 1, "config.json': is a FIFO, expected a file");
  // Permissions bind only non-root users: as root (CI) the CLI runs as nobody, so the folders on
  // the way must let nobody through and only the file itself is closed.
  write_file(tmp / "c" / "config.json", "{}");
  ::chmod((tmp / "c" / "config.json").c_str(), 0);
  for (const auto& dir : {tmp.path(), tmp / "c"}) ::chmod(dir.c_str(), 0755);
  auto r = run_cli({"inspect", "-m", (tmp / "c").string()}, {}, /*unprivileged=*/true);
  ASSERT_NE(r.exit_code, 126) << "could not drop privileges";
  expect_error(r, 1, "config.json': Permission denied");
}

TEST(BadInput, OutputInsideTheInputFolder) {
  TempDir tmp;
  fs::copy(models() / "bert-tiny-like", tmp / "ckpt");
  expect_error(run_cli({"build", "-m", (tmp / "ckpt").string(), "-o", (tmp / "ckpt" / "int8").string(), "--quiet"}), 2,
               "is inside the input folder");
  EXPECT_FALSE(fs::exists(tmp / "ckpt" / "int8"));
}

TEST(BadInput, OutputExistsWithoutForce) {
  TempDir tmp;
  fs::create_directories(tmp / "out");
  expect_error(run_cli({"build", "-m", (models() / "bert-tiny-like").string(), "-o", (tmp / "out").string(), "--quiet"}),
               1, "exists; pass --force to replace it");
  EXPECT_TRUE(fs::is_empty(tmp / "out"));
}

TEST(BadInput, ReadOnlyOutput) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a read-only tmpfs needs root";
  TempDir tmp;
  fs::create_directories(tmp / "ro");
  ASSERT_EQ(::mount("tmpfs", (tmp / "ro").c_str(), "tmpfs", MS_RDONLY, "size=64k"), 0) << std::strerror(errno);
  expect_error(run_cli({"build", "-m", (models() / "bert-tiny-like").string(), "-o", (tmp / "ro" / "out").string(),
                        "--samples", "4", "--quiet"}),
               1, "Read-only file system");
  ::umount((tmp / "ro").c_str());
}

TEST(BadInput, DiskFull) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root";
  TempDir tmp;
  fs::create_directories(tmp / "small");
  ASSERT_EQ(::mount("tmpfs", (tmp / "small").c_str(), "tmpfs", 0, "size=48k"), 0) << std::strerror(errno);
  expect_error(run_cli({"quantize", "-m", (models() / "bert-tiny-like" / "model.onnx").string(), "-o",
                        (tmp / "small" / "q.onnx").string(), "--samples", "4", "--quiet"}),
               1, "No space left on device");
  EXPECT_TRUE(fs::is_empty(tmp / "small"));
  ::umount((tmp / "small").c_str());
}

}  // namespace
}  // namespace modelkit::test
