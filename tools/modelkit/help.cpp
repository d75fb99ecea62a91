// 'modelkit help' and 'modelkit --version'. Every page is built at run time from the tables the
// CLI and the library run on (option tables, registry, calibration kinds, resolver, quantizer
// settings), then rendered as terminal text or as Markdown: docs/*.md are that Markdown
// (scripts/gen_docs.sh), so the docs cannot describe options or tasks the binary does not have.
#include "build_events.hpp"
#include "cli.hpp"
#include "help.hpp"

#include <modelkit/model.hpp>
#include <modelkit/plan.hpp>
#include <modelkit/quantize.hpp>
#include <modelkit/registry.hpp>
#include <modelkit/runtime.hpp>
#include <modelkit/version.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>

namespace modelkit::cli {
namespace {

// --- a small document model, rendered two ways ---

struct Table {
  std::vector<std::string> header;
  std::vector<bool> code;  // columns shown as code in Markdown (names the user types)
  std::vector<std::vector<std::string>> rows;
};

struct Block {
  enum class Kind { heading, paragraph, code, list, table };
  Kind kind;
  std::string text;                // heading, paragraph, code
  std::vector<std::string> items;  // list
  Table table;
};

struct Page {
  std::string title;
  std::vector<Block> blocks;

  Page& heading(std::string t) { return add({Block::Kind::heading, std::move(t), {}, {}}); }
  Page& paragraph(std::string t) { return add({Block::Kind::paragraph, std::move(t), {}, {}}); }
  Page& code(std::string t) { return add({Block::Kind::code, std::move(t), {}, {}}); }
  Page& list(std::vector<std::string> items) { return add({Block::Kind::list, {}, std::move(items), {}}); }
  Page& table(Table t) { return add({Block::Kind::table, {}, {}, std::move(t)}); }

