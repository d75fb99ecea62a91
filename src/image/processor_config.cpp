// preprocessor_config.json -> ImageProcessorConfig, with each known processor class's own
// defaults for absent fields and its own reading of `size` (transformers' get_size_dict with the
// class's default_to_square), and output-size arithmetic copied from the classes' resize code.
#include <modelkit/image.hpp>

#include "util/file.hpp"
#include "util/json_read.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace modelkit::image {
namespace {

constexpr std::array<float, 3> imagenet_standard_mean{0.5F, 0.5F, 0.5F};
constexpr std::array<float, 3> imagenet_standard_std{0.5F, 0.5F, 0.5F};
constexpr std::array<float, 3> imagenet_default_mean{0.485F, 0.456F, 0.406F};
constexpr std::array<float, 3> imagenet_default_std{0.229F, 0.224F, 0.225F};
constexpr std::array<float, 3> openai_clip_mean{0.48145466F, 0.4578275F, 0.40821073F};
constexpr std::array<float, 3> openai_clip_std{0.26862954F, 0.26130258F, 0.27577711F};

enum class SizeForms {
  exact_only,         // ViT-like resize(): needs {height, width}
  shortest_or_exact,  // CLIP-like resize(): {shortest_edge} or {height, width}
  shortest_only,      // ConvNeXT
  detr,               // {shortest_edge, longest_edge}, {max_height, max_width}, {height, width}
  any,                // generic
};

// One row per processor class: what its __init__ defaults to and how it reads `size`.
struct ProcessorRow {
  std::string_view type;
  std::string_view family;
  SizeForms forms;
  bool default_to_square;  // how an int `size` is read
  ResizeRule default_rule;
  int default_size_a, default_size_b;  // (height, width), (shortest_edge, longest_edge) or (N, 0)
  Resample default_resample;
  bool default_center_crop;
  int default_crop;
  const std::array<float, 3>* mean;
  const std::array<float, 3>* std;
  bool has_center_crop;  // the class has a center-crop step at all
  bool has_normalize;
  bool default_flip;
};

constexpr ProcessorRow processor_table[] = {
    {"ViTImageProcessor", "vit", SizeForms::exact_only, true, ResizeRule::exact, 224, 224, Resample::bilinear,
     false, 0, &imagenet_standard_mean, &imagenet_standard_std, false, true, false},
    {"DeiTImageProcessor", "deit", SizeForms::exact_only, true, ResizeRule::exact, 256, 256, Resample::bicubic,
     true, 224, &imagenet_standard_mean, &imagenet_standard_std, true, true, false},
    {"BeitImageProcessor", "beit", SizeForms::exact_only, true, ResizeRule::exact, 256, 256, Resample::bicubic,
     true, 224, &imagenet_standard_mean, &imagenet_standard_std, true, true, false},
    {"SiglipImageProcessor", "siglip", SizeForms::exact_only, true, ResizeRule::exact, 224, 224,
     Resample::bicubic, false, 0, &imagenet_standard_mean, &imagenet_standard_std, false, true, false},
    {"SegformerImageProcessor", "vit", SizeForms::exact_only, true, ResizeRule::exact, 512, 512,
     Resample::bilinear, false, 0, &imagenet_default_mean, &imagenet_default_std, false, true, false},
    {"CLIPImageProcessor", "clip", SizeForms::shortest_or_exact, false, ResizeRule::shortest_edge, 224, 0,
     Resample::bicubic, true, 224, &openai_clip_mean, &openai_clip_std, true, true, false},
    {"ChineseCLIPImageProcessor", "clip", SizeForms::shortest_or_exact, false, ResizeRule::shortest_edge, 224, 0,
     Resample::bicubic, true, 224, &openai_clip_mean, &openai_clip_std, true, true, false},
    {"BitImageProcessor", "bit", SizeForms::shortest_or_exact, false, ResizeRule::shortest_edge, 224, 0,
     Resample::bicubic, true, 224, &openai_clip_mean, &openai_clip_std, true, true, false},
    {"MobileViTImageProcessor", "mobilevit", SizeForms::shortest_or_exact, false, ResizeRule::shortest_edge, 224,
     0, Resample::bilinear, true, 256, &imagenet_standard_mean, &imagenet_standard_std, true, false, true},
    {"ConvNextImageProcessor", "convnext", SizeForms::shortest_only, false, ResizeRule::convnext, 384, 0,
     Resample::bicubic, false, 0, &imagenet_standard_mean, &imagenet_standard_std, false, true, false},
    {"DetrImageProcessor", "detr", SizeForms::detr, false, ResizeRule::shortest_longest, 800, 1333,
     Resample::bilinear, false, 0, &imagenet_default_mean, &imagenet_default_std, false, true, false},
    {"ConditionalDetrImageProcessor", "detr", SizeForms::detr, false, ResizeRule::shortest_longest, 800, 1333,
     Resample::bilinear, false, 0, &imagenet_default_mean, &imagenet_default_std, false, true, false},
    {"DeformableDetrImageProcessor", "detr", SizeForms::detr, false, ResizeRule::shortest_longest, 800, 1333,
     Resample::bilinear, false, 0, &imagenet_default_mean, &imagenet_default_std, false, true, false},
};

// "ViTFeatureExtractor" and "ViTImageProcessorFast" are the same recipe as "ViTImageProcessor".
std::string canonical_type(std::string_view type) {
  std::string t(type);
  if (t.ends_with("Fast")) t.resize(t.size() - 4);
  if (t.ends_with("FeatureExtractor")) t = t.substr(0, t.size() - 16) + "ImageProcessor";
  return t;
}

const ProcessorRow* find_row(std::string_view type) {
  const std::string t = canonical_type(type);
  for (const auto& row : processor_table)
    if (row.type == t) return &row;
  return nullptr;
}

Error field_error(std::string_view field, std::string_view message) {
  return failure("field '" + std::string(field) + "' " + std::string(message));
}

std::string describe(simdjson::dom::element e) { return simdjson::to_string(e); }

Result<int> positive_int(simdjson::dom::element e, std::string_view field) {
  std::int64_t v = 0;
  if (e.is_double()) {
    // Some hand-written configs say 224.0; accept whole numbers only.
    const double d = e.get_double().value_unsafe();
    if (d != std::floor(d)) return field_error(field, "must be a whole number, got " + describe(e));
    v = static_cast<std::int64_t>(d);
  } else if (e.get_int64().get(v) != simdjson::SUCCESS) {
    return field_error(field, "must be a positive integer, got " + std::string(util::json_type_name(e)));
  }
  if (v < 1 || v > 65536) return field_error(field, "must be between 1 and 65536, got " + describe(e));
  return static_cast<int>(v);
}

// A size as transformers' get_size_dict returns it: the keys with non-null values.
struct SizeDict {
  std::optional<int> height, width, shortest_edge, longest_edge, max_height, max_width;
  [[nodiscard]] std::string keys() const {
    std::vector<std::string> k;
    if (height) k.emplace_back("height");
    if (width) k.emplace_back("width");
    if (shortest_edge) k.emplace_back("shortest_edge");
    if (longest_edge) k.emplace_back("longest_edge");
    if (max_height) k.emplace_back("max_height");
    if (max_width) k.emplace_back("max_width");
    return "{" + util::join(k, ", ") + "}";
  }
  [[nodiscard]] bool is(bool h, bool w, bool se, bool le, bool mh, bool mw) const {
    return height.has_value() == h && width.has_value() == w && shortest_edge.has_value() == se &&
           longest_edge.has_value() == le && max_height.has_value() == mh && max_width.has_value() == mw;
  }
  [[nodiscard]] bool is_exact() const { return is(true, true, false, false, false, false); }
  [[nodiscard]] bool is_shortest() const { return is(false, false, true, false, false, false); }
  [[nodiscard]] bool is_shortest_longest() const { return is(false, false, true, true, false, false); }
  [[nodiscard]] bool is_longest() const { return is(false, false, false, true, false, false); }
  [[nodiscard]] bool is_max_hw() const { return is(false, false, false, false, true, true); }
};

constexpr std::string_view valid_size_forms =
    "{height, width}, {shortest_edge}, {shortest_edge, longest_edge}, {longest_edge} or {max_height, max_width}";

// get_size_dict(size, max_size, default_to_square): an object as is, an int as a square or a
// shortest edge, a [height, width] list.
Result<SizeDict> read_size(simdjson::dom::element e, std::string_view field, bool default_to_square,
                           std::optional<int> max_size) {
  SizeDict s;
  if (e.is_object()) {
    simdjson::dom::object fields;
    if (e.get_object().get(fields) != simdjson::SUCCESS) return field_error(field, "is not an object");
    for (auto [key, value] : fields) {
      if (value.is_null()) continue;
      const std::string sub = std::string(field) + "." + std::string(key);
      std::optional<int>* slot = key == "height"          ? &s.height
                                 : key == "width"         ? &s.width
                                 : key == "shortest_edge" ? &s.shortest_edge
                                 : key == "longest_edge"  ? &s.longest_edge
                                 : key == "max_height"    ? &s.max_height
                                 : key == "max_width"     ? &s.max_width
                                                          : nullptr;
      if (slot == nullptr)
        return field_error(field, "has unknown key '" + std::string(key) + "'; expected " +
                                      std::string(valid_size_forms));
      MODELKIT_TRY(auto v, positive_int(value, sub));
      *slot = v;
    }
    if (!(s.is_exact() || s.is_shortest() || s.is_shortest_longest() || s.is_longest() || s.is_max_hw()))
      return field_error(field, "must be one of " + std::string(valid_size_forms) + ", got " + s.keys());
    return s;
  }
  if (e.is_array()) {
    std::vector<int> v;
    simdjson::dom::array items;
    if (e.get_array().get(items) != simdjson::SUCCESS) return field_error(field, "is not a list");
    for (auto item : items) {
      MODELKIT_TRY(auto n, positive_int(item, field));
      v.push_back(n);
    }
    if (v.size() != 2) return field_error(field, "as a list must be [height, width], got " + describe(e));
    s.height = v[0];
    s.width = v[1];
    return s;
  }
  if (e.is_number()) {
    MODELKIT_TRY(auto n, positive_int(e, field));
    if (default_to_square) {
      s.height = s.width = n;
    } else {
      s.shortest_edge = n;
      if (max_size) s.longest_edge = *max_size;
    }
    return s;
  }
  return field_error(field, "must be an object such as {\"height\": 224, \"width\": 224} or an integer, got " +
                                std::string(util::json_type_name(e)));
}

Result<std::array<float, 3>> read_channels(simdjson::dom::element e, std::string_view field) {
  std::vector<double> v;
  if (e.is_number()) {
    v.push_back(e.get_double().value_unsafe());
  } else if (e.is_array()) {
    simdjson::dom::array items;
    if (e.get_array().get(items) != simdjson::SUCCESS) return field_error(field, "is not a list");
    for (auto item : items) {
      double d = 0;
      if (item.get_double().get(d) != simdjson::SUCCESS)
        return field_error(field, "must be a list of numbers, got an item that is " +
                                      std::string(util::json_type_name(item)));
      v.push_back(d);
    }
  } else {
    return field_error(field, "must be a number or a list of 3 numbers, got " +
                                  std::string(util::json_type_name(e)));
  }
  // One value applies to every channel (numpy broadcasting in normalize()).
  if (v.size() == 1) v.assign(3, v[0]);
  if (v.size() != 3) return field_error(field, "must have 1 or 3 values (RGB), got " + describe(e));
  for (double d : v)
    if (!std::isfinite(d)) return field_error(field, "must be finite, got " + describe(e));
  return std::array<float, 3>{static_cast<float>(v[0]), static_cast<float>(v[1]), static_cast<float>(v[2])};
}

std::optional<simdjson::dom::element> get(simdjson::dom::object obj, std::string_view key) {
  simdjson::dom::element e;
  if (obj.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) return std::nullopt;
  return e;
}

// Fields that change the geometry in ways this module does not reproduce; each one present
// (and not false) is reported in notes.
constexpr std::string_view unsupported_geometry_fields[] = {
    "pad_size", "size_divisor", "size_divisibility", "ensure_multiple_of", "keep_aspect_ratio",
    "do_image_splitting", "do_split_image", "max_image_tiles", "min_pixels", "max_pixels",
};

Result<ImageProcessorConfig> parse_config(simdjson::dom::element root) {
  simdjson::dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS)
    return failure("expected a JSON object, got " + std::string(util::json_type_name(root)));

