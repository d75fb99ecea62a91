// The single path from what the user named (-m, --model-type, --model-class,
// --task) to a resolved model. inspect, config, build and every later command call
// resolve_model(), so they cannot disagree.
#pragma once

#include <modelkit/checkpoint.hpp>
#include <modelkit/result.hpp>
#include <modelkit/task.hpp>

#include <optional>
#include <string>

namespace modelkit {

struct ModelSpec {
  std::optional<std::string> model;        // -m: folder, config.json, .onnx, or model id
  std::optional<std::string> model_type;   // --model-type
  std::optional<std::string> model_class;  // --model-class
  std::optional<std::string> task;         // --task
};

struct ResolvedModel {
  ModelSpec spec;
  std::optional<Checkpoint> checkpoint;  // with -m
  ModelFacts facts;
  TaskResolution resolution;
  // How to name the model in messages: the -m value, "--model-type T", or "--model-class C".
  [[nodiscard]] std::string reference() const;
};

// Validates the combination (usage errors: none of -m/--model-type/--model-class, or
// -m with --model-type naming a different model_type), loads the checkpoint, and
// resolves the task.
[[nodiscard]] Result<ResolvedModel> resolve_model(const ModelSpec& spec, const CacheLocation& cache);

}  // namespace modelkit