 private:
  Page& add(Block b) {
    blocks.push_back(std::move(b));
    return *this;
  }
};

constexpr size_t kTextWidth = 100;

// Greedy word wrap; continuation lines get `indent` spaces.
std::string wrap(std::string_view text, size_t first_width, size_t width, size_t indent) {
  std::string out;
  size_t line = 0, limit = first_width;
  while (!text.empty()) {
    auto space = text.find(' ');
    auto word = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
    if (line > 0 && line + 1 + word.size() > limit) {
      out.append("\n").append(indent, ' ');
      line = 0;
      limit = width > indent ? width - indent : 20;
    } else if (line > 0) {
      out.push_back(' ');
      ++line;
    }
    out.append(word);
    line += word.size();
  }
  return out;
}

std::string render_text(const Page& page) {
  std::string out = page.title + "\n";
  for (const auto& b : page.blocks) {
    switch (b.kind) {
      case Block::Kind::heading:
        out.append("\n").append(b.text).append(":\n");
        break;
      case Block::Kind::paragraph:
        out.append("\n").append(wrap(b.text, kTextWidth, kTextWidth, 0)).append("\n");
        break;
      case Block::Kind::code: {
        out.append("\n");
        std::string_view rest = b.text;
        while (!rest.empty()) {
          auto nl = rest.find('\n');
          out.append("  ").append(rest.substr(0, nl)).append("\n");
          rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
        }
        break;
      }
      case Block::Kind::list:
        out.append("\n");
        for (const auto& item : b.items) out.append("  - ").append(wrap(item, kTextWidth - 4, kTextWidth, 4)).append("\n");
        break;
      case Block::Kind::table: {
        const auto& t = b.table;
        std::vector<size_t> widths(t.header.size(), 0);
        auto measure = [&](const std::vector<std::string>& row) {
          for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
        };
        measure(t.header);
        for (const auto& r : t.rows) measure(r);
        size_t prefix = 2;
        for (size_t i = 0; i + 1 < widths.size(); ++i) prefix += widths[i] + 2;
        out.append("\n");
        if (prefix + 30 > kTextWidth) {
          // Too wide for columns: one record per row, the first cell as its title.
          for (const auto& r : t.rows) {
            out.append("  ").append(r[0]).append("\n");
            for (size_t i = 1; i < r.size(); ++i) {
              if (r[i].empty()) continue;
              std::string field = t.header[i] + ": " + r[i];
              out.append("      ").append(wrap(field, kTextWidth - 6, kTextWidth, 8)).append("\n");
            }
          }
          break;
        }
        // Columns; the last one wraps under itself.
        auto line = [&](const std::vector<std::string>& row) {
          std::string l = "  ";
          for (size_t i = 0; i < row.size(); ++i) {
            if (i + 1 == row.size()) l.append(wrap(row[i], kTextWidth - prefix, kTextWidth, prefix));
            else l.append(row[i]).append(widths[i] - row[i].size() + 2, ' ');
          }
          while (!l.empty() && l.back() == ' ') l.pop_back();
          return l + "\n";
        };
        out.append(line(t.header));
        for (const auto& r : t.rows) out.append(line(r));
        break;
      }
    }
  }
  return out;
}

std::string markdown_cell(const std::string& text, bool code) {
  std::string escaped;
  for (char c : text) {
    if (c == '|') escaped.push_back('\\');
    escaped.push_back(c);
  }
  if (!code || text.empty()) return escaped;
  return "`" + escaped + "`";
}

// level: the Markdown heading level of the page title.
std::string render_markdown(const Page& page, int level) {
  std::string out = std::string(static_cast<size_t>(level), '#') + " " + page.title + "\n";
  for (const auto& b : page.blocks) {
    out.append("\n");
    switch (b.kind) {
      case Block::Kind::heading:
        out.append(static_cast<size_t>(level + 1), '#').append(" ").append(b.text).append("\n");
        break;
      case Block::Kind::paragraph:
        out.append(b.text).append("\n");
        break;
      case Block::Kind::code:
        out.append("```\n").append(b.text).append("\n```\n");
        break;
      case Block::Kind::list:
        for (const auto& item : b.items) out.append("- ").append(item).append("\n");
        break;
      case Block::Kind::table: {
        const auto& t = b.table;
        auto row = [&](const std::vector<std::string>& cells, bool header) {
          std::string l = "|";
          for (size_t i = 0; i < cells.size(); ++i)
            l.append(" ").append(markdown_cell(cells[i], !header && i < t.code.size() && t.code[i])).append(" |");
          return l + "\n";
        };
        out.append(row(t.header, true));
        out.append("|");
        for (size_t i = 0; i < t.header.size(); ++i) out.append("---|");
        out.append("\n");
        for (const auto& r : t.rows) out.append(row(r, false));
        break;
      }
    }
  }
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& s : items) out.append(out.empty() ? "" : sep).append(s);
  return out;
}

// --- pages ---

Table options_table(const std::vector<OptionSpec>& options) {
  Table t{{"option", "value", "description"}, {true, true, false}, {}};
  for (const auto& o : options) {
    std::string name = o.short_name.empty() ? std::string(o.name) : std::string(o.short_name) + ", " + std::string(o.name);
    t.rows.push_back({name, std::string(o.value_name), std::string(o.help)});
  }
  return t;
}

// Topics worth reading next, per command.
struct RelatedRow {
  std::string_view command;
  std::string_view topics;
};
constexpr RelatedRow kRelated[] = {
    {"inspect", "'modelkit help resolution', 'modelkit help tasks', 'modelkit help model-types'"},
    {"config", "'modelkit help resolution', 'modelkit help calibration', 'modelkit help quantization'"},
    {"build", "'modelkit help resolution', 'modelkit help calibration', 'modelkit help quantization'"},
    {"quantize", "'modelkit help calibration', 'modelkit help quantization'"},
    {"export", "'modelkit help resolution', 'modelkit help tasks'"},
};

Page command_page(const Command& c) {
  auto syntax = c.syntax();
  Page p{"modelkit " + std::string(c.name), {}};
  std::string summary(c.summary);
  summary[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(summary[0])));
  p.paragraph(summary + ".").code(std::string(syntax.usage)).heading("Options").table(options_table(syntax.options));
  for (const auto& r : kRelated)
    if (r.command == c.name) p.paragraph("See also " + std::string(r.topics) + ".");
  return p;
}