  ImageProcessorConfig c;
  auto type = util::optional_string(obj, "image_processor_type");
  if (!type) return type.take_error();
  if (!*type) {
    type = util::optional_string(obj, "feature_extractor_type");
    if (!type) return type.take_error();
  }
  c.processor_type = type->value_or("");
  const ProcessorRow* row = find_row(c.processor_type);
  c.family = row ? std::string(row->family) : "generic";
  if (!row) {
    if (c.processor_type.empty())
      c.notes.emplace_back("no image_processor_type given; using the generic fields (size, resample, "
                           "center crop, rescale, normalize)");
    else
      c.notes.push_back("image processor type '" + c.processor_type +
                        "' is not one modelkit reproduces; using the generic fields (size, resample, center "
                        "crop, rescale, normalize)");
  }

  auto flag = [&](std::string_view key, bool fallback) -> Result<bool> {
    MODELKIT_TRY(auto v, util::optional_bool(obj, key));
    return v.value_or(fallback);
  };

  // -- resize
  auto do_resize = flag("do_resize", true);
  if (!do_resize) return do_resize.take_error();
  c.do_resize = *do_resize;

  std::optional<int> max_size;
  if (auto e = get(obj, "max_size")) {
    MODELKIT_TRY(auto v, positive_int(*e, "max_size"));
    max_size = v;
  }
  const bool default_to_square = row ? row->default_to_square : true;
  SizeDict size;
  if (auto e = get(obj, "size")) {
    // DETR reads a bare int size with max_size, 1333 when the config gives none.
    std::optional<int> int_max = max_size;
    if (row && row->forms == SizeForms::detr && !int_max) int_max = 1333;
    MODELKIT_TRY(auto s, read_size(*e, "size", default_to_square, int_max));
    size = s;
  } else if (row) {
    switch (row->default_rule) {
      case ResizeRule::exact: size.height = row->default_size_a, size.width = row->default_size_b; break;
      case ResizeRule::shortest_longest:
        size.shortest_edge = row->default_size_a, size.longest_edge = row->default_size_b;
        break;
      default: size.shortest_edge = row->default_size_a; break;
    }
  } else if (c.do_resize) {
    return field_error("size", "is required when do_resize is true (no defaults for processor type '" +
                                   c.processor_type + "')");
  }

