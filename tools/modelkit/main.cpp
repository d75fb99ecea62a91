// modelkit: the command-line client of the modelkit library. Only this file
// prints errors and picks exit codes (0 ok, 1 failure, 2 usage).
#include "cli.hpp"

#include <modelkit/version.hpp>

#include <array>
#include <cstdio>
#include <string>

namespace {

using modelkit::cli::Command;

constexpr std::array kCommands = {
    Command{"inspect", "show what a checkpoint or ONNX model is and what modelkit resolves for it",
            modelkit::cli::run_inspect},
    Command{"config", "write the build config that 'build -c' replays", modelkit::cli::run_config},
    Command{"build", "resolve, calibrate, quantize, validate and write a deployable model",
            modelkit::cli::run_build},
    Command{"quantize", "statically quantize a bare ONNX model (QDQ) with calibration and validation",
            modelkit::cli::run_quantize},
    Command{"perf", "measure an ONNX model's latency, throughput, load time and memory in ONNX Runtime",
            modelkit::cli::run_perf},
    Command{"tokenize", "run a checkpoint's tokenizer.json on text and print ids and tokens",
            modelkit::cli::run_tokenize},
};

void print_usage(std::FILE* to) {
  std::fprintf(to, "usage: modelkit <command> [options]\n\ncommands:\n");
  for (const auto& c : kCommands)
    std::fprintf(to, "  %-10s %.*s\n", std::string(c.name).c_str(), static_cast<int>(c.summary.size()),
                 c.summary.data());
  std::fprintf(to, "\n'modelkit <command> --help' shows a command's options; 'modelkit --version' the versions.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(stdout);
    return 0;
  }
  if (name == "--version") {
    std::printf("%s\n", modelkit::version_report().c_str());
    return 0;
  }
  for (const auto& c : kCommands) {
    if (c.name != name) continue;
    auto result = c.run(std::span<char* const>(argv + 2, static_cast<size_t>(argc - 2)));
    std::fflush(stdout);
    if (result.ok()) return 0;
    std::fprintf(stderr, "modelkit %s: %s\n", argv[1], result.error().message.c_str());
    return result.error().exit_code();
  }
  std::fprintf(stderr, "modelkit: unknown command '%s' (commands: ", argv[1]);
  for (size_t i = 0; i < kCommands.size(); ++i)
    std::fprintf(stderr, "%s%s", i ? ", " : "", std::string(kCommands[i].name).c_str());
  std::fprintf(stderr, ")\n");
  return 2;
}
