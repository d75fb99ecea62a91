// The resolution stages (docs/design.md, "Resolving the task"), in order; the first that answers wins.
#include <modelkit/registry.hpp>
#include <modelkit/task.hpp>

#include "util/strings.hpp"

#include <algorithm>
#include <climits>

namespace modelkit {

namespace reg = registry;
using reg::TaskId;

ModelFacts ModelFacts::from_checkpoint(const Checkpoint& checkpoint) {
  ModelFacts facts;
  if (checkpoint.config) facts.config = *checkpoint.config;
  facts.model_id = checkpoint.model_id();
  facts.card_pipeline_tag = checkpoint.card.pipeline_tag;
  facts.sentence_transformers = checkpoint.sentence_transformers;
  return facts;
}

ModelFacts ModelFacts::for_model_type(std::string_view model_type) {
  ModelFacts facts;
  facts.config.model_type = std::string(model_type);
  return facts;
}

namespace {

bool ends_with_model(std::string_view name) {
  return name.ends_with("Model") || name.ends_with("ModelWithProjection");
}

// Stage 1c's class -> task, without the is_encoder_decoder rule (which needs the config).
TaskId task_of_class(const reg::ClassRow& row) {
  if (row.optimum_task != reg::kNoTask) return row.optimum_task;
  if (row.table_task != reg::kNoTask) return row.table_task;
  static const TaskId feature_extraction = reg::find_task("feature-extraction");
  if (row.served_tasks == 0 && (row.in_pretraining_table || ends_with_model(row.name))) return feature_extraction;
  return reg::kNoTask;
}

// A class serves a task when a table of that task names it or stage 1c infers it.
// image-feature-extraction is served by feature-extraction classes.
bool serves(const reg::ClassRow& row, TaskId task) {
  static const TaskId ife = reg::find_task("image-feature-extraction");
  static const TaskId fe = reg::find_task("feature-extraction");
  if (task == ife) task = fe;
  if (task < 0) return false;
  return (row.served_tasks >> task) & 1u || task_of_class(row) == task;
}

std::string_view modality_of_class(std::string_view class_name) {
  const auto* row = reg::find_class(class_name);
  return row ? reg::modality_of_main_input(row->main_input_name) : std::string_view("unknown");
}

void set_task(TaskResolution& r, TaskId task) {
  r.task = std::string(reg::task_name(task));
  r.task_id = task;
  r.optimum_task = std::string(reg::to_optimum_task(task));
}

std::vector<std::string> candidate_tasks(const std::optional<std::string>& model_type) {
  std::vector<std::string> out;
  if (!model_type) return out;
  for (auto& t : reg::exportable_tasks(*model_type))
    if (!t.ends_with("-with-past")) out.push_back(std::move(t));
  return out;
}

class Resolver {
 public:
  Resolver(const ModelFacts& facts, const TaskRequest& request) : facts_(facts), request_(request) {
    const auto& archs = facts.config.architectures;
    for (size_t i = 0; i < archs.size(); ++i) {
      if (const auto* row = reg::find_class(archs[i])) {
        arch_row_ = row;
        if (i > 0) notes_.push_back("architectures[0] '" + archs[0] + "' is not a known class; used '" + archs[i] + "'");
        break;
      }
    }
    if (facts.config.model_type) model_type_ = *facts.config.model_type;
  }

  Result<TaskResolution> run() {
    if (request_.model_class) return user_class();
    if (request_.task) return user_task();
    return detect();
  }

 private:
  // Stage 0, --model-class.
  Result<TaskResolution> user_class() {
    const auto& name = *request_.model_class;
    const auto* row = reg::find_class(name);
    if (row == nullptr) return usage_error("unknown model class '" + name + "'" + class_suggestion(name));
    TaskId task = reg::kNoTask;
    if (request_.task) {
      MODELKIT_TRY(auto parsed, reg::parse_task(*request_.task));
      task = parsed;
    } else {
      task = task_of_class(*row);
      if (task == reg::kNoTask) return usage_error("model class '" + name + "' serves no task modelkit knows; pass --task");
    }
    if (!serves(*row, task))
      return usage_error("model class '" + name + "' does not serve task '" + std::string(reg::task_name(task)) + "'");
    TaskResolution r = base("user-class");
    set_task(r, task);
    r.model_class = name;
    r.modality = std::string(reg::modality_of_main_input(row->main_input_name));
    return r;
  }