  const std::string who = row ? std::string(row->type) : std::string("the generic processor");
  auto wrong_form = [&](std::string_view wanted) {
    return field_error("size", "must be " + std::string(wanted) + " for " + who + ", got " + size.keys());
  };
  if (c.do_resize || row) {
    const SizeForms forms = row ? row->forms : SizeForms::any;
    if (size.is_exact() && forms != SizeForms::shortest_only) {
      c.resize_rule = ResizeRule::exact;
      c.height = *size.height;
      c.width = *size.width;
    } else if (size.is_shortest() && forms == SizeForms::shortest_only) {
      c.resize_rule = ResizeRule::convnext;
      c.shortest_edge = *size.shortest_edge;
    } else if (size.is_shortest() && (forms == SizeForms::shortest_or_exact || forms == SizeForms::any)) {
      c.resize_rule = ResizeRule::shortest_edge;
      c.shortest_edge = *size.shortest_edge;
    } else if (size.is_shortest_longest() && (forms == SizeForms::detr || forms == SizeForms::any)) {
      c.resize_rule = ResizeRule::shortest_longest;
      c.shortest_edge = *size.shortest_edge;
      c.longest_edge = *size.longest_edge;
    } else if (size.is_max_hw() && (forms == SizeForms::detr || forms == SizeForms::any)) {
      c.resize_rule = ResizeRule::max_height_width;
      c.max_height = *size.max_height;
      c.max_width = *size.max_width;
    } else if (size.is_longest() && forms == SizeForms::any) {
      c.resize_rule = ResizeRule::longest_edge;
      c.longest_edge = *size.longest_edge;
    } else if (c.do_resize) {
      switch (forms) {
        case SizeForms::exact_only: return wrong_form("{height, width}");
        case SizeForms::shortest_or_exact: return wrong_form("{shortest_edge} or {height, width}");
        case SizeForms::shortest_only: return wrong_form("{shortest_edge}");
        case SizeForms::detr:
          return wrong_form("{shortest_edge, longest_edge}, {max_height, max_width} or {height, width}");
        case SizeForms::any: return wrong_form(valid_size_forms);
      }
    }
  }

