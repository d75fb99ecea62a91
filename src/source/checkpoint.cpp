#include <modelkit/checkpoint.hpp>

#include "util/file.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <span>

namespace modelkit {
namespace fs = std::filesystem;

CacheLocation CacheLocation::from_environment() {
  if (const char* hub = std::getenv("HF_HUB_CACHE"); hub && *hub) return {fs::path(hub)};
  if (const char* home = std::getenv("HF_HOME"); home && *home) return {fs::path(home) / "hub"};
  const char* user_home = std::getenv("HOME");
  return {fs::path(user_home && *user_home ? user_home : "/root") / ".cache" / "huggingface" / "hub"};
}

namespace {

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

// "org/name" or "name": letters, digits, '-', '_', '.'; no "..", at most one '/'.
bool looks_like_model_id(std::string_view s) {
  if (s.empty() || s.size() > 200 || s.find("..") != std::string_view::npos || s.front() == '/' ||
      s.back() == '/' || s.front() == '.' || s.front() == '-')
    return false;
  int slashes = 0;
  for (char c : s) {
    if (c == '/') {
      ++slashes;
    } else if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return slashes <= 1;
}

std::string cache_folder_name(std::string_view model_id) {
  std::string name = "models--";
  for (char c : model_id) {
    if (c == '/') name += "--";
    else name += c;
  }
  return name;
}

Result<fs::path> snapshot_of_repo(const fs::path& repo, std::string_view model_id) {
  auto ref = repo / "refs" / "main";
  auto rev = util::read_file(ref, 4096);
  if (!rev)
    return failure("model '" + std::string(model_id) + "' in the Hugging Face cache has no readable " + quoted(ref) +
                   " (expected the commit of refs/main)");
  auto commit = std::string(util::trim(*rev));
  if (commit.empty() || commit.find('/') != std::string::npos || commit.find("..") != std::string::npos)
    return failure(quoted(ref) + ": expected a commit hash, got '" + commit + "'");
  auto snapshot = repo / "snapshots" / commit;
  if (!is_dir(snapshot))
    return failure("model '" + std::string(model_id) + "': refs/main names snapshot '" + commit +
                   "', which is missing from " + quoted(repo / "snapshots"));
  return snapshot;
}

Result<ModelSource> source_from_folder(std::string_view reference, const fs::path& folder, const CacheLocation& cache) {
  ModelSource src;
  src.reference = std::string(reference);
  src.folder = folder;
  src.kind = SourceKind::folder;
  // A repo folder of the cache itself (models--org--name): use its refs/main snapshot.
  auto name = folder.filename().string();
  if (name.empty()) name = folder.parent_path().filename().string();
  if (name.starts_with("models--") && is_dir(folder / "snapshots")) {
    auto id = model_id_from_cache_path(folder);
    MODELKIT_TRY(auto snap, snapshot_of_repo(folder, id.value_or(name)));
    src.folder = snap;
  }
  if (auto id = model_id_from_cache_path(src.folder)) {
    src.model_id = id;
    src.kind = SourceKind::hf_cache;
  }
  (void)cache;
  // Anything named config.json counts (a folder, a FIFO, a dangling or looping link):
  // reading it then says what is wrong with it, rather than "no config.json".
  std::error_code ec;
  if (fs::exists(fs::symlink_status(src.folder / "config.json", ec))) {
    src.config_path = src.folder / "config.json";
  } else if (!is_file(src.folder / "model.onnx") && !is_dir(src.folder / "onnx")) {
    return failure("folder " + quoted(folder) +
                   " has no config.json, model.onnx or onnx/ (expected a Hugging Face checkpoint folder)");
  }
  return src;
}

}  // namespace

std::optional<std::string> model_id_from_cache_path(const fs::path& path) {
  for (auto it = path.begin(); it != path.end(); ++it) {
    std::string part = it->string();
    if (!part.starts_with("models--") || part.size() <= 8) continue;
    std::string rest = part.substr(8);
    auto sep = rest.find("--");
    std::string id = sep == std::string::npos ? rest : rest.substr(0, sep) + "/" + rest.substr(sep + 2);
    if (looks_like_model_id(id)) return id;
  }
  return std::nullopt;
}

Result<ModelSource> locate_model(std::string_view reference, const CacheLocation& cache) {
  if (reference.empty()) return usage_error("-m needs a folder, a config.json, an .onnx file or a model id");
  fs::path path{std::string(reference)};
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (!ec && fs::exists(status)) {
    if (fs::is_directory(status)) return source_from_folder(reference, path, cache);
    if (!fs::is_regular_file(status)) return failure(quoted(path) + " is not a file or folder");
    ModelSource src;
    src.reference = std::string(reference);
    src.folder = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    src.model_id = model_id_from_cache_path(src.folder);
    auto ext = util::to_lower(path.extension().string());
    if (ext == ".onnx") {
      src.kind = SourceKind::onnx_file;
      src.onnx_path = path;
      // A config.json beside the model (or one level up, for onnx/ folders) gives the task.
      for (auto dir : {src.folder, src.folder.parent_path()}) {
        if (!dir.empty() && is_file(dir / "config.json")) {
          src.config_path = dir / "config.json";
          break;
        }
      }
      return src;
    }
    if (ext == ".json") {
      src.kind = SourceKind::config_file;
      src.config_path = path;
      return src;
    }
    return usage_error("-m " + quoted(path) + ": expected a folder, a config.json or an .onnx file");
  }
  if (!looks_like_model_id(reference))
    return failure("no such file or folder " + quoted(path) + ", and it is not a model id (expected 'org/name')");
  auto repo = cache.hub / cache_folder_name(reference);
  if (!is_dir(repo))
    return failure("model '" + std::string(reference) + "' not found: no folder '" + std::string(reference) +
                   "' and no " + quoted(repo) + " in the Hugging Face cache (modelkit never downloads)");
  MODELKIT_TRY(auto snapshot, snapshot_of_repo(repo, reference));
  auto src = source_from_folder(reference, snapshot, cache);
  if (!src) return src;
  src->kind = SourceKind::hf_cache;
  src->model_id = std::string(reference);
  return src;
}

ModelCard parse_model_card(std::string_view readme) {
  ModelCard card;
  if (readme.starts_with("\xEF\xBB\xBF")) readme.remove_prefix(3);
  if (!readme.starts_with("---")) return card;
  auto first_nl = readme.find('\n');
  if (first_nl == std::string_view::npos || util::trim(readme.substr(0, first_nl)) != "---") return card;
  readme.remove_prefix(first_nl + 1);
  while (!readme.empty()) {
    auto nl = readme.find('\n');
    std::string_view line = readme.substr(0, nl);
    readme.remove_prefix(nl == std::string_view::npos ? readme.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line == "---" || line == "...") break;
    if (line.empty() || line.front() == ' ' || line.front() == '\t' || line.front() == '-') continue;  // nested
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto k = util::trim(line.substr(0, colon));
    auto v = util::trim(line.substr(colon + 1));
    if (auto hash = v.find(" #"); hash != std::string_view::npos) v = util::trim(v.substr(0, hash));
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
    if (v.empty()) continue;
    if (k == "pipeline_tag") card.pipeline_tag = std::string(v);
    if (k == "library_name") card.library_name = std::string(v);
  }
  return card;
}

std::optional<std::string> Checkpoint::model_id() const {
  if (source.model_id) return source.model_id;
  if (config && config->name_or_path && looks_like_model_id(*config->name_or_path) &&
      config->name_or_path->find('/') != std::string::npos)
    return config->name_or_path;
  return std::nullopt;
}

namespace {

constexpr std::array kTokenizerFiles = {
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.txt",
    "vocab.json", "merges.txt", "tokenizer.model", "spiece.model", "sentencepiece.bpe.model",
};
constexpr std::array kProcessorFiles = {
    "preprocessor_config.json", "processor_config.json", "image_processor_config.json",
    "video_preprocessor_config.json", "feature_extractor_config.json",
};

std::vector<std::string> present(const fs::path& folder, std::span<const char* const> names) {
  std::vector<std::string> out;
  for (const char* n : names)
    if (is_file(folder / n)) out.emplace_back(n);
  return out;
}

}  // namespace

Result<Checkpoint> load_checkpoint(const ModelSource& source) {
  Checkpoint ck;
  ck.source = source;
  if (source.config_path) {
    MODELKIT_TRY(auto text, util::read_file(*source.config_path, kMaxConfigBytes));
    auto config = parse_model_config(text);
    if (!config) return config.take_error().with_context(quoted(*source.config_path));
    ck.config = std::move(*config);
  }
  const auto& folder = source.folder;
  if (auto readme = folder / "README.md"; is_file(readme)) {
    MODELKIT_TRY(auto text, util::read_file(readme, kMaxConfigBytes));
    ck.card = parse_model_card(text);
  }
  ck.sentence_transformers = is_file(folder / "modules.json") || is_file(folder / "config_sentence_transformers.json");
  ck.tokenizer_files = present(folder, kTokenizerFiles);
  ck.processor_files = present(folder, kProcessorFiles);
  return ck;
}

}  // namespace modelkit