Page commands_page() {
  Page p{"modelkit commands", {}};
  p.code("modelkit <command> [options]\nmodelkit <command> --help\nmodelkit help [TOPIC]\nmodelkit --version");
  Table t{{"command", "what it does"}, {true, false}, {}};
  for (const auto& c : commands()) t.rows.push_back({std::string(c.name), std::string(c.summary)});
  p.table(std::move(t));
  p.paragraph(
      "Exit codes: 0 success, 1 failure (the model or the data), 2 usage error (the command line). Errors are one "
      "line on stderr, naming the file or option at fault.");
  p.paragraph(
      "'modelkit --version' prints the modelkit version, the transformers and optimum commits the registry was "
      "generated from, the ONNX Runtime library in use and the ONNX Runtime API version modelkit was compiled "
      "against. Bash completion: source completions/modelkit.bash (installed to "
      "share/bash-completion/completions/modelkit).");
  return p;
}

std::string calibration_kind_of(std::string_view task) {
  auto kind = registry::calibration_kind_for_task(registry::find_task(task));
  return std::string(setting_name(kind.value_or(CalibrationKind::random)));
}

Page tasks_page() {
  auto tasks = registry::tasks();
  Page p{"modelkit tasks", {}};
  p.paragraph("modelkit knows " + std::to_string(tasks.size()) +
              " tasks. --task takes any of them, or one of optimum's synonyms (sequence-classification, masked-lm, "
              "causal-lm, ...), which it normalises; any other name is rejected with the nearest match. The optimum "
              "task is the name optimum's ONNX exporter uses for it; the calibration kind is the data 'build' and "
              "'quantize' calibrate on (see 'modelkit help calibration').");
  Table t{{"task", "optimum task", "calibration"}, {true, true, false}, {}};
  for (size_t i = 0; i < tasks.size(); ++i)
    t.rows.push_back({std::string(tasks[i]), std::string(registry::to_optimum_task(static_cast<registry::TaskId>(i))),
                      calibration_kind_of(tasks[i])});
  p.table(std::move(t));
  p.paragraph("'modelkit inspect --model-type T --list-tasks' lists the tasks a model type exports; "
              "'modelkit help model-types' lists them all.");

  p.heading("Model-id defaults");
  p.paragraph("A model id with a task of its own, whatever its config says (resolution stage 1a).");
  Table ids{{"model id", "task", "reason"}, {true, true, false}, {}};
  for (const auto& r : registry::model_id_defaults())
    ids.rows.push_back({std::string(r.model_id), std::string(registry::task_name(r.task)), std::string(r.reason)});
  p.table(std::move(ids));

  p.heading("Sentinel defaults");
  p.paragraph("The canonical export target of a multi-purpose model type (resolution stage 1a).");
  Table sentinels{{"model type", "task", "class", "reason"}, {true, true, true, false}, {}};
  for (const auto& r : registry::sentinels())
    sentinels.rows.push_back({std::string(r.model_type_key), std::string(registry::task_name(r.task)),
                              std::string(r.class_name), std::string(r.reason)});
  p.table(std::move(sentinels));

  p.heading("Class choices");
  p.paragraph("The class a (model type, task) pair loads when it differs from transformers' auto mapping "
              "(resolution stage 2). A class choice is not a default task.");
  Table choices{{"model type", "task", "class", "reason"}, {true, true, true, false}, {}};
  for (const auto& r : registry::class_choices())
    choices.rows.push_back({std::string(r.model_type_key), std::string(registry::task_name(r.task)),
                            std::string(r.class_name), std::string(r.reason)});
  p.table(std::move(choices));

  p.heading("Wrapped libraries");
  Table libs{{"library", "task", "exportable tasks", "reason"}, {true, true, false, false}, {}};
  for (std::string_view name : {"timm", "sentence-transformers"})
    if (const auto* r = registry::find_library(name))
      libs.rows.push_back({std::string(r->library), std::string(registry::task_name(r->task)),
                           std::string(r->exportable_tasks), std::string(r->reason)});
  p.table(std::move(libs));

  p.heading("Registry sources");
  std::vector<std::string> sources;
  for (auto s : registry::sources()) sources.emplace_back(s);
  p.paragraph("The registry tables were generated (scripts/gen_registry.py) from:").list(std::move(sources));
  return p;
}