  if (auto e = get(obj, "resample")) {
    std::int64_t code = -1;
    if (e->get_int64().get(code) != simdjson::SUCCESS || code < 0 || code > 5)
      return field_error("resample", "must be a PIL filter code 0-5 (0 nearest, 1 lanczos, 2 bilinear, "
                                     "3 bicubic, 4 box, 5 hamming), got " + describe(*e));
    c.resample = static_cast<Resample>(code);
  } else {
    // The generic resize() in transformers defaults to bilinear.
    c.resample = row ? row->default_resample : Resample::bilinear;
  }

  if (auto e = get(obj, "crop_pct")) {
    double v = 0;
    if (e->get_double().get(v) != simdjson::SUCCESS || !(v > 0.0) || !std::isfinite(v))
      return field_error("crop_pct", "must be a number above 0, got " + describe(*e));
    c.crop_pct = v;
    if (c.family != "convnext")
      c.notes.push_back("crop_pct " + describe(*e) + " is not used by " + who + "; ignored");
  }

  // -- center crop
  const bool has_crop = row ? row->has_center_crop : true;
  auto do_center_crop = flag("do_center_crop", row ? row->default_center_crop : false);
  if (!do_center_crop) return do_center_crop.take_error();
  c.do_center_crop = has_crop && *do_center_crop;
  if (c.do_center_crop) {
    SizeDict crop;
    if (auto e = get(obj, "crop_size")) {
      MODELKIT_TRY(auto s, read_size(*e, "crop_size", true, std::nullopt));
      crop = s;
    } else if (row && row->default_crop > 0) {
      crop.height = crop.width = row->default_crop;
    } else {
      return field_error("crop_size", "is required when do_center_crop is true");
    }
    if (!crop.is_exact())
      return field_error("crop_size", "must be {height, width} or an integer, got " + crop.keys());
    c.crop_height = *crop.height;
    c.crop_width = *crop.width;
  }

