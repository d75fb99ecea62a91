// modelkit run: one input through a model and the answer by task (infer::run_model; run.hpp).
#include "cli.hpp"

#include <modelkit/run.hpp>

#include <cstdio>

namespace modelkit::cli {
namespace {

constexpr OptionSpec kRunOptions[] = {
    {"--model", "-m", "PATH|MODEL_ID", "a built folder, a checkpoint folder (its ONNX, else exported natively), an .onnx file, or a model id in the HF cache"},
    {"--task", "", "TASK", "the task (synonyms accepted); overrides the manifest and detection"},
    {"--config", "", "PATH", "with an .onnx file: the config.json or checkpoint folder (tokenizer, labels) it came from"},
    {"--text", "", "TEXT", "text input (the question for question answering)"},
    {"--pair", "", "TEXT", "second text (the context for question answering)"},
    {"--image", "", "FILE", "an image file (JPEG or PNG)"},
    {"--audio", "", "FILE", "an audio file (.wav, .flac, .mp3, .ogg)"},
    {"--input", "", "NAME=FILE.npy", "a raw input tensor from a .npy file (repeatable)"},
    {"--labels", "", "A,B,C", "with --image on a CLIP/SigLIP model: zero-shot image classification over these labels"},
    {"--top-k", "", "N", "answers to show (default 5)"},
    {"--pooling", "", "auto|mean|cls|none", "feature extraction pooling (default auto)"},
    {"--save-outputs", "", "DIR", "write every output as DIR/NAME.npy"},
    {"--threads", "", "N", "ONNX Runtime intra-op threads (0 or absent: ONNX Runtime's choice)"},
    {"--format", "", "table|json", "output format (default table)"},
    {"--help", "-h", "", "show this help"},
};

}  // namespace

CommandSyntax run_syntax() {
  return {"modelkit run -m MODEL (--text T [--pair P] | --image FILE [--labels A,B,C] | --audio FILE | --input NAME=FILE.npy ...) "
          "[--task T] [--config PATH] [--top-k N] [--pooling P] [--save-outputs DIR] [--format table|json]",
          {std::begin(kRunOptions), std::end(kRunOptions)}};
}

Result<void> run_run(std::span<char* const> argv) {
  const auto syntax = run_syntax();
  MODELKIT_TRY(auto args, parse_args("run", argv, syntax.options));
  if (args.has("--help")) {
    std::fputs(format_help(syntax.usage, syntax.options).c_str(), stdout);
    return {};
  }
  MODELKIT_TRY_VOID(no_positional("run", args));
  MODELKIT_TRY(auto format, format_from(args));
  infer::RunRequest req;
  MODELKIT_TRY(req.spec, model_spec_from(args));
  if (!req.spec.model) return usage_error("'modelkit run' needs a model (-m PATH)");
  if (auto c = args.value("--config")) req.config = *c;
  req.text = args.value("--text");
  req.pair = args.value("--pair");
  if (auto v = args.value("--image")) req.image = *v;
  if (auto v = args.value("--audio")) req.audio = *v;
  for (const auto& v : args.values("--input")) {
    auto eq = v.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == v.size())
      return usage_error("option '--input': expected NAME=FILE.npy, got '" + v + "'");
    req.npy_inputs.emplace_back(v.substr(0, eq), v.substr(eq + 1));
  }
  if (auto v = args.value("--labels")) {
    MODELKIT_TRY(req.labels, infer::parse_candidate_labels(*v));
  }
  if (auto v = args.value("--top-k")) {
    MODELKIT_TRY(auto k, parse_int_option("--top-k", *v, 1, 1000000));
    req.top_k = static_cast<std::size_t>(k);
  }
  if (auto v = args.value("--pooling")) {
    MODELKIT_TRY(req.pooling, parse_option_setting<Pooling>("--pooling", *v));
  }
  if (auto v = args.value("--save-outputs")) req.save_outputs = *v;
  MODELKIT_TRY(req.threads, threads_option(args));
  MODELKIT_TRY(auto result, infer::run_model(req));
  auto text = format == OutputFormat::json ? infer::run_result_json(result) : infer::run_result_text(result);
  std::fputs(text.c_str(), stdout);
  return {};
}

}  // namespace modelkit::cli