// Resolution stages (docs/design.md, "Resolving the task"); the source names are TaskResolution::source.
struct StageRow {
  std::string_view stage, source, answers;
};
constexpr StageRow kStages[] = {
    {"0", "user-class",
     "--model-class names a known class; the task is --task, else the class's own; the class must serve it"},
    {"0", "user-task",
     "--task is given: the class is the class choice for (model type, task), else the auto-mapping class, else the "
     "architecture; no modality upgrade"},
    {"1a", "model-id-default", "the model id (from -m, the HF cache folder name or _name_or_path) has a project default"},
    {"1a", "sentinel-default", "the model type has a canonical export target"},
    {"1b", "wrapped-library", "timm (timm_wrapper without architectures, or a timm config) or a sentence-transformers folder"},
    {"1b", "model-type-default",
     "a model type without architectures (what --model-type T alone gives): its first ONNX-exportable task"},
    {"1c", "architecture",
     "architectures[0] (else the first known one) is a known class: the task of its table; pre-training and headless "
     "*Model classes give feature-extraction"},
    {"1c2", "remote-code",
     "config.json's auto_map has an AutoModelFor* entry targeting the architecture: the first task in optimum's "
     "loader order that lists it"},
    {"1d", "model-card", "the README's pipeline_tag is an exportable task of the model type"},
    {"1e", "unresolved",
     "nothing answered: inspect lists the candidate tasks; config, build and quantize stop and ask for --task"},
};

// Requests resolved live on the resolution page (no checkpoint needed); "" = not given.
struct ExampleRow {
  std::string_view model_type, model_class, task;
};
constexpr ExampleRow kResolutionExamples[] = {
    {"bert", "", ""},
    {"dinov2", "", ""},
    {"sam", "", ""},
    {"sam2_video", "", ""},
    {"vitpose", "", ""},
    {"timm_wrapper", "", ""},
    {"bert", "", "sequence-classification"},
    {"clip", "", "image-feature-extraction"},
    {"sam2", "", "feature-extraction"},
    {"", "Wav2Vec2ForCTC", ""},
    {"", "CLIPVisionModelWithProjection", ""},
};

ModelSpec example_spec(const ExampleRow& row) {
  auto given = [](std::string_view v) { return v.empty() ? std::nullopt : std::optional<std::string>(v); };
  return {std::nullopt, given(row.model_type), given(row.model_class), given(row.task)};
}

std::string request_text(const ModelSpec& s) {
  std::string out;
  auto add = [&](std::string_view flag, const std::optional<std::string>& v) {
    if (v) out.append(out.empty() ? "" : " ").append(flag).append(" ").append(*v);
  };
  add("--model-type", s.model_type);
  add("--model-class", s.model_class);
  add("--task", s.task);
  return out;
}

Page resolution_page() {
  Page p{"modelkit task resolution", {}};
  p.paragraph(
      "A checkpoint says what it is (config.json: model_type, architectures), not what it is for. modelkit decides "
      "the task with one resolver that inspect, config, build and quantize all call; the first stage that answers "
      "wins, and the answer records which stage it was (its source).");
  Table t{{"stage", "source", "answers when"}, {false, true, false}, {}};
  for (const auto& s : kStages) t.rows.push_back({std::string(s.stage), std::string(s.source), std::string(s.answers)});
  p.table(std::move(t));
  p.list({"Stage 2, the class (detection path): the class choice for (model type, task), else the architecture "
          "class when it serves the task, else the auto-mapping class.",
          "Stage 3, modality upgrade (detection path only): feature-extraction on a class whose main input is "
          "pixel_values becomes image-feature-extraction. Nothing else is upgraded.",
          "The optimum task is always to_optimum_task(task); the modality (text, image, audio, video, multimodal, "
          "unknown) is the class's main input, never a config field."});
  p.heading("Examples");
  p.paragraph("Resolved by this modelkit as you read this ('modelkit inspect' with the same options shows the same):");
  Table ex{{"request", "task", "optimum task", "source", "class"}, {true, true, true, true, true}, {}};
  for (const auto& row : kResolutionExamples) {
    auto spec = example_spec(row);
    auto model = resolve_model(spec, CacheLocation{});
    if (!model) {
      ex.rows.push_back({request_text(spec), "error: " + model.error().message, "", "", ""});
      continue;
    }
    const auto& r = model->resolution;
    ex.rows.push_back({request_text(spec), r.task.value_or("(unresolved)"), r.optimum_task.value_or(""), r.source,
                       r.model_class.value_or("")});
  }
  p.table(std::move(ex));
  p.paragraph("Project tables consulted by stages 1a, 1b and 2: 'modelkit help tasks'.");
  return p;
}