  // Stage 0, --task: surfaced verbatim, no modality upgrade.
  Result<TaskResolution> user_task() {
    MODELKIT_TRY(auto parsed, reg::parse_task(*request_.task));
    TaskId task = parsed;
    TaskResolution r = base("user-task");
    set_task(r, task);
    std::optional<std::string> cls;
    if (model_type_) {
      if (const auto* choice = reg::find_class_choice(*model_type_, task)) cls = std::string(choice->class_name);
      else if (auto auto_cls = reg::auto_class_for(*model_type_, task)) cls = std::string(*auto_cls);
    }
    if (!cls && arch_row_) cls = std::string(arch_row_->name);
    if (!cls && !facts_.config.architectures.empty()) cls = facts_.config.architectures[0];
    if (cls) {
      r.model_class = cls;
      r.modality = std::string(modality_of_class(*cls));
    } else {
      r.notes.push_back("no class of model_type '" + model_type_.value_or("") + "' is known for task '" +
                        std::string(reg::task_name(task)) + "'");
    }
    return r;
  }

  Result<TaskResolution> detect() {
    // 1a. Override lookup: model-id default, then the model_type's sentinel.
    if (facts_.model_id) {
      if (const auto* row = reg::find_model_id_default(*facts_.model_id)) {
        notes_.push_back("model-id default for '" + util::to_lower(util::trim(*facts_.model_id)) + "': " +
                         std::string(row->reason));
        return finish("model-id-default", row->task);
      }
    }
    if (model_type_) {
      if (const auto* row = reg::find_sentinel(*model_type_)) {
        notes_.push_back("sentinel default of '" + *model_type_ + "': " + std::string(row->reason));
        return finish("sentinel-default", row->task, std::string(row->class_name));
      }
    }
    // 1b. Wrapped libraries, then a model_type without architectures.
    const auto& cfg = facts_.config;
    bool no_architectures = cfg.architectures.empty();
    bool timm_native = !model_type_ && cfg.timm_architecture && cfg.has_pretrained_cfg;
    bool timm_wrapper = model_type_ && reg::model_type_key(*model_type_) == "timm-wrapper" && no_architectures;
    if (timm_native || timm_wrapper) {
      const auto* lib = reg::find_library("timm");
      library_ = "timm";
      if (timm_native) notes_.push_back("timm model '" + *cfg.timm_architecture + "'");
      notes_.push_back("wrapped library timm: " + std::string(lib->reason));
      // Hugging Face loads timm checkpoints through the TimmWrapper classes.
      auto wrapper = reg::auto_class_for("timm_wrapper", lib->task);
      return finish("wrapped-library", lib->task,
                    wrapper ? std::optional<std::string>(std::string(*wrapper)) : std::nullopt);
    }
    if (facts_.sentence_transformers) {
      const auto* lib = reg::find_library("sentence-transformers");
      library_ = "sentence-transformers";
      notes_.push_back("wrapped library sentence-transformers: " + std::string(lib->reason));
      return finish("wrapped-library", lib->task);
    }
    if (model_type_ && no_architectures) {
      for (const auto& t : reg::exportable_tasks(*model_type_)) {
        TaskId task = reg::find_task(t);
        if (task != reg::kNoTask) return finish("model-type-default", task);
      }
    }
    // 1c. Architecture.
    if (arch_row_) {
      TaskId task = task_of_class(*arch_row_);
      if (task != reg::kNoTask) {
        if (reg::task_name(task) == "fill-mask" && cfg.is_encoder_decoder == true) {
          notes_.push_back("fill-mask head with is_encoder_decoder true: text2text-generation");
          task = reg::find_task("text2text-generation");
        }
        return finish("architecture", task);
      }
      notes_.push_back("class '" + std::string(arch_row_->name) + "' names no task");
    }
    // 1c2. Remote code: auto_map entries whose target is an architecture.
    const reg::AutoClassRow* best = nullptr;
    std::string best_target;
    for (const auto& [auto_class, target] : cfg.auto_map) {
      if (std::find(cfg.architectures.begin(), cfg.architectures.end(), target) == cfg.architectures.end()) continue;
      const auto* row = reg::find_auto_class(auto_class);
      if (row && (!best || row->loader_rank < best->loader_rank)) best = row, best_target = target;
    }
    if (best) {
      notes_.push_back("remote code: auto_map " + std::string(best->auto_class) + " -> " + best_target);
      return finish("remote-code", best->task, best_target);
    }
    // 1d. Model card, when the tag is an exportable task of the model_type.
    if (facts_.card_pipeline_tag) {
      std::string tag = util::to_lower(util::trim(*facts_.card_pipeline_tag));
      std::string_view normalised = reg::normalise_task_name(tag);
      TaskId task = reg::find_task(normalised);
      auto exportable = candidate_tasks(model_type_);
      bool accepted = task != reg::kNoTask &&
                      std::find(exportable.begin(), exportable.end(), normalised) != exportable.end();
      if (accepted) return finish("model-card", task);
      notes_.push_back("model card pipeline_tag '" + *facts_.card_pipeline_tag + "' is not an exportable task of '" +
                       model_type_.value_or("(no model_type)") + "'; ignored");
    }
    // 1e. Unresolved.
    TaskResolution r = base("unresolved");
    r.candidates = candidate_tasks(model_type_);
    return r;
  }