  // -- rescale, normalize, channels
  auto do_rescale = flag("do_rescale", true);
  if (!do_rescale) return do_rescale.take_error();
  c.do_rescale = *do_rescale;
  if (auto e = get(obj, "rescale_factor")) {
    double v = 0;
    if (e->get_double().get(v) != simdjson::SUCCESS || !std::isfinite(v) || v == 0.0)
      return field_error("rescale_factor", "must be a non-zero number, got " + describe(*e));
    c.rescale_factor = v;
  }

  const bool has_normalize = row ? row->has_normalize : true;
  auto do_normalize = flag("do_normalize", has_normalize);
  if (!do_normalize) return do_normalize.take_error();
  c.do_normalize = has_normalize && *do_normalize;
  if (!has_normalize && *do_normalize)
    c.notes.push_back(who + " does not normalize; do_normalize ignored");
  if (row) {
    c.image_mean = *row->mean;
    c.image_std = *row->std;
  }
  bool mean_given = false, std_given = false;
  if (auto e = get(obj, "image_mean")) {
    MODELKIT_TRY(auto v, read_channels(*e, "image_mean"));
    c.image_mean = v;
    mean_given = true;
  }
  if (auto e = get(obj, "image_std")) {
    MODELKIT_TRY(auto v, read_channels(*e, "image_std"));
    for (float s : v)
      if (s == 0.0F) return field_error("image_std", "must not contain 0, got " + describe(*e));
    c.image_std = v;
    std_given = true;
  }
  if (c.do_normalize && !row && (!mean_given || !std_given))
    return field_error(mean_given ? "image_std" : "image_mean", "is required when do_normalize is true");

