// write: copies the checkpoint's config, tokenizer and processor files and the build config
// into the temporary folder (the manifest and publishing follow: finish() in pipeline.cpp).
#include "build/stages.hpp"
#include "util/file.hpp"

namespace modelkit::build {

Result<StageOutcome> write_stage(Context& c) {
  const auto& req = c.request;
  if (!req.model.checkpoint || req.output_is_file) return ran();
  const auto& folder = c.temp.path();
  const auto& ck = *req.model.checkpoint;
  std::vector<std::string> names = ck.tokenizer_files;
  names.insert(names.end(), ck.processor_files.begin(), ck.processor_files.end());
  if (ck.source.config_path) {
    MODELKIT_TRY_VOID(copy_into(*ck.source.config_path, folder));
    c.copied.push_back("config.json");
  }
  for (const auto& n : names) {
    MODELKIT_TRY_VOID(copy_into(ck.source.folder / n, folder));
    c.copied.push_back(n);
  }
  MODELKIT_TRY_VOID(util::write_file_atomic(folder / "build_config.json", build_config_json(req.config)));
  c.copied.push_back("build_config.json");
  return ran();
}

}  // namespace modelkit::build
