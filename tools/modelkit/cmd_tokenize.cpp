// modelkit tokenize: runs a checkpoint's tokenizer.json on text and prints ids and tokens.
#include "cli.hpp"

#include <modelkit/tokenizer.hpp>

#include <util/file.hpp>
#include <util/json_writer.hpp>

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

void print_json(const tokenizer::Encoding& e) {
  std::string out = "{\"ids\": [";
  for (std::size_t i = 0; i < e.ids.size(); ++i) out += (i ? ", " : "") + std::to_string(e.ids[i]);
  out += "], \"tokens\": [";
  for (std::size_t i = 0; i < e.tokens.size(); ++i) {
    if (i) out += ", ";
    util::append_json_string(out, e.tokens[i]);
  }
  out += "]}\n";
  std::fputs(out.c_str(), stdout);
}

void print_table(const tokenizer::Encoding& e, std::size_t input) {
  std::printf("input %zu: %zu tokens\n", input, e.ids.size());
  std::printf("%6s  %8s  %4s  %s\n", "index", "id", "type", "token");
  for (std::size_t i = 0; i < e.ids.size(); ++i) {
    std::string shown;
    util::append_json_string(shown, e.tokens[i]);
    std::printf("%6zu  %8u  %4u  %s\n", i, e.ids[i], e.type_ids[i], shown.c_str());
  }
}

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

  auto print = [&](const tokenizer::Encoding& e, std::size_t index) {
    if (format_name == "json") print_json(e);
    else print_table(e, index);
  };
  if (text) {
    std::optional<std::string_view> second;
    if (pair) second = *pair;
    auto enc = tok->encode(*text, second, add_special);
    if (!enc) return enc.take_error().with_context("--text");
    print(*enc, 0);
    return {};
  }
  // Line by line: memory stays bounded by one line, whatever the file's size.
  MODELKIT_TRY(auto lines, util::LineReader::open(*file));
  for (std::size_t index = 0;; ++index) {
    MODELKIT_TRY(auto line, lines.next(tokenizer::kMaxTextBytes));
    if (!line) break;
    const std::string where = *file + ": line " + std::to_string(line->number);
    if (line->cut())
      return failure(where + ": " + std::to_string(line->full_bytes) + " bytes, more than the " +
                     std::to_string(tokenizer::kMaxTextBytes) + " one encoding takes; split the line");
    auto enc = tok->encode(line->text, std::nullopt, add_special);
    if (!enc) return enc.take_error().with_context(where);
    print(*enc, index);
  }
  return {};
}

}  // namespace modelkit::cli