  // Stage 2: the class for a task on the detection path.
  std::optional<std::string> class_for(TaskId task, const std::optional<std::string>& fallback) const {
    if (model_type_)
      if (const auto* choice = reg::find_class_choice(*model_type_, task)) return std::string(choice->class_name);
    if (arch_row_ && serves(*arch_row_, task)) return std::string(arch_row_->name);
    if (model_type_)
      if (auto cls = reg::auto_class_for(*model_type_, task)) return std::string(*cls);
    if (fallback && !fallback->empty()) return fallback;
    return std::nullopt;
  }

  // Stages 2 and 3 after a detection stage answered.
  TaskResolution finish(const char* source, TaskId task, std::optional<std::string> fallback_class = std::nullopt) {
    static const TaskId fe = reg::find_task("feature-extraction");
    static const TaskId ife = reg::find_task("image-feature-extraction");
    TaskResolution r = base(source);
    bool remote = std::string_view(source) == "remote-code";
    if (task == fe && !remote) {
      std::string_view main_input;
      if (arch_row_) {
        main_input = arch_row_->main_input_name;
      } else if (auto cls = class_for(fe, fallback_class)) {
        if (const auto* row = reg::find_class(*cls)) main_input = row->main_input_name;
      }
      if (main_input == "pixel_values") {
        task = ife;
        r.notes.push_back("feature-extraction on 'pixel_values' input: image-feature-extraction");
      }
    }
    set_task(r, task);
    r.model_class = remote ? fallback_class : class_for(task, fallback_class);
    if (r.model_class) r.modality = std::string(modality_of_class(*r.model_class));
    return r;
  }

  TaskResolution base(const char* source) const {
    TaskResolution r;
    r.source = source;
    r.notes = notes_;
    r.library = library_;
    return r;
  }

  static std::string class_suggestion(std::string_view name) {
    std::string_view best;
    size_t best_d = SIZE_MAX;
    for (const auto& row : reg::classes()) {
      size_t d = util::edit_distance(util::to_lower(name), util::to_lower(row.name));
      if (d < best_d) best_d = d, best = row.name;
    }
    if (best_d <= std::max<size_t>(3, name.size() / 4)) return " (did you mean '" + std::string(best) + "'?)";
    return "";
  }

  const ModelFacts& facts_;
  const TaskRequest& request_;
  const reg::ClassRow* arch_row_ = nullptr;
  std::optional<std::string> model_type_;
  std::vector<std::string> notes_;
  std::string library_ = "transformers";
};

}  // namespace

Result<TaskResolution> resolve_task(const ModelFacts& facts, const TaskRequest& request) {
  return Resolver(facts, request).run();
}

Result<void> require_resolved(const TaskResolution& resolution, std::string_view model_reference) {
  if (resolution.resolved()) return {};
  std::string msg = "could not resolve the task of '" + std::string(model_reference) + "'; pass --task";
  if (!resolution.candidates.empty()) msg += " (candidates: " + util::join(resolution.candidates, ", ") + ")";
  else msg += " (see 'modelkit inspect --list-tasks')";
  return failure(std::move(msg));
}

}  // namespace modelkit