Page calibration_page() {
  Page p{"modelkit calibration", {}};
  p.paragraph(
      "Static quantization needs the range of every activation, so build and quantize first run the float model "
      "in ONNX Runtime on calibration samples, keeping running statistics only (min/max, histograms): memory stays "
      "bounded whatever the sample count. The task picks the kind of data.");
  std::map<std::string, std::vector<std::string>> by_kind;
  for (auto task : registry::tasks()) by_kind[calibration_kind_of(task)].emplace_back(task);
  Table kinds{{"kind", "tasks", "samples"}, {true, false, false}, {}};
  for (const auto& k : kCalibrationKinds) {
    const std::string name(k.name);
    std::string tasks = k.value == CalibrationKind::random
                            ? "the " + std::to_string(by_kind[name].size()) + " other tasks, and every fallback"
                            : join(by_kind[name], ", ");
    kinds.rows.push_back({name, tasks, std::string(k.help)});
  }
  p.table(std::move(kinds));
  p.heading("Fallback to random inputs");
  p.paragraph("Never silent: each is printed as a warning and recorded in the manifest with its reason. The random "
              "source is used when");
  p.list({"the task has no dataset kind;", "the chosen source cannot be built (no tokenizer, no images, unreadable data);",
          "the names it produces do not intersect the model's input names (a text source for an audio model). Inputs "
          "the model lacks are dropped; inputs the source lacks are filled with random ones."});
  p.heading("Data");
  p.list({"--calibration-data PATH: a .txt file (one sample per line), a .jsonl file with text / text_pair fields, "
          "a folder of images, or for audio a folder of .wav/.flac/.ogg/.mp3 files or a .txt list of their paths. "
          "Without it, an embedded default set of the right kind (audio: 22 short clips of synthesized speech in "
          "several languages and environmental sounds).",
          "Audio: decoded, mixed down to mono, resampled to the feature extractor's sampling_rate (from "
          "preprocessor_config.json: Wav2Vec2, Whisper, AST); models with a raw waveform input (input, audio, "
          "waveform, pcm, ...) get the samples at --sample-rate (default 16000), in pieces of the model's static "
          "length or of up to 5 s. Undecodable files are named and skipped.",
          "Sequence length: the ONNX input's static dimension, else --sequence-length.",
          "Random inputs: token ids below vocab_size, attention masks of ones, token types of zeros, pixel_values "
          "from N(0,1), audio as small noise (1 s for a raw waveform's free length); batch dims 1; seeded by --seed and "
          "recorded."});
  const CalibrationSettings defaults;
  p.heading("Defaults");
  Table d{{"setting", "default"}, {true, true}, {}};
  d.rows.push_back({"samples", std::to_string(defaults.samples)});
  d.rows.push_back({"sequence_length", std::to_string(defaults.sequence_length)});
  d.rows.push_back({"method", std::string(setting_name(defaults.method))});
  char percentile[32];
  std::snprintf(percentile, sizeof percentile, "%g", defaults.percentile);
  d.rows.push_back({"percentile", percentile});
  d.rows.push_back({"histogram_bins", std::to_string(defaults.histogram_bins)});
  d.rows.push_back({"seed", std::to_string(defaults.seed)});
  p.table(std::move(d));
  Table methods{{"method (--method)", "range"}, {true, false}, {}};
  for (const auto& m : kCalibrationMethods) methods.rows.push_back({std::string(m.name), std::string(m.help)});
  p.heading("Methods").table(std::move(methods));
  p.heading("Options (config, build, quantize)");
  p.table(options_table(calibration_options()));
  return p;
}

