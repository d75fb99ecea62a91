#include <modelkit/checkpoint.hpp>

#include "test_support.hpp"

namespace modelkit::test {
namespace {

TEST(Locate, FolderConfigFileAndOnnxFile) {
  TempDir tmp;
  write_file(tmp / "ckpt" / "config.json", R"({"model_type": "bert"})");
  auto folder = locate_model((tmp / "ckpt").string(), CacheLocation{tmp / "hub"});
  ASSERT_TRUE(folder.ok());
  EXPECT_EQ(folder->kind, SourceKind::folder);
  EXPECT_EQ(folder->config_path, tmp / "ckpt" / "config.json");
  auto file = locate_model((tmp / "ckpt" / "config.json").string(), CacheLocation{tmp / "hub"});
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->kind, SourceKind::config_file);
  write_file(tmp / "ckpt" / "onnx" / "model.onnx", "x");
  auto onnx = locate_model((tmp / "ckpt" / "onnx" / "model.onnx").string(), CacheLocation{tmp / "hub"});
  ASSERT_TRUE(onnx.ok());
  EXPECT_EQ(onnx->kind, SourceKind::onnx_file);
  EXPECT_EQ(onnx->config_path, tmp / "ckpt" / "config.json");  // one level up from onnx/
}

TEST(Locate, ModelIdInTheCache) {
  TempDir tmp;
  auto snap = make_cache_snapshot(tmp / "hub", "org/name", "deadbeef");
  write_file(snap / "config.json", "{}");
  auto src = locate_model("org/name", CacheLocation{tmp / "hub"});
  ASSERT_TRUE(src.ok()) << src.error().message;
  EXPECT_EQ(src->kind, SourceKind::hf_cache);
  EXPECT_EQ(src->model_id, "org/name");
  EXPECT_EQ(src->folder, snap);
  // The repo folder itself and the snapshot folder resolve to the same snapshot and id.
  auto repo = locate_model((tmp / "hub" / "models--org--name").string(), CacheLocation{tmp / "x"});
  ASSERT_TRUE(repo.ok()) << repo.error().message;
  EXPECT_EQ(repo->folder, snap);
  EXPECT_EQ(repo->model_id, "org/name");
  auto by_path = locate_model(snap.string(), CacheLocation{tmp / "x"});
  ASSERT_TRUE(by_path.ok());
  EXPECT_EQ(by_path->model_id, "org/name");
}

TEST(Locate, LegacyIdWithoutOrg) {
  TempDir tmp;
  write_file(make_cache_snapshot(tmp / "hub", "gpt2") / "config.json", "{}");
  auto src = locate_model("gpt2", CacheLocation{tmp / "hub"});
  ASSERT_TRUE(src.ok()) << src.error().message;
  EXPECT_EQ(src->model_id, "gpt2");
}

TEST(Locate, MissingModelSaysWhereItLooked) {
  TempDir tmp;
  auto src = locate_model("org/missing", CacheLocation{tmp / "hub"});
  ASSERT_FALSE(src.ok());
  EXPECT_EQ(src.error().message, "model 'org/missing' not found: no folder 'org/missing' and no '" +
                                     (tmp / "hub" / "models--org--missing").string() +
                                     "' in the Hugging Face cache (modelkit never downloads)");
}

TEST(Locate, MissingRefsMainAndSnapshot) {
  TempDir tmp;
  fs::create_directories(tmp / "hub" / "models--a--b" / "snapshots");
  auto no_ref = locate_model("a/b", CacheLocation{tmp / "hub"});
  ASSERT_FALSE(no_ref.ok());
  EXPECT_NE(no_ref.error().message.find("has no readable"), std::string::npos);
  write_file(tmp / "hub" / "models--a--b" / "refs" / "main", "cafe\n");
  auto no_snap = locate_model("a/b", CacheLocation{tmp / "hub"});
  ASSERT_FALSE(no_snap.ok());
  EXPECT_NE(no_snap.error().message.find("refs/main names snapshot 'cafe', which is missing"), std::string::npos);
}

TEST(Locate, DotDotIdsAreNotModelIds) {
  TempDir tmp;
  auto src = locate_model("../etc", CacheLocation{tmp / "hub"});
  ASSERT_FALSE(src.ok());
  EXPECT_EQ(src.error().message, "no such file or folder '../etc', and it is not a model id (expected 'org/name')");
  auto refs = locate_model("a/b/../../c", CacheLocation{tmp / "hub"});
  ASSERT_FALSE(refs.ok());
}

TEST(Locate, RefsMainCannotEscape) {
  TempDir tmp;
  write_file(tmp / "hub" / "models--a--b" / "refs" / "main", "../../../etc\n");
  fs::create_directories(tmp / "hub" / "models--a--b" / "snapshots");
  auto src = locate_model("a/b", CacheLocation{tmp / "hub"});
  ASSERT_FALSE(src.ok());
  EXPECT_NE(src.error().message.find("expected a commit hash, got '../../../etc'"), std::string::npos);
}

TEST(Locate, FolderWithoutConfigOrOnnx) {
  TempDir tmp;
  fs::create_directories(tmp / "empty");
  auto src = locate_model((tmp / "empty").string(), CacheLocation{tmp / "hub"});
  ASSERT_FALSE(src.ok());
  EXPECT_EQ(src.error().message, "folder '" + (tmp / "empty").string() +
                                     "' has no config.json, model.onnx or onnx/ (expected a Hugging Face checkpoint folder)");
}

TEST(CacheLocation, EnvironmentOrder) {
  ::setenv("HF_HUB_CACHE", "/x/hub", 1);
  ::setenv("HF_HOME", "/y", 1);
  EXPECT_EQ(CacheLocation::from_environment().hub, fs::path("/x/hub"));
  ::unsetenv("HF_HUB_CACHE");
  EXPECT_EQ(CacheLocation::from_environment().hub, fs::path("/y/hub"));
  ::unsetenv("HF_HOME");
  ::setenv("HOME", "/home/u", 1);
  EXPECT_EQ(CacheLocation::from_environment().hub, fs::path("/home/u/.cache/huggingface/hub"));
}

TEST(ModelCard, FrontMatter) {
  auto card = parse_model_card("---\nlanguage:\n- en\npipeline_tag: 'text-classification'\nlibrary_name: transformers # x\n---\n# Title\npipeline_tag: nope\n");
  EXPECT_EQ(card.pipeline_tag, "text-classification");
  EXPECT_EQ(card.library_name, "transformers");
  EXPECT_FALSE(parse_model_card("# no front matter\npipeline_tag: x\n").pipeline_tag.has_value());
}

TEST(Checkpoint, InventoryAndSentenceTransformers) {
  TempDir tmp;
  write_file(tmp / "config.json", R"({"model_type": "bert", "architectures": ["BertModel"]})");
  write_file(tmp / "tokenizer.json", "{}");
  write_file(tmp / "vocab.txt", "x");
  write_file(tmp / "preprocessor_config.json", "{}");
  write_file(tmp / "modules.json", "[]");
  write_file(tmp / "README.md", "---\npipeline_tag: sentence-similarity\n---\n");
  auto src = locate_model(tmp.path().string(), CacheLocation{tmp / "hub"});
  ASSERT_TRUE(src.ok());
  auto ck = load_checkpoint(*src);
  ASSERT_TRUE(ck.ok()) << ck.error().message;
  EXPECT_EQ(ck->tokenizer_files, (std::vector<std::string>{"tokenizer.json", "vocab.txt"}));
  EXPECT_EQ(ck->processor_files, (std::vector<std::string>{"preprocessor_config.json"}));
  EXPECT_TRUE(ck->sentence_transformers);
  EXPECT_EQ(ck->card.pipeline_tag, "sentence-similarity");
}

TEST(Checkpoint, BadConfigNamesTheFile) {
  TempDir tmp;
  write_file(tmp / "config.json", R"({"architectures": 5})");
  auto src = locate_model(tmp.path().string(), CacheLocation{tmp / "hub"});
  ASSERT_TRUE(src.ok());
  auto ck = load_checkpoint(*src);
  ASSERT_FALSE(ck.ok());
  EXPECT_EQ(ck.error().message, "'" + (tmp / "config.json").string() +
                                    "': field 'architectures' must be a list of strings, got a number");
}

}  // namespace
}  // namespace modelkit::test
