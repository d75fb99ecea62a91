// The image pre-processing flags quantize, build, config, run and eval share, and their parser.
#include "cli.hpp"

#include <cmath>
#include <cstdlib>

namespace modelkit::cli {

namespace {

// Value lists of the options, from the settings tables.
const std::string kLayoutValues = setting_list<ImageLayout>("|");
const std::string kResizeModeValues = setting_list<ResizeMode>("|");

// "0.5,0.5,0.5" -> three numbers.
Result<std::vector<double>> parse_triple(std::string_view option, const std::string& text) {
  std::vector<double> out;
  std::string_view rest = text;
  while (true) {
    auto comma = rest.find(',');
    std::string item(rest.substr(0, comma));
    char* end = nullptr;
    double v = std::strtod(item.c_str(), &end);
    if (item.empty() || end != item.c_str() + item.size() || !std::isfinite(v))
      return usage_error("option '" + std::string(option) + "': expected three numbers R,G,B, got '" + text + "'");
    out.push_back(v);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (out.size() != 3)
    return usage_error("option '" + std::string(option) + "': expected three numbers R,G,B, got '" + text + "'");
  return out;
}

}  // namespace

std::vector<OptionSpec> image_preprocessing_options() {
  return {
      {"--image-input", "", "NAME", "the input images feed (default pixel_values, else the input shaped like an image)"},
      {"--layout", "", kLayoutValues, "channel order of the image input (default: from its shape)"},
      {"--image-mean", "", "R,G,B", "normalisation mean (default preprocessor_config.json, else 0,0,0)"},
      {"--image-std", "", "R,G,B", "normalisation std (default preprocessor_config.json, else 1,1,1)"},
      {"--rescale", "", "F", "factor applied to 0..255 pixels before normalising (default 1/255)"},
      {"--bgr", "", "", "feed channels in B,G,R order"},
      {"--resize-mode", "", kResizeModeValues, "without preprocessor_config.json: stretch to the input's size (default) "
                                            "or resize the short edge and crop the centre"},
  };
}

Result<void> apply_image_options(const ParsedArgs& args, ImageSettings& image) {
  auto& img = image;
  if (auto v = args.value("--image-input")) img.input = *v;
  if (auto v = args.value("--layout")) {
    MODELKIT_TRY(img.layout, parse_option_setting<ImageLayout>("--layout", *v));
  }
  if (auto v = args.value("--resize-mode")) {
    MODELKIT_TRY(img.resize_mode, parse_option_setting<ResizeMode>("--resize-mode", *v));
  }
  if (auto v = args.value("--image-mean")) {
    MODELKIT_TRY(img.mean, parse_triple("--image-mean", *v));
  }
  if (auto v = args.value("--image-std")) {
    MODELKIT_TRY(img.std, parse_triple("--image-std", *v));
    for (double x : *img.std)
      if (x <= 0) return usage_error("option '--image-std': values must be positive, got '" + *v + "'");
  }
  if (auto v = args.value("--rescale")) {
    MODELKIT_TRY(img.rescale, parse_double_option("--rescale", *v, 1e-12, 1e12));
  }
  if (args.has("--bgr")) img.bgr = true;
  return {};
}

}  // namespace modelkit::cli
