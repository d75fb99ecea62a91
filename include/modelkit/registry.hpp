// The registry: facts about transformers and optimum (generated from hf-facts by
// scripts/gen_registry.py) plus modelkit's own small tables, compiled in as sorted
// arrays. Every lookup is a binary search with an explicit "not found".
#pragma once

#include <modelkit/result.hpp>
#include <modelkit/settings.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace modelkit::registry {

// A task is an index into tasks(); kNoTask means "unknown".
using TaskId = std::int8_t;
inline constexpr TaskId kNoTask = -1;

struct SynonymRow { std::string_view from, to; };
struct OptimumTaskRow { std::string_view task, optimum_task; };
struct ClassRow {
  std::string_view name;
  std::string_view main_input_name;  // several joined by '|'
  TaskId optimum_task;               // optimum's class -> task (list-valued entries fixed)
  TaskId table_task;                 // task of a transformers-only table naming the class
  std::uint64_t served_tasks;        // bit t: a table of task t names the class
  bool in_pretraining_table;
  std::string_view model_type;       // of its first table entry ("" when none)
};
struct ModelTypeRow { std::string_view key, name, config_class, exportable_tasks; };
struct TaskClassRow { std::string_view model_type_key; TaskId task; std::string_view class_name; };
struct AutoClassRow { std::string_view auto_class; TaskId task; int loader_rank; };
struct ModelIdDefaultRow { std::string_view model_id; TaskId task; std::string_view reason; };
struct SentinelRow { std::string_view model_type_key; TaskId task; std::string_view class_name, reason; };
struct ClassChoiceRow { std::string_view model_type_key; TaskId task; std::string_view class_name, reason; };
struct LibraryRow { std::string_view library; TaskId task; std::string_view exportable_tasks, reason; };
struct ModalityRow { std::string_view main_input_name, modality; };

// --- tasks ---
[[nodiscard]] std::span<const std::string_view> tasks();
[[nodiscard]] std::string_view task_name(TaskId task);
[[nodiscard]] TaskId find_task(std::string_view name);  // exact vocabulary name, else kNoTask
// Normalises a user-given task (synonyms, with two exceptions kept as data) and validates it.
// Error (usage): "unknown task 'x' (did you mean 'y'?); valid tasks: a, b, ..."
[[nodiscard]] Result<TaskId> parse_task(std::string_view user_task);
// The synonym-normalised name of a task string that may not be in the vocabulary.
[[nodiscard]] std::string_view normalise_task_name(std::string_view name);
// Exporter-facing name: image-feature-extraction -> feature-extraction, ... (docs/design.md).
[[nodiscard]] std::string_view to_optimum_task(TaskId task);

// --- model types and classes ---
// The lookup key of a model_type: lower-case, '_' -> '-'.
[[nodiscard]] std::string model_type_key(std::string_view model_type);
[[nodiscard]] const ModelTypeRow* find_model_type(std::string_view model_type);
// Exportable tasks of a model_type in registration order, '-with-past' variants included.
[[nodiscard]] std::vector<std::string> exportable_tasks(std::string_view model_type);
[[nodiscard]] std::span<const ModelTypeRow> model_types();  // sorted by key
[[nodiscard]] const ClassRow* find_class(std::string_view class_name);
[[nodiscard]] std::span<const ClassRow> classes();
// The auto-mapping class for (model_type, task); image-feature-extraction uses feature-extraction's table.
[[nodiscard]] std::optional<std::string_view> auto_class_for(std::string_view model_type, TaskId task);
// Remote code: the task of an AutoModelFor* class, or nullptr (AutoModel names no head).
[[nodiscard]] const AutoClassRow* find_auto_class(std::string_view auto_class);

// --- project-owned tables ---
[[nodiscard]] const ModelIdDefaultRow* find_model_id_default(std::string_view model_id);  // trimmed, lower-cased
[[nodiscard]] const SentinelRow* find_sentinel(std::string_view model_type);
[[nodiscard]] const ClassChoiceRow* find_class_choice(std::string_view model_type, TaskId task);
[[nodiscard]] const LibraryRow* find_library(std::string_view library);  // "timm", "sentence-transformers"
[[nodiscard]] std::span<const ModelIdDefaultRow> model_id_defaults();
[[nodiscard]] std::span<const SentinelRow> sentinels();
[[nodiscard]] std::span<const ClassChoiceRow> class_choices();

// --- calibration data by task ---
// The tasks with a dataset kind, each with the kind its calibration samples come from (text
// through the tokenizer, images through the preprocessor, audio through the feature extractor).
// Every other task calibrates on informed random inputs, and says so. (Audio models' feature
// extraction calibrates on audio: the plan decides that by modality, report/plan.cpp.)
struct CalibrationKindRow { std::string_view task; CalibrationKind kind; };
[[nodiscard]] std::span<const CalibrationKindRow> calibration_kinds();
// The kind of a task; nullopt for a task without one (and for kNoTask).
[[nodiscard]] std::optional<CalibrationKind> calibration_kind_for_task(TaskId task);

// text | image | audio | video | multimodal (several names) | unknown.
[[nodiscard]] std::string_view modality_of_main_input(std::string_view main_input_name);

// "transformers 5.14.0.dev0 <commit>", ... : what the tables were generated from.
[[nodiscard]] std::span<const std::string_view> sources();

}  // namespace modelkit::registry
