#include <modelkit/registry.hpp>

#include "util/strings.hpp"

#include <algorithm>

// The generated tables use the row types of registry.hpp.
#include "registry/registry_tables.inc"

namespace modelkit::registry {

namespace {

// Binary search of a table sorted by `proj(row)`; nullptr when absent.
template <class Row, size_t N, class Key, class Proj>
const Row* lookup(const Row (&table)[N], const Key& k, Proj proj) {
  auto it = std::lower_bound(std::begin(table), std::end(table), k,
                             [&](const Row& row, const Key& key) { return proj(row) < key; });
  if (it == std::end(table) || proj(*it) != k) return nullptr;
  return &*it;
}

std::vector<std::string> split_commas(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    auto comma = s.find(',');
    out.emplace_back(s.substr(0, comma));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace

std::span<const std::string_view> tasks() { return data::kTasks; }

std::string_view task_name(TaskId task) {
  if (task < 0 || static_cast<size_t>(task) >= std::size(data::kTasks)) return "unknown";
  return data::kTasks[task];
}

TaskId find_task(std::string_view name) {
  // kTasks is sorted by name (the generator sorts it).
  auto it = std::lower_bound(std::begin(data::kTasks), std::end(data::kTasks), name);
  if (it == std::end(data::kTasks) || *it != name) return kNoTask;
  return static_cast<TaskId>(it - std::begin(data::kTasks));
}

std::string_view normalise_task_name(std::string_view name) {
  if (const auto* row = lookup(data::kSynonyms, name, [](const SynonymRow& r) { return r.from; })) return row->to;
  return name;
}

Result<TaskId> parse_task(std::string_view user_task) {
  std::string lowered = util::to_lower(util::trim(user_task));
  TaskId id = find_task(normalise_task_name(lowered));
  if (id != kNoTask) return id;
  // transformers' pipeline() accepts these aliases (TASK_ALIASES); optimum's exporter does not.
  // The user is pointed to the task rather than having it silently replaced.
  static constexpr std::pair<std::string_view, std::string_view> kPipelineAliases[] = {
      {"sentiment-analysis", "text-classification"},
      {"ner", "token-classification"},
      {"vqa", "visual-question-answering"},
  };
  for (auto [alias, task] : kPipelineAliases)
    if (lowered == alias)
      return usage_error("unknown task '" + std::string(user_task) + "' (did you mean '" + std::string(task) + "'? '" +
                         std::string(alias) + "' is transformers' pipeline alias for it)");
  std::string_view best;
  size_t best_distance = SIZE_MAX;
  auto consider = [&](std::string_view candidate) {
    size_t d = util::edit_distance(lowered, candidate);
    if (d < best_distance) best_distance = d, best = candidate;
  };
  for (auto t : data::kTasks) consider(t);
  for (const auto& s : data::kSynonyms) consider(s.from);
  std::string msg = "unknown task '" + std::string(user_task) + "'";
  if (best_distance <= std::max<size_t>(3, lowered.size() / 3)) msg += " (did you mean '" + std::string(best) + "'?)";
  msg += "; valid tasks: ";
  for (size_t i = 0; i < std::size(data::kTasks); ++i) {
    if (i) msg += ", ";
    msg += data::kTasks[i];
  }
  return usage_error(std::move(msg));
}

std::string_view to_optimum_task(TaskId task) {
  std::string_view name = task_name(task);
  if (const auto* row = lookup(data::kOptimumTaskOverrides, name, [](const OptimumTaskRow& r) { return r.task; }))
    return row->optimum_task;
  // optimum's synonym map, without modelkit's exceptions being exempt here: the
  // exporter-facing name of mask-generation is feature-extraction.
  if (name == "mask-generation") return "feature-extraction";
  return normalise_task_name(name);
}

std::string model_type_key(std::string_view model_type) {
  std::string k = util::to_lower(model_type);
  std::replace(k.begin(), k.end(), '_', '-');
  return k;
}

const ModelTypeRow* find_model_type(std::string_view model_type) {
  std::string k = model_type_key(model_type);
  return lookup(data::kModelTypes, std::string_view(k), [](const ModelTypeRow& r) { return r.key; });
}

std::vector<std::string> exportable_tasks(std::string_view model_type) {
  const auto* row = find_model_type(model_type);
  if (row == nullptr) return {};
  return split_commas(row->exportable_tasks);
}

std::span<const ModelTypeRow> model_types() { return data::kModelTypes; }

const ClassRow* find_class(std::string_view class_name) {
  return lookup(data::kClasses, class_name, [](const ClassRow& r) { return r.name; });
}

std::span<const ClassRow> classes() { return data::kClasses; }

std::optional<std::string_view> auto_class_for(std::string_view model_type, TaskId task) {
  if (task_name(task) == "image-feature-extraction") task = find_task("feature-extraction");
  std::string k = model_type_key(model_type);
  auto key = std::pair<std::string_view, TaskId>(k, task);
  const auto* row = lookup(data::kTaskClasses, key, [](const TaskClassRow& r) {
    return std::pair<std::string_view, TaskId>(r.model_type_key, r.task);
  });
  if (row == nullptr) return std::nullopt;
  return row->class_name;
}

const AutoClassRow* find_auto_class(std::string_view auto_class) {
  return lookup(data::kAutoClasses, auto_class, [](const AutoClassRow& r) { return r.auto_class; });
}

const ModelIdDefaultRow* find_model_id_default(std::string_view model_id) {
  std::string k = util::to_lower(util::trim(model_id));
  return lookup(data::kModelIdDefaults, std::string_view(k), [](const ModelIdDefaultRow& r) { return r.model_id; });
}

const SentinelRow* find_sentinel(std::string_view model_type) {
  std::string k = model_type_key(model_type);
  return lookup(data::kSentinels, std::string_view(k), [](const SentinelRow& r) { return r.model_type_key; });
}

const ClassChoiceRow* find_class_choice(std::string_view model_type, TaskId task) {
  std::string k = model_type_key(model_type);
  auto key = std::pair<std::string_view, TaskId>(k, task);
  return lookup(data::kClassChoices, key, [](const ClassChoiceRow& r) {
    return std::pair<std::string_view, TaskId>(r.model_type_key, r.task);
  });
}

const LibraryRow* find_library(std::string_view library) {
  return lookup(data::kLibraries, library, [](const LibraryRow& r) { return r.library; });
}

std::span<const ModelIdDefaultRow> model_id_defaults() { return data::kModelIdDefaults; }
std::span<const SentinelRow> sentinels() { return data::kSentinels; }
std::span<const ClassChoiceRow> class_choices() { return data::kClassChoices; }

namespace {
// Sorted by task name. The data a task's inputs are made from: its pipeline's own
// pre-processing (a tokenizer for text, an image processor for images).
constexpr CalibrationKindRow kCalibrationKindRows[] = {
    {"audio-classification", CalibrationKind::audio},   {"audio-frame-classification", CalibrationKind::audio},
    {"audio-xvector", CalibrationKind::audio},          {"automatic-speech-recognition", CalibrationKind::audio},
    {"depth-estimation", CalibrationKind::image},       {"feature-extraction", CalibrationKind::text},
    {"fill-mask", CalibrationKind::text},               {"image-classification", CalibrationKind::image},
    {"image-feature-extraction", CalibrationKind::image}, {"image-segmentation", CalibrationKind::image},
    {"keypoint-detection", CalibrationKind::image},     {"multiple-choice", CalibrationKind::text},
    {"next-sentence-prediction", CalibrationKind::text}, {"object-detection", CalibrationKind::image},
    {"question-answering", CalibrationKind::text},      {"semantic-segmentation", CalibrationKind::image},
    {"sentence-similarity", CalibrationKind::text},     {"text-classification", CalibrationKind::text},
    {"token-classification", CalibrationKind::text},
};
}  // namespace

std::span<const CalibrationKindRow> calibration_kinds() { return kCalibrationKindRows; }

std::optional<CalibrationKind> calibration_kind_for_task(TaskId task) {
  if (task == kNoTask) return std::nullopt;
  const auto* row = lookup(kCalibrationKindRows, task_name(task), [](const CalibrationKindRow& r) { return r.task; });
  if (!row) return std::nullopt;
  return row->kind;
}

std::string_view modality_of_main_input(std::string_view main_input_name) {
  if (main_input_name.empty()) return "unknown";
  if (main_input_name.find('|') != std::string_view::npos) return "multimodal";
  const auto* row =
      lookup(data::kModalities, main_input_name, [](const ModalityRow& r) { return r.main_input_name; });
  return row ? row->modality : "unknown";
}

std::span<const std::string_view> sources() { return data::kSources; }

}  // namespace modelkit::registry