  MODELKIT_TRY(auto convert_rgb, flag("do_convert_rgb", true));
  c.do_convert_rgb = convert_rgb;
  MODELKIT_TRY(auto flip, flag("do_flip_channel_order", row ? row->default_flip : false));
  c.bgr = flip;

  // -- what is not reproduced
  MODELKIT_TRY(auto do_pad, util::optional_bool(obj, "do_pad"));
  if (do_pad.value_or(false)) {
    c.notes.emplace_back(c.family == "detr" ? "do_pad: one image at a time needs no padding; pixel_mask is not produced"
                                            : "do_pad is not reproduced; images are not padded");
  }
  for (std::string_view key : unsupported_geometry_fields) {
    auto e = get(obj, key);
    if (!e || (e->is_bool() && !e->get_bool().value_unsafe())) continue;
    c.notes.push_back("field '" + std::string(key) + "' (" + describe(*e) + ") is not reproduced; ignored");
  }
  return c;
}

// transformers.image_transforms.get_resize_output_image_size(default_to_square=False): the
// short side becomes `size`, the long side int(size * long / short).
std::array<int, 2> shortest_edge_size(int height, int width, int size) {
  const bool portrait = width <= height;
  const int shorter = portrait ? width : height;
  const int longer = portrait ? height : width;
  const int new_long = static_cast<int>(static_cast<double>(static_cast<std::int64_t>(size) * longer) / shorter);
  return portrait ? std::array<int, 2>{new_long, size} : std::array<int, 2>{size, new_long};
}

// DETR's get_size_with_aspect_ratio (transformers 4.x), Python's round() being half-to-even.
std::array<int, 2> detr_size(int height, int width, int size, int max_size) {
  std::optional<double> raw_size;
  const double min_original = std::min(height, width);
  const double max_original = std::max(height, width);
  if (max_original / min_original * size > max_size) {
    raw_size = max_size * min_original / max_original;
    size = static_cast<int>(std::nearbyint(*raw_size));
  }
  if ((height <= width && height == size) || (width <= height && width == size)) return {height, width};
  if (width < height) {
    const double scale = raw_size ? *raw_size : static_cast<double>(size);
    return {static_cast<int>(scale * height / width), size};
  }
  const double scale = raw_size ? *raw_size : static_cast<double>(size);
  return {size, static_cast<int>(scale * width / height)};
}

}  // namespace

Result<ImageProcessorConfig> ImageProcessorConfig::from_json(std::string_view text) {
  simdjson::dom::parser parser;
  MODELKIT_TRY(auto root, util::parse_json(parser, text));
  return parse_config(root);
}

Result<ImageProcessorConfig> ImageProcessorConfig::from_file(const std::filesystem::path& path) {
  MODELKIT_TRY(auto text, util::read_file(path, std::uint64_t{16} << 20));
  MODELKIT_TRY_CTX(auto config, from_json(text), path.string());
  return config;
}

