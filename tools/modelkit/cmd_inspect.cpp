// modelkit inspect: what a checkpoint is and what modelkit resolves for it.
#include "cli.hpp"

#include <modelkit/export.hpp>
#include <modelkit/registry.hpp>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace modelkit::cli {
namespace {

void print_task_list(const std::vector<std::string>& tasks, OutputFormat format) {
  if (format == OutputFormat::json) {
    std::string out = "{\"tasks\": [";
    for (size_t i = 0; i < tasks.size(); ++i) out += (i ? ", \"" : "\"") + tasks[i] + "\"";
    out += "]}\n";
    std::fputs(out.c_str(), stdout);
    return;
  }
  for (const auto& t : tasks) std::printf("%s\n", t.c_str());
}

}  // namespace

CommandSyntax inspect_syntax() {
  std::vector<OptionSpec> o(std::begin(kModelOptions), std::end(kModelOptions));
  o.push_back({"--list-tasks", "", "", "with a model: its tasks; alone: every task modelkit knows"});
  o.push_back({"--format", "", "table|json", "output format (default table)"});
  o.push_back({"--help", "-h", "", "show this help"});
  return {"modelkit inspect (-m PATH|ID | --model-type T | --model-class C) [--task T] [--list-tasks] "
          "[--format table|json]",
          std::move(o)};
}

Result<void> run_inspect(std::span<char* const> argv) {
  const auto syntax = inspect_syntax();
  auto args = parse_args("inspect", argv, syntax.options);
  if (!args) return args.take_error();
  if (args->has("--help")) {
    std::fputs(format_help(syntax.usage, syntax.options).c_str(), stdout);
    return {};
  }
  MODELKIT_TRY_VOID(no_positional("inspect", *args));
  auto format = format_from(*args);
  if (!format) return format.take_error();
  auto spec = model_spec_from(*args);
  if (!spec) return spec.take_error();

  bool any_model = spec->model || spec->model_type || spec->model_class;
  if (args->has("--list-tasks") && !any_model) {
    std::vector<std::string> all(registry::tasks().begin(), registry::tasks().end());
    print_task_list(all, *format);
    return {};
  }
  auto model = resolve_model(*spec, CacheLocation::from_environment());
  if (!model) return model.take_error();
  if (args->has("--list-tasks")) {
    std::vector<std::string> tasks;
    if (const auto& mt = model->facts.config.model_type)
      for (auto& t : registry::exportable_tasks(*mt))
        if (!t.ends_with("-with-past")) tasks.push_back(t);
    if (model->resolution.task &&
        std::find(tasks.begin(), tasks.end(), *model->resolution.task) == tasks.end())
      tasks.insert(tasks.begin(), *model->resolution.task);
    print_task_list(tasks, *format);
    return {};
  }
  auto report = inspect_model(std::move(*model));
  if (!report) return report.take_error();
  if (report->model.checkpoint && !report->model.checkpoint->source.onnx_path) {
    auto support = export_support(report->model);
    InspectReport::NativeExport e;
    e.native = support.ok();
    if (support) {
      e.family = support->family;
      e.head = support->head;
    } else {
      e.reason = support.error().message;
    }
    report->native_export = std::move(e);
  }
  std::fputs(render_inspect(*report, *format).c_str(), stdout);
  return {};
}

}  // namespace modelkit::cli
