// The CLI's shared pieces: the option table type, the parser, and the command
// signature. Commands print their own output to stdout; errors travel back to
// main as Result, which prints them (one line, to stderr) and picks the exit code.
#pragma once

#include <modelkit/model.hpp>
#include <modelkit/plan.hpp>
#include <modelkit/registry.hpp>
#include <modelkit/result.hpp>

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace modelkit::cli {

struct OptionSpec {
  std::string_view name;        // "--model", long form
  std::string_view short_name;  // "-m" or ""
  std::string_view value_name;  // "" for a flag, else e.g. "PATH"
  std::string_view help;
};

class ParsedArgs {
 public:
  // Last value given for an option (options may repeat; later wins).
  [[nodiscard]] std::optional<std::string> value(std::string_view name) const;
  // Every value given for a repeatable option, in order.
  [[nodiscard]] std::vector<std::string> values(std::string_view name) const;
  [[nodiscard]] bool has(std::string_view name) const;
  std::vector<std::string> positional;

  void add(std::string_view name, std::string value) { entries_.emplace_back(std::string(name), std::move(value)); }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

// Parses args (argv after the command name). Unknown options and missing values
// are usage errors that name the command and the option.
[[nodiscard]] Result<ParsedArgs> parse_args(std::string_view command, std::span<char* const> args,
                                            std::span<const OptionSpec> options);

// Parses an integer option value, naming the option in the error.
[[nodiscard]] Result<long long> parse_int_option(std::string_view option, const std::string& text,
                                                 long long min, long long max);

// What -m names for commands that read files from a checkpoint (tokenize, perf): an existing
// path as it is, else a model id looked up in the Hugging Face cache like every other command.
[[nodiscard]] Result<std::filesystem::path> path_or_model_id(const std::string& given);

// --threads, parsed the same way by every command: 0 (or absent) lets ONNX Runtime choose,
// else 1 to kMaxThreads intra-op threads.
inline constexpr long long kMaxThreads = 1024;
[[nodiscard]] Result<int> threads_option(const ParsedArgs& args);

// "Usage: modelkit CMD ...\n\nOptions:\n..." text for --help.
[[nodiscard]] std::string format_help(std::string_view usage, std::span<const OptionSpec> options);

// The options that name a model, shared by inspect, config and build.
inline constexpr OptionSpec kModelOptions[] = {
    {"--model", "-m", "PATH|MODEL_ID", "checkpoint folder, config.json, .onnx file, or model id in the HF cache"},
    {"--model-type", "", "TYPE", "a model_type (alone: its default config)"},
    {"--model-class", "", "CLASS", "a transformers class name"},
    {"--task", "", "TASK", "the task (synonyms accepted); overrides detection"},
};

// ModelSpec from the model options; --task is validated here (parse time).
[[nodiscard]] Result<ModelSpec> model_spec_from(const ParsedArgs& args);
[[nodiscard]] Result<OutputFormat> format_from(const ParsedArgs& args);
// Rejects stray positional arguments.
[[nodiscard]] Result<void> no_positional(std::string_view command, const ParsedArgs& args);

// The stop signal (SIGINT, SIGTERM, SIGHUP) a build received, 0 when none: main exits 128 + it.
[[nodiscard]] int stop_signal();

using CommandFn = Result<void> (*)(std::span<char* const> args);

// A command's usage line and option table: what it parses, and what its --help, 'modelkit help',
// the bash completion and docs/cli.md are generated from.
struct CommandSyntax {
  std::string_view usage;
  std::vector<OptionSpec> options;
};
using SyntaxFn = CommandSyntax (*)();

struct Command {
  std::string_view name;
  std::string_view summary;
  CommandFn run;
  SyntaxFn syntax;
};

// The command table, in the order 'modelkit --help' lists it (main.cpp).
[[nodiscard]] std::span<const Command> commands();

// 'modelkit help [TOPIC]' (help.cpp). Hidden forms for scripts/gen_docs.sh: --markdown TOPIC
// (one page), --doc NAME (docs/NAME.md), --bash-completion (completions/modelkit.bash).
Result<void> run_help(std::span<char* const> args);
// The text of 'modelkit --version': modelkit, the registry's sources, ONNX Runtime.
[[nodiscard]] std::string version_text();

// Commands, one per file (cmd_<name>.cpp).
Result<void> run_inspect(std::span<char* const> args);
Result<void> run_config(std::span<char* const> args);
Result<void> run_build(std::span<char* const> args);
Result<void> run_tokenize(std::span<char* const> args);
Result<void> run_perf(std::span<char* const> args);
Result<void> run_quantize(std::span<char* const> args);
Result<void> run_export(std::span<char* const> args);
Result<void> run_run(std::span<char* const> args);
Result<void> run_eval(std::span<char* const> args);
CommandSyntax inspect_syntax();
CommandSyntax config_syntax();
CommandSyntax build_syntax();
CommandSyntax tokenize_syntax();
CommandSyntax perf_syntax();
CommandSyntax quantize_syntax();
CommandSyntax export_syntax();
CommandSyntax run_syntax();
CommandSyntax eval_syntax();
// The option groups several commands share (cmd_config.cpp, build_events.hpp).
std::vector<OptionSpec> calibration_options();
// The image pre-processing flags (--image-input, --layout, --image-mean, --image-std, --rescale,
// --bgr, --resize-mode) of quantize, build, config, run and eval, and their one parser
// (image_options.cpp): each flag given sets its field of `image`.
std::vector<OptionSpec> image_preprocessing_options();
[[nodiscard]] Result<void> apply_image_options(const ParsedArgs& args, ImageSettings& image);
// A number option within [min, max], naming the option in the error.
[[nodiscard]] Result<double> parse_double_option(std::string_view option, const std::string& text, double min,
                                                 double max);

}  // namespace modelkit::cli