std::array<int, 2> ImageProcessorConfig::output_size(int image_height, int image_width) const {
  std::array<int, 2> hw{image_height, image_width};
  if (do_resize) {
    switch (resize_rule) {
      case ResizeRule::exact: hw = {height, width}; break;
      case ResizeRule::shortest_edge: hw = shortest_edge_size(hw[0], hw[1], shortest_edge); break;
      case ResizeRule::convnext: hw = {shortest_edge, shortest_edge}; break;
      case ResizeRule::shortest_longest: hw = detr_size(hw[0], hw[1], shortest_edge, longest_edge); break;
      case ResizeRule::longest_edge: {
        // SAM's _get_preprocess_shape: scale the longest side to longest_edge, round half up.
        const double scale = longest_edge * 1.0 / std::max(hw[0], hw[1]);
        hw = {static_cast<int>(hw[0] * scale + 0.5), static_cast<int>(hw[1] * scale + 0.5)};
        break;
      }
      case ResizeRule::max_height_width: {
        const double scale = std::min(static_cast<double>(max_height) / hw[0], static_cast<double>(max_width) / hw[1]);
        hw = {static_cast<int>(hw[0] * scale), static_cast<int>(hw[1] * scale)};
        break;
      }
    }
    hw = {std::max(hw[0], 1), std::max(hw[1], 1)};
  }
  if (do_center_crop) hw = {crop_height, crop_width};
  return hw;
}

bool ImageProcessorConfig::has_fixed_output() const {
  if (do_center_crop) return true;
  if (!do_resize) return false;
  return resize_rule == ResizeRule::exact || resize_rule == ResizeRule::convnext;
}

ImageProcessorConfig ImageProcessorConfig::with_fixed_output(int out_height, int out_width) const {
  ImageProcessorConfig c = *this;
  out_height = std::max(out_height, 1);
  out_width = std::max(out_width, 1);
  if (has_fixed_output() && output_size(1, 1) == std::array<int, 2>{out_height, out_width}) return c;

  const std::string target = std::to_string(out_height) + "x" + std::to_string(out_width);
  if (do_resize && do_center_crop && resize_rule == ResizeRule::exact) {
    // Resize then crop (DeiT, BEiT): keep the resize-to-crop ratio per side.
    c.height = static_cast<int>(std::lround(static_cast<double>(height) * out_height / crop_height));
    c.width = static_cast<int>(std::lround(static_cast<double>(width) * out_width / crop_width));
    c.crop_height = out_height;
    c.crop_width = out_width;
    c.notes.push_back("model input is fixed at " + target + ": resize " + std::to_string(c.height) + "x" +
                      std::to_string(c.width) + " then center crop " + target + " (config: resize " +
                      std::to_string(height) + "x" + std::to_string(width) + ", crop " +
                      std::to_string(crop_height) + "x" + std::to_string(crop_width) + ")");
  } else if (do_resize && (resize_rule == ResizeRule::shortest_edge || resize_rule == ResizeRule::convnext) &&
             (do_center_crop || resize_rule == ResizeRule::convnext)) {
    // Shortest edge then crop (CLIP, BiT, ConvNeXT < 384): keep the edge-to-crop ratio.
    const int crop_long = do_center_crop ? std::max(crop_height, crop_width) : shortest_edge;
    const int edge = resize_rule == ResizeRule::convnext && shortest_edge < 384
                         ? static_cast<int>(shortest_edge / crop_pct)
                         : shortest_edge;
    c.resize_rule = ResizeRule::shortest_edge;
    c.shortest_edge = static_cast<int>(std::lround(static_cast<double>(edge) * std::max(out_height, out_width) /
                                                   crop_long));
    c.shortest_edge = std::max(c.shortest_edge, std::max(out_height, out_width));
    c.do_center_crop = true;
    c.crop_height = out_height;
    c.crop_width = out_width;
    c.notes.push_back("model input is fixed at " + target + ": shortest edge " + std::to_string(c.shortest_edge) +
                      " then center crop " + target + " (config gives " +
                      std::to_string(output_size(1000, 1000)[0]) + "x" + std::to_string(output_size(1000, 1000)[1]) +
                      ")");
  } else {
    // No crop to scale: resize straight to the model's size (aspect ratio not kept).
    c.do_resize = true;
    c.resize_rule = ResizeRule::exact;
    c.height = out_height;
    c.width = out_width;
    c.do_center_crop = false;
    c.notes.push_back("model input is fixed at " + target + ": images are resized to it directly, " +
                      "replacing the config's resize" + (do_center_crop ? " and crop" : ""));
  }
  return c;
}

}  // namespace modelkit::image
