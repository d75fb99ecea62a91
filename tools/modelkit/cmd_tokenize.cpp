// modelkit tokenize: runs a checkpoint's tokenizer.json on text and prints ids and tokens.
#include "cli.hpp"

#include <modelkit/tokenizer.hpp>


#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace modelkit::cli {
namespace {

constexpr OptionSpec kTokenizeOptions[] = {
    {"--model", "-m", "PATH|MODEL_ID", "folder holding tokenizer.json, a tokenizer.json file, or a model id in the HF cache"},
    {"--text", "", "TEXT", "the text to encode"},
    {"--pair", "", "TEXT", "a second sequence, encoded as a pair with --text"},
    {"--file", "", "PATH", "encode each line of a UTF-8 text file"},
    {"--no-special-tokens", "", "", "do not add the post-processor's special tokens"},
    {"--format", "", "json|table", "output format (default json: one object per input)"},
    {"--help", "-h", "", "show this help"},
};

}  // namespace

CommandSyntax tokenize_syntax() {
  return {"modelkit tokenize -m CHECKPOINT (--text T [--pair P] | --file F) [--no-special-tokens] "
          "[--format json|table]",
          {std::begin(kTokenizeOptions), std::end(kTokenizeOptions)}};
}

Result<void> run_tokenize(std::span<char* const> argv) {
  const auto syntax = tokenize_syntax();
  auto args = parse_args("tokenize", argv, syntax.options);
  if (!args) return args.take_error();
  if (args->has("--help")) {
    std::fputs(format_help(syntax.usage, syntax.options).c_str(), stdout);
    return {};
  }
  MODELKIT_TRY_VOID(no_positional("tokenize", *args));
  auto model = args->value("--model");
  if (!model) return usage_error("'modelkit tokenize' needs -m CHECKPOINT (a folder with tokenizer.json, or the file)");
  auto text = args->value("--text");
  auto file = args->value("--file");
  auto pair = args->value("--pair");
  if (text.has_value() == file.has_value()) return usage_error("give exactly one of --text and --file");
  if (pair && file) return usage_error("--pair goes with --text, not with --file");
  std::string format_name = args->value("--format").value_or("json");
  if (format_name != "json" && format_name != "table")
    return usage_error("option '--format': expected json or table, got '" + format_name + "'");
  const bool add_special = !args->has("--no-special-tokens");

  MODELKIT_TRY(auto model_path, path_or_model_id(*model));
  auto tok = tokenizer::Tokenizer::from_file(model_path);
  if (!tok) return tok.take_error();

  auto print = [&](const tokenizer::Encoding& e, std::size_t index) -> Result<void> {
    auto out = format_name == "json" ? tokenizer::encoding_json_line(e) : tokenizer::encoding_table(e, index);
    std::fputs(out.c_str(), stdout);
    return {};
  };
  if (text) {
    std::optional<std::string_view> second;
    if (pair) second = *pair;
    auto enc = tok->encode(*text, second, add_special);
    if (!enc) return enc.take_error().with_context("--text");
    return print(*enc, 0);
  }
  // A line at a time: memory follows one line, whatever the file's size.
  MODELKIT_TRY_VOID(tokenizer::encode_file_lines(*tok, *file, add_special, print));
  return {};
}

}  // namespace modelkit::cli
