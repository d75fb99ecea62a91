#include "cli.hpp"

#include <modelkit/checkpoint.hpp>
#include <modelkit/registry.hpp>
#include <modelkit/settings.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace modelkit::cli {

std::optional<std::string> ParsedArgs::value(std::string_view name) const {
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it)
    if (it->first == name) return it->second;
  return std::nullopt;
}

std::vector<std::string> ParsedArgs::values(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : entries_)
    if (k == name) out.push_back(v);
  return out;
}

bool ParsedArgs::has(std::string_view name) const {
  for (const auto& e : entries_)
    if (e.first == name) return true;
  return false;
}

Result<ParsedArgs> parse_args(std::string_view command, std::span<char* const> args,
                              std::span<const OptionSpec> options) {
  ParsedArgs parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg.size() < 2 || arg[0] != '-' || arg == "--") {
      if (arg == "--") {
        for (++i; i < args.size(); ++i) parsed.positional.emplace_back(args[i]);
        break;
      }
      parsed.positional.emplace_back(arg);
      continue;
    }
    std::string_view name = arg;
    std::optional<std::string_view> inline_value;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      inline_value = arg.substr(eq + 1);
    }
    const OptionSpec* spec = nullptr;
    for (const auto& o : options)
      if (o.name == name || (!o.short_name.empty() && o.short_name == name)) spec = &o;
    if (spec == nullptr) {
      // The closest option name, when it is close enough to be a typo.
      std::vector<std::string_view> names;
      for (const auto& o : options) names.push_back(o.name);
      const auto best = closest_name(names, name);
      std::string hint = best.empty() ? "" : "did you mean " + quoted(best) + "? ";
      return usage_error("unknown option '" + std::string(name) + "' for 'modelkit " + std::string(command) + "' (" +
                         hint + "see 'modelkit " + std::string(command) + " --help')");
    }
    if (spec->value_name.empty()) {
      if (inline_value) return usage_error("option '" + std::string(spec->name) + "' takes no value");
      parsed.add(spec->name, "");
      continue;
    }
    std::optional<std::string_view> value = inline_value;
    if (!value && i + 1 < args.size()) value = args[++i];
    // An empty path ("-o ''", often an unset shell variable) is refused before any work.
    if (value && value->empty() &&
        (spec->value_name.find("PATH") != std::string_view::npos || spec->value_name.find("FILE") != std::string_view::npos ||
         spec->value_name.find("DIR") != std::string_view::npos))
      return usage_error("option '" + std::string(spec->name) + "' needs a non-empty " + std::string(spec->value_name));
    if (value) {
      parsed.add(spec->name, std::string(*value));
    } else {
      return usage_error("option '" + std::string(spec->name) + "' needs a value (" +
                         std::string(spec->value_name) + ")");
    }
  }
  return parsed;
}

Result<long long> parse_int_option(std::string_view option, const std::string& text, long long min,
                                   long long max) {
  long long v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v < min || v > max)
    return usage_error("option '" + std::string(option) + "': expected an integer from " + std::to_string(min) +
                       " to " + std::to_string(max) + ", got '" + text + "'");
  return v;
}

Result<std::filesystem::path> path_or_model_id(const std::string& given) {
  std::error_code ec;
  if (std::filesystem::exists(given, ec)) return std::filesystem::path(given);
  MODELKIT_TRY(auto source, locate_model(given, CacheLocation::from_environment()));
  if (source.onnx_path) return *source.onnx_path;
  return source.folder;
}

Result<int> threads_option(const ParsedArgs& args) {
  auto v = args.value("--threads");
  if (!v) return 0;
  MODELKIT_TRY(auto n, parse_int_option("--threads", *v, 0, kMaxThreads));
  return static_cast<int>(n);
}

std::string format_help(std::string_view usage, std::span<const OptionSpec> options) {
  std::string out = "usage: ";
  out.append(usage).append("\n\noptions:\n");
  for (const auto& o : options) {
    std::string left = "  ";
    if (!o.short_name.empty()) left.append(o.short_name).append(", ");
    left.append(o.name);
    if (!o.value_name.empty()) left.append(" ").append(o.value_name);
    if (left.size() < 30) left.resize(30, ' ');
    else left.append("  ");
    out.append(left).append(o.help).append("\n");
  }
  return out;
}

Result<ModelSpec> model_spec_from(const ParsedArgs& args) {
  ModelSpec spec;
  spec.model = args.value("--model");
  spec.model_type = args.value("--model-type");
  spec.model_class = args.value("--model-class");
  spec.task = args.value("--task");
  if (spec.task) {
    auto task = registry::parse_task(*spec.task);
    if (!task) return task.take_error();
  }
  if (spec.model_type && spec.model_class)
    return usage_error("--model-type and --model-class name the model twice; give one");
  if (spec.model && spec.model_class)
    return usage_error("-m and --model-class name the model twice; give one");
  return spec;
}

Result<OutputFormat> format_from(const ParsedArgs& args) {
  return parse_output_format(args.value("--format").value_or("table"));
}

Result<void> no_positional(std::string_view command, const ParsedArgs& args) {
  if (args.positional.empty()) return {};
  return usage_error("unexpected argument '" + args.positional.front() + "' for 'modelkit " + std::string(command) +
                     "' (models are named with -m)");
}

}  // namespace modelkit::cli
