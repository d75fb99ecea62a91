// `modelkit run --image F --labels a,b,c` (zero-shot image classification) on the exporter's tiny
// CLIPModel checkpoint (random weights, exported natively) with a word-level tokenizer.json and a
// CLIP preprocessor_config.json written by scripts/run_reference.py: the answer against a numpy
// softmax of the saved logits_per_image, and the inputs the command made (hypothesis sentences,
// padded batch, pixels) against the same inputs built in numpy and fed as .npy files.
#include "export_reference.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

namespace modelkit::test {
namespace {

const std::string kReference = (fs::path(MODELKIT_SOURCE_DIR) / "scripts" / "run_reference.py").string();
// The text batch and pixels built two ways, through float32 ONNX Runtime both times.
constexpr double kSameInputs = 1e-6;

std::string py(const std::string& args) { return "/usr/bin/python3 '" + kReference + "' " + args; }

TEST(RunZeroShot, ClipLabelsMatchTheNumpyReferenceAndNpyInputs) {
  const auto& ref = export_reference();
  ASSERT_FALSE(ref.root.empty());
  TempDir tmp;
  const auto clip = tmp / "clip";
  fs::create_directories(clip);
  for (const char* file : {"config.json", "model.safetensors"}) fs::copy_file(ref.root / "clip-model" / file, clip / file);
  ASSERT_EQ(std::system(py("clip-files '" + clip.string() + "'").c_str()), 0);
  const auto image = tmp / "photo.png";
  ASSERT_EQ(std::system(py("clip-inputs '" + tmp.path().string() + "' '" + image.string() + "' cat dog 'red car'").c_str()), 0);

  const std::string out_dir = (tmp / "out").string();
  auto r = run_cli({"run", "-m", clip.string(), "--image", image.string(), "--labels", "cat, dog,red car", "--format",
                    "json", "--save-outputs", out_dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  write_file(tmp / "run.json", r.out);
  const std::string check = py("check zero-shot-image-classification '" + (tmp / "run.json").string() + "' '" + out_dir +
                               "' > '" + (tmp / "check.log").string() + "' 2>&1");
  EXPECT_EQ(std::system(check.c_str()), 0) << read_text(tmp / "check.log") << "\n" << r.out;

  simdjson::dom::parser p;
  simdjson::dom::element j;
  ASSERT_EQ(p.parse(r.out).get(j), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(std::string_view(j["resolution"]["task"].get_string().value()), "zero-shot-image-classification");
  EXPECT_EQ(std::string_view(j["scoring"].get_string().value()), "softmax") << "CLIP: softmax over the labels";
  auto answer = j["answer"].get_array().value();
  ASSERT_EQ(answer.size(), 3u) << "every label, whatever --top-k";
  double sum = 0;
  for (auto a : answer) sum += a["score"].get_double().value();
  EXPECT_NEAR(sum, 1.0, 1e-9);

  // The same inputs made in numpy (each label in "This is a photo of {}.", padded with the end of
  // text token to the longest, CLIP's pixel normalisation): the same scores.
  auto raw = run_cli({"run", "-m", clip.string(), "--labels", "cat,dog,red car", "--format", "json", "--input",
                      "pixel_values=" + (tmp / "pixel_values.npy").string(), "--input",
                      "input_ids=" + (tmp / "input_ids.npy").string(), "--input",
                      "attention_mask=" + (tmp / "attention_mask.npy").string()});
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  simdjson::dom::parser p2;
  simdjson::dom::element rj;
  ASSERT_EQ(p2.parse(raw.out).get(rj), simdjson::SUCCESS) << raw.out;
  auto raw_answer = rj["answer"].get_array().value();
  ASSERT_EQ(raw_answer.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(std::string_view(raw_answer.at(i)["label"].get_string().value()),
              std::string_view(answer.at(i)["label"].get_string().value()));
    EXPECT_NEAR(raw_answer.at(i)["score"].get_double().value(), answer.at(i)["score"].get_double().value(), kSameInputs);
  }

  // Refusals: labels for a model that is not zero-shot, a zero-shot run without labels, an empty label.
  auto not_clip = run_cli({"run", "-m", (fs::path(MODELKIT_DEPS_DIR) / "models" / "cnn-tiny").string(), "--image",
                           image.string(), "--labels", "cat,dog"});
  EXPECT_EQ(not_clip.exit_code, 2) << not_clip.err;
  EXPECT_NE(not_clip.err.find("--labels"), std::string::npos) << not_clip.err;
  EXPECT_EQ(std::count(not_clip.err.begin(), not_clip.err.end(), '\n'), 1) << "one line: " << not_clip.err;
  auto no_labels = run_cli({"run", "-m", clip.string(), "--task", "zero-shot-image-classification", "--image", image.string()});
  EXPECT_EQ(no_labels.exit_code, 2) << no_labels.err;
  EXPECT_NE(no_labels.err.find("--labels"), std::string::npos) << no_labels.err;
  auto empty = run_cli({"run", "-m", clip.string(), "--image", image.string(), "--labels", "cat,,dog"});
  EXPECT_EQ(empty.exit_code, 2) << empty.err;
  auto text = run_cli({"run", "-m", clip.string(), "--text", "a cat", "--labels", "cat,dog"});
  EXPECT_EQ(text.exit_code, 2) << text.err;
}

}  // namespace
}  // namespace modelkit::test
