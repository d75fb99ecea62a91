// modelkit: the command-line client of the modelkit library. Only this file
// prints errors and picks exit codes (0 ok, 1 failure, 2 usage).
#include "cli.hpp"

#include <array>
#include <cstdio>
#include <string>

namespace modelkit::cli {
namespace {

constexpr std::array kCommands = {
    Command{"inspect", "show what a checkpoint or ONNX model is and what modelkit resolves for it", run_inspect,
            inspect_syntax},
    Command{"config", "write the build config that 'build -c' replays", run_config, config_syntax},
    Command{"export", "write an ONNX model natively from a checkpoint's safetensors (or random weights)", run_export,
            export_syntax},
    Command{"build", "resolve, calibrate, quantize, validate and write a deployable model", run_build, build_syntax},
    Command{"quantize", "statically quantize a bare ONNX model (QDQ) with calibration and validation", run_quantize,
            quantize_syntax},
    Command{"perf", "measure an ONNX model's latency, throughput, load time and memory in ONNX Runtime", run_perf,
            perf_syntax},
    Command{"tokenize", "run a checkpoint's tokenizer.json on text and print ids and tokens", run_tokenize,
            tokenize_syntax},
    Command{"run", "run a model on text, an image, audio or .npy tensors and print the answer by task", run_run,
            run_syntax},
    Command{"eval", "measure a model on a data set (accuracy, macro-F1) or against another model (agreement, KL)",
            run_eval, eval_syntax},
};

}  // namespace

std::span<const Command> commands() { return kCommands; }

}  // namespace modelkit::cli

namespace {

using modelkit::cli::commands;

void print_usage(std::FILE* to) {
  std::fprintf(to, "usage: modelkit <command> [options]\n\ncommands:\n");
  for (const auto& c : commands())
    std::fprintf(to, "  %-10s %.*s\n", std::string(c.name).c_str(), static_cast<int>(c.summary.size()),
                 c.summary.data());
  std::fprintf(to,
               "\n'modelkit <command> --help' shows a command's options, 'modelkit help' the help topics, "
               "'modelkit --version' the versions.\n");
}

int report(std::string_view command, const modelkit::Result<void>& result) {
  std::fflush(stdout);
  if (result.ok()) return 0;
  std::fprintf(stderr, "modelkit %.*s: %s\n", static_cast<int>(command.size()), command.data(),
               result.error().message.c_str());
  // Stopped by a signal: the shell's convention, 128 + its number (130 for Ctrl-C).
  if (int sig = modelkit::cli::stop_signal(); sig != 0) return 128 + sig;
  return result.error().exit_code();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  std::string_view name = argv[1];
  auto rest = std::span<char* const>(argv + 2, static_cast<size_t>(argc - 2));
  if (name == "--help" || name == "-h") {
    print_usage(stdout);
    return 0;
  }
  if (name == "help") return report("help", modelkit::cli::run_help(rest));
  if (name == "--version") {
    std::fputs(modelkit::cli::version_text().c_str(), stdout);
    return 0;
  }
  for (const auto& c : commands())
    if (c.name == name) return report(c.name, c.run(rest));
  std::fprintf(stderr, "modelkit: unknown command '%s' (commands: ", argv[1]);
  for (size_t i = 0; i < commands().size(); ++i)
    std::fprintf(stderr, "%s%s", i ? ", " : "", std::string(commands()[i].name).c_str());
  std::fprintf(stderr, ")\n");
  return 2;
}