Page quantization_page() {
  Page p{"modelkit quantization", {}};
  p.paragraph(
      "Static QDQ quantization: QuantizeLinear/DequantizeLinear pairs around the quantized operators, which ONNX "
      "Runtime fuses into integer kernels. Weights are quantized offline; activations use the calibrated ranges.");
  const QuantizationSettings defaults;
  Table d{{"setting", "default"}, {true, true}, {}};
  d.rows.push_back({"format", defaults.format});
  d.rows.push_back({"activation_type", std::string(setting_name(defaults.activation_type)) + " (asymmetric)"});
  d.rows.push_back({"weight_type", std::string(setting_name(defaults.weight_type)) + " (symmetric)"});
  d.rows.push_back({"per_channel", defaults.per_channel ? "true" : "false"});
  p.heading("Defaults").table(std::move(d));
  Table types{{"type", "bits", "signed", "ai.onnx Q/DQ from opset", "meaning"}, {true, false, true, false, true}, {}};
  for (const auto& t : kQuantTypes)
    types.rows.push_back({std::string(t.name), std::to_string(t.bits), t.is_signed ? "yes" : "no",
                          std::to_string(t.min_opset), std::string(t.help)});
  p.heading("Types (--activation-type, --weight-type)").table(std::move(types));
  p.paragraph("Below a type's opset (and below 13 with --per-channel) the com.microsoft QuantizeLinear and "
              "DequantizeLinear, with the same meaning, are used. The model's opset is never changed.");
  p.heading("Operator types");
  p.paragraph("Supported op types: " + join(quant::supported_op_types(), ", ") + ".");
  p.paragraph("Without --op-types the graph decides: where MatMul/Gemm outnumber Conv (transformer encoders and "
              "decoders) only MatMul and Gemm are quantized, since Q/DQ around elementwise Add/Mul costs more "
              "than integer kernels save there; convolutional graphs quantize every supported op type. The "
              "manifest's op_type_policy records the choice and its reason.");
  p.heading("Rules");
  p.list({"A model that already holds QuantizeLinear/DequantizeLinear or integer operators is refused rather than "
          "quantized twice.",
          "--exclude-nodes NAME|REGEX leaves matching nodes in float: an exact node name, or an RE2 regular "
          "expression matching the whole name (linear time, so no pattern can hang a build); every name or op type "
          "the user names that matches nothing is a warning, and options that leave nothing to quantize are refused.",
          "Validation runs the float and the quantized model on held-back samples and reports per output the cosine "
          "similarity (pooled and per sample), relative L2 error, SQNR and absolute errors; an output warns below "
          "a per-sample cosine of 0.99 or 27 dB SQNR, or when the samples cannot tell (docs/validation.md).",
          "Models over 2 GiB: weights read from and written to external data.",
          "Output: written to a temporary folder, then renamed; an existing output is kept unless --force."});
  p.heading("Options (build, quantize)");
  p.table(options_table(pipeline_options()));
  return p;
}

Page model_types_page() {
  Page p{"modelkit model types", {}};
  auto rows = known_model_types();
  p.paragraph("The " + std::to_string(rows.size()) +
              " model types of the registry (config.json's model_type; --model-type takes them) and the tasks "
              "optimum's ONNX exporter registers for each ('-with-past' variants shown, though they are not tasks). "
              "A type without exportable tasks is known to transformers but has no ONNX export config.");
  Table t{{"model type", "exportable tasks"}, {true, false}, {}};
  for (const auto& r : rows) {
    std::string tasks(r.exportable_tasks);
    std::replace(tasks.begin(), tasks.end(), ',', ' ');
    t.rows.push_back({std::string(r.name), tasks.empty() ? "-" : tasks});
  }
  p.table(std::move(t));
  return p;
}

struct TopicRow {
  std::string_view name;
  std::string_view summary;
  Page (*page)();
};
constexpr TopicRow kTopics[] = {
    {"commands", "the commands, exit codes, versions and completion", commands_page},
    {"tasks", "the tasks with their optimum names and calibration kinds; the project's tables", tasks_page},
    {"resolution", "how modelkit decides a model's task: the stages and their source names", resolution_page},
    {"calibration", "calibration data kinds, fallbacks, defaults and options", calibration_page},
    {"quantization", "QDQ quantization: types, operator types, defaults and options", quantization_page},
    {"model-types", "every model type the registry knows and its exportable tasks", model_types_page},
};

