// The one task resolver (docs/design.md, "Resolving the task"). Every command that needs a
// task calls resolve_task(); none has a shortcut of its own.
#pragma once

#include <modelkit/checkpoint.hpp>
#include <modelkit/config.hpp>
#include <modelkit/registry.hpp>
#include <modelkit/result.hpp>

#include <optional>
#include <string>
#include <vector>

namespace modelkit {

// What the resolver may look at besides the request.
struct ModelFacts {
  ModelConfig config;                 // empty for --model-class alone
  std::optional<std::string> model_id;
  std::optional<std::string> card_pipeline_tag;
  bool sentence_transformers = false;

  [[nodiscard]] static ModelFacts from_checkpoint(const Checkpoint& checkpoint);
  // --model-type T without -m: a default config of T (model_type set, no architectures).
  [[nodiscard]] static ModelFacts for_model_type(std::string_view model_type);
};

struct TaskRequest {
  std::optional<std::string> task;         // --task, as the user wrote it
  std::optional<std::string> model_class;  // --model-class
};

struct TaskResolution {
  std::optional<std::string> task;          // nullopt: unresolved
  registry::TaskId task_id = registry::kNoTask;  // the same task, typed (kNoTask: unresolved)
  std::optional<std::string> optimum_task;  // to_optimum_task(task)
  std::optional<std::string> model_class;
  std::string modality = "unknown";         // text | image | audio | video | multimodal | unknown
  std::string source = "unresolved";        // user-task, user-class, model-id-default, ...
  std::vector<std::string> notes;
  std::string library = "transformers";     // or timm, sentence-transformers
  std::vector<std::string> candidates;      // unresolved: the model_type's exportable tasks

  [[nodiscard]] bool resolved() const { return task.has_value(); }
};

// Errors only for contradictions in the request: an unknown --task (usage) or a
// --model-class that does not serve the task. An undecidable model is not an error:
// it resolves to source "unresolved" and callers decide.
[[nodiscard]] Result<TaskResolution> resolve_task(const ModelFacts& facts, const TaskRequest& request);

// For commands that cannot continue without a task (config, build, quantize):
// "could not resolve the task of 'x' (model_type 'y'); pass --task (candidates: a, b)".
[[nodiscard]] Result<void> require_resolved(const TaskResolution& resolution, std::string_view model_reference);

}  // namespace modelkit
