#include <modelkit/model.hpp>
#include <modelkit/registry.hpp>

#include "util/strings.hpp"

#include <algorithm>
#include <climits>

namespace modelkit {

std::string ResolvedModel::reference() const {
  if (spec.model) return *spec.model;
  if (spec.model_type) return "--model-type " + *spec.model_type;
  if (spec.model_class) return "--model-class " + *spec.model_class;
  return "(no model)";
}

Result<ResolvedModel> resolve_model(const ModelSpec& spec, const CacheLocation& cache) {
  if (!spec.model && !spec.model_type && !spec.model_class)
    return usage_error("name a model: -m PATH|MODEL_ID, --model-type TYPE or --model-class CLASS");
  ResolvedModel out;
  out.spec = spec;
  if (spec.model) {
    MODELKIT_TRY(auto source, locate_model(*spec.model, cache));
    auto checkpoint = load_checkpoint(source);
    if (!checkpoint) return checkpoint.take_error();
    out.facts = ModelFacts::from_checkpoint(*checkpoint);
    out.checkpoint = std::move(*checkpoint);
    if (spec.model_type) {
      // --model-type with -m overrides a missing model_type and must agree with a present one.
      const auto& mt = out.facts.config.model_type;
      if (mt && registry::model_type_key(*mt) != registry::model_type_key(*spec.model_type))
        return usage_error("--model-type '" + *spec.model_type + "' contradicts model_type '" + *mt + "' of '" +
                           *spec.model + "'");
      if (!mt) out.facts.config.model_type = *spec.model_type;
    }
  } else if (spec.model_type) {
    out.facts = ModelFacts::for_model_type(*spec.model_type);
  } else if (spec.model_class) {
    // --model-class alone: the class's own model_type gives the lookups their key.
    if (const auto* row = registry::find_class(*spec.model_class); row && !row->model_type.empty())
      out.facts.config.model_type = std::string(row->model_type);
  }
  if (spec.model_type && !registry::find_model_type(*spec.model_type) && !spec.model) {
    std::string key = registry::model_type_key(*spec.model_type);
    std::string_view best;
    size_t best_d = SIZE_MAX;
    for (const auto& row : registry::model_types()) {
      size_t d = util::edit_distance(key, row.key);
      if (d < best_d) best_d = d, best = row.name;
    }
    std::string hint = best_d <= std::max<size_t>(2, key.size() / 4) ? " (did you mean '" + std::string(best) + "'?)" : "";
    return usage_error("unknown model type '" + *spec.model_type + "'" + hint + "; see 'modelkit help model-types'");
  }
  TaskRequest request{spec.task, spec.model_class};
  auto resolution = resolve_task(out.facts, request);
  if (!resolution) return resolution.take_error();
  out.resolution = std::move(*resolution);
  return out;
}

}  // namespace modelkit