std::optional<Page> page_for(std::string_view topic) {
  for (const auto& c : commands())
    if (c.name == topic) return command_page(c);
  for (const auto& t : kTopics)
    if (t.name == topic) return t.page();
  return std::nullopt;
}

// Markdown documents under docs/: pages in order, the first page's title the document's.
struct DocumentRow {
  std::string_view name;
  std::string_view title;
  std::vector<std::string_view> topics;  // "*commands": every command page
};
const std::vector<DocumentRow>& documents() {
  static const std::vector<DocumentRow> docs = {
      {"cli", "modelkit command line", {"commands", "*commands", "calibration", "quantization"}},
      {"tasks", "modelkit tasks and task resolution", {"tasks", "resolution"}},
      {"model-types", "modelkit model types", {"model-types"}},
  };
  return docs;
}

std::string render_document(const DocumentRow& doc) {
  std::string out = "<!-- Generated by scripts/gen_docs.sh ('modelkit help --doc " + std::string(doc.name) +
                    "') from modelkit's own tables. Do not edit; run scripts/gen_docs.sh. -->\n# " +
                    std::string(doc.title) + "\n";
  for (auto topic : doc.topics) {
    std::vector<Page> pages;
    if (topic == "*commands") {
      for (const auto& c : commands()) pages.push_back(command_page(c));
    } else if (auto page = page_for(topic)) {
      pages.push_back(std::move(*page));
    }
    for (const auto& page : pages) out.append("\n").append(render_markdown(page, 2));
  }
  return out;
}

std::string topic_list() {
  std::string out = "usage: modelkit help TOPIC\n\ntopics:\n";
  for (const auto& t : help_topics()) {
    std::string name(t.name);
    name.resize(std::max<size_t>(name.size() + 2, 14), ' ');
    out.append("  ").append(name).append(t.summary).append("\n");
  }
  return out;
}

std::string topic_names() {
  std::string out;
  for (const auto& t : help_topics()) out.append(out.empty() ? "" : ", ").append(t.name);
  return out;
}

}  // namespace

std::vector<HelpTopic> help_topics() {
  std::vector<HelpTopic> out;
  for (const auto& c : commands()) out.push_back({c.name, c.summary});
  for (const auto& t : kTopics) out.push_back({t.name, t.summary});
  return out;
}

std::string version_text() {
  std::string out = version_report() + "\n";
  auto ort = runtime::onnxruntime_version();  // loads it: "unavailable (why)" when it cannot
  out += "onnxruntime " + ort + (ort.starts_with("unavailable") ? "\n" : " (library in use)\n");
  out += "onnxruntime API " + runtime::onnxruntime_header_version() + " (headers modelkit was built against)\n";
  return out;
}

Result<void> run_help(std::span<char* const> args) {
  if (args.empty()) {
    std::fputs(topic_list().c_str(), stdout);
    return {};
  }
  std::string_view first = args[0];
  if (first == "--bash-completion" && args.size() == 1) {
    std::fputs(bash_completion_script().c_str(), stdout);
    return {};
  }
  if (first == "--doc" && args.size() == 2) {
    std::string_view name = args[1];
    std::string names;
    for (const auto& doc : documents()) {
      if (doc.name == name) {
        std::fputs(render_document(doc).c_str(), stdout);
        return {};
      }
      names.append(names.empty() ? "" : ", ").append(doc.name);
    }
    return usage_error("unknown document '" + std::string(name) + "' (documents: " + names + ")");
  }
  if (first == "--markdown" && args.size() == 2) {
    auto page = page_for(args[1]);
    if (!page) return usage_error("unknown help topic '" + std::string(args[1]) + "' (topics: " + topic_names() + ")");
    std::fputs(render_markdown(*page, 1).c_str(), stdout);
    return {};
  }
  if (first == "--help" || first == "-h") {
    std::fputs(topic_list().c_str(), stdout);
    return {};
  }
  if (args.size() > 1)
    return usage_error("'modelkit help' takes one topic, got '" + std::string(args[1]) + "' after '" +
                       std::string(first) + "'");
  auto page = page_for(first);
  if (!page) return usage_error("unknown help topic '" + std::string(first) + "' (topics: " + topic_names() + ")");
  std::fputs(render_text(*page).c_str(), stdout);
  return {};
}

}  // namespace modelkit::cli
