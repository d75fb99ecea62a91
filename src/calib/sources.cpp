#include <modelkit/calib_sources.hpp>
#include <modelkit/image.hpp>
#include <modelkit/tokenizer.hpp>

#include "calib/audio_source.hpp"

#include "util/file.hpp"
#include "util/json_read.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <set>
#include <span>

namespace modelkit::calib {
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kDefaultImageSide = 224;  // an image input with free spatial dims and no size hint

const onnx::ValueInfo* find_input(const std::vector<onnx::ValueInfo>& inputs, std::string_view name) {
  for (const auto& in : inputs)
    if (in.name == name) return &in;
  return nullptr;
}

// A static dimension of an input, if declared.
std::optional<std::int64_t> static_dim(const onnx::ValueInfo* in, size_t axis) {
  if (in == nullptr || !in->has_shape || axis >= in->shape.size() || !in->shape[axis].value) return std::nullopt;
  return in->shape[axis].value;
}

// ---------------------------------------------------------------- text

class TextSource final : public SampleSource {
 public:
  TextSource(tokenizer::Tokenizer tok, std::vector<TextSample> samples, std::string description)
      : tok_(std::move(tok)), samples_(std::move(samples)), description_(std::move(description)) {}

  Result<std::optional<Sample>> next() override {
    if (pos_ >= samples_.size()) return std::optional<Sample>{};
    const auto& s = samples_[pos_++];
    auto enc = s.pair ? tok_.encode(s.text, std::string_view(*s.pair), true) : tok_.encode(s.text, std::nullopt, true);
    if (!enc) return enc.take_error().with_context("calibration text " + std::to_string(pos_));
    auto to_tensor = [](std::string name, const std::vector<std::uint32_t>& v) {
      std::vector<std::int64_t> values(v.begin(), v.end());
      return Tensor::from_values<std::int64_t>(std::move(name), {1, static_cast<std::int64_t>(values.size())}, values);
    };
    Sample out;
    out.push_back(to_tensor("input_ids", enc->ids));
    out.push_back(to_tensor("attention_mask", enc->attention_mask));
    out.push_back(to_tensor("token_type_ids", enc->type_ids));
    return std::optional<Sample>{std::move(out)};
  }
  Result<void> rewind() override {
    pos_ = 0;
    return {};
  }
  std::vector<std::string> produced_names() const override { return {"input_ids", "attention_mask", "token_type_ids"}; }
  std::string describe() const override { return description_; }

 private:
  tokenizer::Tokenizer tok_;
  std::vector<TextSample> samples_;
  std::string description_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------- images

// MODELKIT_CALIBRATION_IMAGES names a folder of photographs to use instead of the embedded ones.
std::optional<fs::path> default_image_dir() {
  if (const char* env = std::getenv("MODELKIT_CALIBRATION_IMAGES"); env && *env) return fs::path(env);
  return std::nullopt;
}

class ImageSource final : public SampleSource {
 public:
  // An image is a file, or embedded bytes (the default photographs).
  struct Item {
    fs::path path;
    std::string_view bytes;
    std::string_view name;
  };

  ImageSource(image::ImageProcessorConfig config, std::vector<Item> files, std::string description,
              std::string input_name, ImageLayout layout)
      : config_(std::move(config)), files_(std::move(files)),
        description_(std::move(description)), input_name_(std::move(input_name)), layout_(layout) {}

  Result<std::optional<Sample>> next() override {
    image::Image img;
    // Undecodable files are skipped (and named once): one bad photo must not stop a build.
    while (pos_ < files_.size()) {
      const auto& item = files_[pos_];
      auto decoded = item.path.empty() ? image::decode_image_bytes(item.bytes, item.name) : image::decode_image(item.path);
      if (decoded) {
        img = std::move(*decoded);
        break;
      }
      if (std::find(skipped_.begin(), skipped_.end(), decoded.error().message) == skipped_.end())
        skipped_.push_back(decoded.error().message);
      ++pos_;
    }
    if (pos_ >= files_.size()) return std::optional<Sample>{};
    ++pos_;
    auto pixels = image::preprocess(img, config_);
    if (!pixels) return pixels.take_error();
    Sample out;
    const auto [c, h, w] = pixels->shape;
    if (layout_ == ImageLayout::nchw) {
      out.push_back(Tensor::from_values<float>(input_name_, {1, c, h, w}, pixels->data));
    } else {
      std::vector<float> hwc(pixels->data.size());
      for (std::int64_t ch = 0; ch < c; ++ch)
        for (std::int64_t i = 0; i < h * w; ++i) hwc[static_cast<size_t>(i * c + ch)] = pixels->data[static_cast<size_t>(ch * h * w + i)];
      out.push_back(Tensor::from_values<float>(input_name_, {1, h, w, c}, hwc));
    }
    return std::optional<Sample>{std::move(out)};
  }
  Result<void> rewind() override {
    pos_ = 0;
    return {};
  }
  std::vector<std::string> produced_names() const override { return {input_name_}; }
  std::string describe() const override { return description_; }
  std::vector<std::string> skipped_inputs() const override {
    std::vector<std::string> out;
    for (const auto& m : skipped_) out.push_back("skipped an image: " + m);
    return out;
  }

 private:
  std::vector<std::string> skipped_;
  image::ImageProcessorConfig config_;
  std::vector<Item> files_;
  std::string description_;
  std::string input_name_;
  ImageLayout layout_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------- random

class RandomSource final : public SampleSource {
 public:
  RandomSource(std::vector<onnx::ValueInfo> inputs, InputHints hints, std::vector<InputShape> shapes,
               std::uint64_t seed, int samples)
      : inputs_(std::move(inputs)), hints_(std::move(hints)), shapes_(std::move(shapes)), seed_(seed),
        samples_(samples) {}

  // Checks once that inputs can be generated, and returns the record of the first sample.
  Result<RandomInputs> probe() const { return make_random_inputs(inputs_, hints_, shapes_, seed_); }

  Result<std::optional<Sample>> next() override {
    if (pos_ >= samples_) return std::optional<Sample>{};
    // Each sample draws from its own seed so samples differ and stay reproducible.
    auto r = make_random_inputs(inputs_, hints_, shapes_, seed_ + static_cast<std::uint64_t>(pos_));
    if (!r) return r.take_error();
    ++pos_;
    return std::optional<Sample>{std::move(r->tensors)};
  }
  Result<void> rewind() override {
    pos_ = 0;
    return {};
  }
  std::vector<std::string> produced_names() const override {
    std::vector<std::string> names;
    for (const auto& in : inputs_) names.push_back(in.name);
    return names;
  }
  std::string describe() const override {
    return "random inputs from the ONNX model's input specs, seed " + std::to_string(seed_);
  }

 private:
  std::vector<onnx::ValueInfo> inputs_;
  InputHints hints_;
  std::vector<InputShape> shapes_;
  std::uint64_t seed_;
  int samples_;
  int pos_ = 0;
};

// ---------------------------------------------------------------- conforming

// Converts a tensor's values to another numeric type; nullopt for unsupported pairs.
template <class From>
std::optional<Tensor> cast_from(const Tensor& t, ElementType to) {
  auto src = t.values<From>();
  auto convert = [&](auto tag) -> Tensor {
    using To = decltype(tag);
    std::vector<To> out(src.size());
    for (size_t i = 0; i < src.size(); ++i) out[i] = static_cast<To>(src[i]);
    return Tensor::from_values<To>(t.name, t.shape, out);
  };
  switch (to) {
    case ElementType::int64: return convert(std::int64_t{});
    case ElementType::int32: return convert(std::int32_t{});
    case ElementType::float32: return convert(float{});
    case ElementType::float64: return convert(double{});
    case ElementType::uint8: return convert(std::uint8_t{});
    case ElementType::int8: return convert(std::int8_t{});
    default: return std::nullopt;
  }
}

std::optional<Tensor> cast_tensor(const Tensor& t, ElementType to) {
  switch (t.type) {
    case ElementType::int64: return cast_from<std::int64_t>(t, to);
    case ElementType::int32: return cast_from<std::int32_t>(t, to);
    case ElementType::float32: return cast_from<float>(t, to);
    case ElementType::float64: return cast_from<double>(t, to);
    default: return std::nullopt;
  }
}

// Wraps a text or image source so every sample carries exactly the model's inputs:
// produced names the model lacks are dropped, inputs it needs that the source lacks come
// from the random source (same shapes as the produced tensors where they share dims),
// dtypes are cast to the model's.
class ConformingSource final : public SampleSource {
 public:
  ConformingSource(std::unique_ptr<SampleSource> primary, std::unique_ptr<RandomSource> filler,
                   std::vector<onnx::ValueInfo> inputs, int samples)
      : primary_(std::move(primary)), filler_(std::move(filler)), inputs_(std::move(inputs)), samples_(samples) {}

  Result<std::optional<Sample>> next() override {
    if (pos_ >= samples_) return std::optional<Sample>{};
    auto produced = primary_->next();
    if (!produced) return produced.take_error();
    if (!*produced) return std::optional<Sample>{};
    std::optional<Sample> random;
    Sample out;
    for (const auto& in : inputs_) {
      auto it = std::find_if((*produced)->begin(), (*produced)->end(), [&](const Tensor& t) { return t.name == in.name; });
      if (it != (*produced)->end()) {
        if (it->type != in.element_type && in.element_type != ElementType::undefined) {
          auto cast = cast_tensor(*it, in.element_type);
          if (!cast)
            return failure("calibration input '" + in.name + "': cannot convert " + element_type_name(it->type) +
                           " to the model's " + element_type_name(in.element_type));
          out.push_back(std::move(*cast));
        } else {
          out.push_back(std::move(*it));
        }
        continue;
      }
      if (!random) {
        auto r = filler_->next();
        if (!r) return r.take_error();
        if (!*r) {
          MODELKIT_TRY_VOID(filler_->rewind());
          r = filler_->next();
          if (!r) return r.take_error();
        }
        random = std::move(**r);
      }
      auto rt = std::find_if(random->begin(), random->end(), [&](const Tensor& t) { return t.name == in.name; });
      if (rt == random->end()) return failure("random source made no tensor for input '" + in.name + "'");
      out.push_back(std::move(*rt));
    }
    ++pos_;
    return std::optional<Sample>{std::move(out)};
  }
  Result<void> rewind() override {
    pos_ = 0;
    MODELKIT_TRY_VOID(filler_->rewind());
    return primary_->rewind();
  }
  std::vector<std::string> produced_names() const override {
    std::vector<std::string> names;
    for (const auto& in : inputs_) names.push_back(in.name);
    return names;
  }
  std::string describe() const override { return primary_->describe(); }
  std::vector<std::string> skipped_inputs() const override { return primary_->skipped_inputs(); }

 private:
  std::unique_ptr<SampleSource> primary_;
  std::unique_ptr<RandomSource> filler_;
  std::vector<onnx::ValueInfo> inputs_;
  int samples_;
  int pos_ = 0;
};

// ---------------------------------------------------------------- building

struct Built {
  std::unique_ptr<SampleSource> source;
  std::string data_source;
  int available = 0;
  std::vector<std::string> notes;
};

Result<Built> build_text(const SourceRequest& req) {
  auto tok_path = req.checkpoint_folder / "tokenizer.json";
  std::error_code ec;
  if (!fs::is_regular_file(tok_path, ec)) return failure("no tokenizer.json in " + quoted(req.checkpoint_folder));
  auto tok = tokenizer::Tokenizer::from_file(tok_path);
  if (!tok) return tok.take_error();
  // The sequence length: the model's static dim when it has one, else the request's.
  auto seq = static_dim(find_input(req.model_inputs, "input_ids"), 1).value_or(req.sequence_length);
  tok->set_fixed_length(static_cast<size_t>(seq));
  Built b;
  std::vector<TextSample> samples;
  if (req.data) {
    TextReadLimits limits;
    limits.max_samples = static_cast<std::size_t>(std::max(req.samples, 0));
    limits.max_chars = static_cast<std::size_t>(seq) * kCalibrationCharsPerToken;
    std::size_t cut = 0;
    auto read = read_text_samples(*req.data, req.columns, limits, &cut);
    if (!read) return read.take_error();
    samples = std::move(*read);
    b.data_source = req.data->string();
    if (cut > 0)
      b.notes.push_back(std::to_string(cut) + " calibration text(s) longer than " + std::to_string(limits.max_chars) +
                        " characters cut to their first " + std::to_string(limits.max_chars) +
                        " before tokenizing (" + std::to_string(kCalibrationCharsPerToken) +
                        " per token of the sequence length " + std::to_string(seq) + ")");
  } else {
    for (auto& t : default_texts()) samples.push_back({std::move(t), std::nullopt});
    b.data_source = "embedded default text";
  }
  if (samples.empty()) return failure(quoted(req.data.value_or("")) + " holds no text samples");
  if (static_cast<int>(samples.size()) > req.samples) samples.resize(static_cast<size_t>(req.samples));
  b.available = static_cast<int>(samples.size());
  b.data_source += " (" + std::to_string(b.available) + " samples, sequence length " + std::to_string(seq) +
                   ", via " + tok_path.filename().string() + ")";
  b.source = std::make_unique<TextSource>(std::move(*tok), std::move(samples), b.data_source);
  return b;
}

// The input an image source feeds and how: --image-input, else pixel_values, else the one float
// input shaped like an image ([N,3,H,W] or [N,H,W,3]).
struct ImageTarget {
  const onnx::ValueInfo* input = nullptr;
  ImageLayout layout = ImageLayout::nchw;
  std::string layout_reason;
};

bool channels_at(const onnx::ValueInfo& in, size_t axis) {
  return in.has_shape && in.shape.size() == 4 && in.shape[axis].value && *in.shape[axis].value == 3;
}

Result<ImageTarget> image_target(const SourceRequest& req) {
  ImageTarget t;
  auto floats = [](const onnx::ValueInfo& in) {
    return in.element_type == ElementType::float32 || in.element_type == ElementType::float16 ||
           in.element_type == ElementType::float64;
  };
  std::vector<std::string> names;
  for (const auto& in : req.model_inputs) names.push_back(in.name + " " + onnx::format_dims(in));
  if (req.image.input) {
    t.input = find_input(req.model_inputs, *req.image.input);
    if (!t.input)
      return usage_error("--image-input '" + *req.image.input + "': the model has no such input (inputs: " +
                         util::join(names, ", ") + ")");
    if (!floats(*t.input) || !t.input->has_shape || t.input->shape.size() != 4)
      return failure("--image-input '" + *req.image.input + "' is " + element_type_name(t.input->element_type) + " " +
                     onnx::format_dims(*t.input) + ", not a rank-4 float image input");
  } else if (const auto* px = find_input(req.model_inputs, "pixel_values")) {
    t.input = px;
  } else {
    std::vector<const onnx::ValueInfo*> candidates;
    for (const auto& in : req.model_inputs)
      if (floats(in) && (channels_at(in, 1) || channels_at(in, 3))) candidates.push_back(&in);
    if (candidates.empty())
      return failure("no input is shaped like an image ([N,3,H,W] or [N,H,W,3] float; inputs: " + util::join(names, ", ") +
                     "); name one with --image-input");
    if (candidates.size() > 1) {
      std::vector<std::string> c;
      for (const auto* in : candidates) c.push_back(in->name);
      return failure("several inputs are shaped like images (" + util::join(c, ", ") + "); name one with --image-input");
    }
    t.input = candidates[0];
  }
  if (req.image.layout) {
    t.layout = *req.image.layout;
    t.layout_reason = "--layout";
  } else if (channels_at(*t.input, 1)) {
    t.layout = ImageLayout::nchw;
    t.layout_reason = "3 channels at axis 1";
  } else if (channels_at(*t.input, 3)) {
    t.layout = ImageLayout::nhwc;
    t.layout_reason = "3 channels at axis 3";
  } else {
    t.layout = ImageLayout::nchw;
    t.layout_reason = "channel axis not static; pass --layout nhwc for channels last";
  }
  return t;
}

Result<Built> build_image(const SourceRequest& req) {
  MODELKIT_TRY(auto target, image_target(req));
  const auto& opts = req.image;
  auto proc_path = req.checkpoint_folder / "preprocessor_config.json";
  std::error_code ec;
  const bool has_processor = fs::is_regular_file(proc_path, ec);
  const size_t h_axis = target.layout == ImageLayout::nchw ? 2 : 1;
  auto h = static_dim(target.input, h_axis), w = static_dim(target.input, h_axis + 1);
  for (const auto& s : req.input_shapes)
    if (s.name == target.input->name && s.shape.size() == 4) {
      h = s.shape[h_axis];
      w = s.shape[h_axis + 1];
    }
  image::ImageProcessorConfig config;
  std::string preprocessing;
  if (has_processor) {
    MODELKIT_TRY(config, image::ImageProcessorConfig::from_file(proc_path));
    preprocessing = proc_path.filename().string();
  } else {
    // No processor file: the flags say how, and the geometry follows the input.
    config.processor_type.clear();
    config.family = "generic";
    config.do_rescale = true;
    config.rescale_factor = 1.0 / 255.0;
    config.do_normalize = true;
    config.image_mean = {0.0F, 0.0F, 0.0F};
    config.image_std = {1.0F, 1.0F, 1.0F};
    int size_h = static_cast<int>(h.value_or(req.hints.image_size.value_or(kDefaultImageSide)));
    int size_w = static_cast<int>(w.value_or(req.hints.image_size.value_or(kDefaultImageSide)));
    if (opts.resize_mode.value_or(ResizeMode::stretch) == ResizeMode::crop) {
      config.resize_rule = image::ResizeRule::shortest_edge;
      config.shortest_edge = std::max(size_h, size_w);
      config.do_center_crop = true;
      config.crop_height = size_h;
      config.crop_width = size_w;
    } else {
      config.resize_rule = image::ResizeRule::exact;
      config.height = size_h;
      config.width = size_w;
    }
    preprocessing = "flags";
    if (!h || !w)
      config.notes.push_back("the input's spatial size is not static: images are made " + std::to_string(size_h) + "x" +
                             std::to_string(size_w) + " (give another with --input-shape " + target.input->name + "=...)");
  }
  if (opts.mean) config.image_mean = *opts.mean;
  if (opts.std) config.image_std = *opts.std;
  if (opts.rescale) config.rescale_factor = *opts.rescale;
  if (opts.bgr) config.bgr = true;
  if (has_processor && (opts.mean || opts.std || opts.rescale || opts.bgr))
    config.notes.push_back("preprocessing flags override " + proc_path.filename().string());
  if (!has_processor && !opts.mean && !opts.std && !opts.rescale)
    config.notes.push_back("no preprocessor_config.json and no --image-mean/--image-std/--rescale: pixels are scaled to "
                           "[0, 1]; give the model's own normalisation with those flags");
  image::ImageProcessorConfig cfg = (h && w) ? config.with_fixed_output(static_cast<int>(*h), static_cast<int>(*w)) : config;
  Built b;
  b.notes = cfg.notes;
  char pre[200];
  std::snprintf(pre, sizeof pre, "mean %.4g,%.4g,%.4g std %.4g,%.4g,%.4g rescale %.6g%s", cfg.image_mean[0],
                cfg.image_mean[1], cfg.image_mean[2], cfg.image_std[0], cfg.image_std[1], cfg.image_std[2],
                cfg.do_rescale ? cfg.rescale_factor : 1.0, cfg.bgr ? " BGR" : "");
  b.notes.push_back("images feed input '" + target.input->name + "' as " +
                    std::string(setting_name(target.layout)) + " (" + target.layout_reason + "), " +
                    std::to_string(cfg.output_size(480, 640)[0]) + "x" + std::to_string(cfg.output_size(480, 640)[1]) +
                    ", " + pre);
  std::vector<ImageSource::Item> files;
  auto add_folder = [&](const fs::path& dir) -> Result<void> {
    MODELKIT_TRY(auto listed, image::list_image_files(dir));
    if (listed.empty()) return failure(quoted(dir) + " holds no .jpg, .jpeg or .png images");
    for (auto& f : listed) files.push_back({std::move(f), {}, {}});
    return {};
  };
  if (req.data) {
    MODELKIT_TRY_VOID(add_folder(*req.data));
    b.data_source = req.data->string();
  } else if (auto dir = default_image_dir()) {
    auto added = add_folder(*dir);
    if (!added) return added.take_error().with_context("MODELKIT_CALIBRATION_IMAGES");
    b.data_source = "MODELKIT_CALIBRATION_IMAGES " + dir->string();
  } else {
    for (const auto& e : default_images()) files.push_back({{}, e.bytes, e.name});
    b.data_source = "embedded default photographs";
  }
  if (static_cast<int>(files.size()) > req.samples) files.resize(static_cast<size_t>(req.samples));
  b.available = static_cast<int>(files.size());
  b.data_source += " (" + std::to_string(b.available) + " images via " + preprocessing + ")";
  b.source = std::make_unique<ImageSource>(std::move(cfg), std::move(files), b.data_source,
                                           target.input->name, target.layout);
  return b;
}

Result<Built> build_audio(const SourceRequest& req) {
  auto a = build_audio_source(req);
  if (!a) return a.take_error();
  Built b;
  b.source = std::move(a->source);
  b.data_source = std::move(a->data_source);
  b.available = a->available;
  b.notes = std::move(a->notes);
  return b;
}

}  // namespace

namespace {

// Splits one CSV record (RFC 4180: quoted fields, "" inside quotes) starting at `rest`;
// consumes it (quoted fields may span lines). Errors on an unterminated quote.
Result<std::vector<std::string>> next_csv_record(std::string_view& rest, size_t& line_no) {
  std::vector<std::string> fields(1);
  bool quoted_field = false, in_quotes = false;
  size_t i = 0;
  for (; i < rest.size(); ++i) {
    char c = rest[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < rest.size() && rest[i + 1] == '"') {
          fields.back().push_back('"');
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line_no;
        fields.back().push_back(c);
      }
      continue;
    }
    if (c == '"' && fields.back().empty() && !quoted_field) {
      in_quotes = quoted_field = true;
    } else if (c == ',') {
      fields.emplace_back();
      quoted_field = false;
    } else if (c == '\n') {
      break;
    } else if (c != '\r' || (i + 1 < rest.size() && rest[i + 1] != '\n')) {
      fields.back().push_back(c);
    }
  }
  if (in_quotes) return failure("a quoted field is not closed before the end of the file");
  rest.remove_prefix(std::min(rest.size(), i + 1));
  return fields;
}

std::vector<std::string> split_tabs(std::string_view line) {
  std::vector<std::string> out;
  while (true) {
    auto tab = line.find('\t');
    out.emplace_back(line.substr(0, tab));
    if (tab == std::string_view::npos) break;
    line.remove_prefix(tab + 1);
  }
  return out;
}

std::string missing_column(const std::string& column, const std::vector<std::string>& have, bool pair) {
  return "no column '" + column + "' (columns: " + util::join(have, ", ") + "); name the " +
         (pair ? "second text's column with --pair-column" : "text column with --text-column");
}

// .csv / .tsv with a header row.
Result<std::vector<TextSample>> read_table(const fs::path& path, std::string_view text, bool tsv,
                                           const TextColumns& columns) {
  std::vector<TextSample> out;
  size_t line_no = 1;
  std::string_view rest = text;
  auto next = [&]() -> Result<std::vector<std::string>> {
    if (tsv) {
      auto nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      return split_tabs(line);
    }
    return next_csv_record(rest, line_no);
  };
  auto header = next();
  if (!header) return header.take_error().with_context(quoted(path) + " line 1");
  std::string text_name = columns.text.value_or("text");
  auto find = [&](const std::string& name) -> std::optional<size_t> {
    for (size_t i = 0; i < header->size(); ++i)
      if ((*header)[i] == name) return i;
    return std::nullopt;
  };
  auto text_col = find(text_name);
  if (!text_col) return failure(quoted(path) + " line 1: " + missing_column(text_name, *header, false));
  std::optional<size_t> pair_col;
  if (columns.pair) {
    pair_col = find(*columns.pair);
    if (!pair_col) return failure(quoted(path) + " line 1: " + missing_column(*columns.pair, *header, true));
  } else {
    pair_col = find("text_pair");
  }
  while (!rest.empty()) {
    size_t first_line = ++line_no;
    auto fields = next();
    auto where = quoted(path) + " line " + std::to_string(first_line);
    if (!fields) return fields.take_error().with_context(where);
    if (fields->size() == 1 && util::trim((*fields)[0]).empty()) continue;  // blank line
    if (fields->size() != header->size())
      return failure(where + ": " + std::to_string(fields->size()) + " fields, the header has " +
                     std::to_string(header->size()));
    const auto& t = (*fields)[*text_col];
    if (!util::valid_utf8(t) || (pair_col && !util::valid_utf8((*fields)[*pair_col])))
      return failure(where + ": not valid UTF-8");
    if (util::trim(t).empty()) continue;
    out.push_back({t, pair_col ? std::optional<std::string>((*fields)[*pair_col]) : std::nullopt});
  }
  return out;
}

}  // namespace

Result<std::vector<TextSample>> read_text_samples(const fs::path& path, const TextColumns& columns,
                                                  const TextReadLimits& limits, std::size_t* cut_count) {
  const auto ext = util::to_lower(path.extension().string());
  std::size_t cut = 0;
  auto keep = [&](std::string text) {
    if (util::cut_utf8_chars(text, limits.max_chars)) ++cut;
    return text;
  };
  if (ext == ".csv" || ext == ".tsv") {
    // Tables are read whole (bounded): a quoted CSV field may span lines.
    MODELKIT_TRY(auto text, util::read_file(path, std::uint64_t{1} << 30));
    MODELKIT_TRY(auto rows, read_table(path, text, ext == ".tsv", columns));
    if (rows.size() > limits.max_samples) rows.resize(limits.max_samples);
    for (auto& r : rows) {
      r.text = keep(std::move(r.text));
      if (r.pair) r.pair = keep(std::move(*r.pair));
    }
    if (cut_count) *cut_count = cut;
    return rows;
  }
  const bool jsonl = ext == ".jsonl";
  if (!jsonl && (columns.text || columns.pair))
    return usage_error("--text-column and --pair-column apply to .jsonl, .csv and .tsv files, not " + quoted(path));
  const std::string text_name = columns.text.value_or("text");
  // A JSONL line is parsed whole, so it is bounded in bytes; a plain line is read only as far as
  // max_chars characters can reach (4 bytes each at most).
  constexpr std::size_t kMaxJsonlLineBytes = std::size_t{16} << 20;
  const std::size_t line_bytes =
      jsonl ? kMaxJsonlLineBytes : (limits.max_chars > kMaxJsonlLineBytes ? kMaxJsonlLineBytes * 4 : limits.max_chars * 4);
  MODELKIT_TRY(auto reader, util::LineReader::open(path));
  std::vector<TextSample> out;
  simdjson::dom::parser parser;
  while (out.size() < limits.max_samples) {
    MODELKIT_TRY(auto read, reader.next(line_bytes));
    if (!read) break;
    const auto line_no = read->number;
    if (read->cut() && jsonl)
      return failure(quoted(path) + " line " + std::to_string(line_no) + ": " + std::to_string(read->full_bytes) +
                     " bytes, more than the " + std::to_string(kMaxJsonlLineBytes) + " a JSONL line may hold");
    std::string_view line = read->text;
    if (util::trim(line).empty()) continue;
    if (!util::valid_utf8(line))
      return failure(quoted(path) + " line " + std::to_string(line_no) + ": not valid UTF-8");
    if (!jsonl) {
      const bool bytes_cut = read->cut();
      std::string text = std::move(read->text);
      if (util::cut_utf8_chars(text, limits.max_chars) || bytes_cut) ++cut;
      out.push_back({std::move(text), std::nullopt});
      continue;
    }
    auto doc = util::parse_json(parser, line);
    auto where = quoted(path) + " line " + std::to_string(line_no);
    if (!doc) return doc.take_error().with_context(where);
    if (!doc->is_object()) return failure(where + ": expected a JSON object with a '" + text_name + "' field");
    auto obj = doc->get_object().value_unsafe();
    auto keys = [&] {
      std::vector<std::string> k;
      for (auto field : obj) k.emplace_back(field.key);
      return k;
    };
    auto t = util::optional_string(obj, text_name);
    if (!t) return t.take_error().with_context(where);
    if (!*t) return failure(where + ": " + missing_column(text_name, keys(), false));
    std::optional<std::string> pair;
    auto p = util::optional_string(obj, columns.pair.value_or("text_pair"));
    if (!p) return p.take_error().with_context(where);
    if (*p) pair = keep(std::string(**p));
    else if (columns.pair) return failure(where + ": " + missing_column(*columns.pair, keys(), true));
    out.push_back({keep(std::string(**t)), std::move(pair)});
  }
  if (cut_count) *cut_count = cut;
  return out;
}

namespace {

bool has_extension(const fs::path& p, std::span<const std::string_view> exts) {
  auto e = util::to_lower(p.extension().string());
  return std::any_of(exts.begin(), exts.end(), [&](std::string_view x) { return e == x; });
}
constexpr std::array<std::string_view, 4> kTextExtensions = {".txt", ".jsonl", ".csv", ".tsv"};
constexpr std::array<std::string_view, 3> kImageExtensions = {".jpg", ".jpeg", ".png"};
constexpr std::array<std::string_view, 4> kAudioExtensions = {".wav", ".flac", ".mp3", ".ogg"};

}  // namespace

Result<std::string> data_kind_of(const fs::path& path) {
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) return failure("calibration data " + quoted(path) + " does not exist");
  if (fs::is_directory(status)) {
    int images = 0, audio = 0;
    for (const auto& e : fs::directory_iterator(path, ec)) {
      if (has_extension(e.path(), kImageExtensions)) ++images;
      if (has_extension(e.path(), kAudioExtensions)) ++audio;
    }
    if (ec) return failure("cannot read the calibration data folder " + quoted(path) + ": " + ec.message());
    if (images > 0 && audio > 0)
      return failure("calibration data folder " + quoted(path) + " holds both images and audio; give one kind");
    if (images > 0) return std::string("image");
    if (audio > 0) return std::string("audio");
    return failure("calibration data folder " + quoted(path) + " holds no .jpg, .jpeg or .png images and no audio files");
  }
  if (has_extension(path, kTextExtensions)) return std::string("text");
  if (has_extension(path, kAudioExtensions)) return std::string("audio");
  if (has_extension(path, kImageExtensions))
    return failure("calibration data " + quoted(path) + " is one image; name the folder that holds the images");
  return failure("calibration data " + quoted(path) +
                 ": expected .txt, .jsonl, .csv or .tsv text, a folder of images, or audio (.wav, .flac, .mp3, .ogg)");
}

namespace {

// The source of each kind with a dataset (random is the fallback every kind shares).
struct KindBuilder {
  CalibrationKind kind;
  Result<Built> (*build)(const SourceRequest&);
};
constexpr KindBuilder kKindBuilders[] = {
    {CalibrationKind::text, build_text},
    {CalibrationKind::image, build_image},
    {CalibrationKind::audio, build_audio},
};

const KindBuilder* builder_of(CalibrationKind kind) {
  for (const auto& b : kKindBuilders)
    if (b.kind == kind) return &b;
  return nullptr;
}

}  // namespace

Result<SelectedSource> select_source(const SourceRequest& request) {
  SelectedSource sel;
  auto& rec = sel.record;
  // A model the plan has no data kind for but that takes a raw waveform calibrates on audio.
  SourceRequest req = request;
  if (req.kind == CalibrationKind::random) {
    if (auto why = raw_audio_kind_reason(req.model_inputs)) {
      req.kind = CalibrationKind::audio;
      req.kind_reason = *why;
      rec.notes.push_back(*why);
    }
  }
  const std::string kind_name(setting_name(req.kind));
  rec.requested_kind = kind_name;
  rec.seed = req.seed;

  InputHints hints = req.hints;
  hints.sequence_length = req.sequence_length;
  if (req.sample_rate) hints.sampling_rate = *req.sample_rate;
  auto random = std::make_unique<RandomSource>(req.model_inputs, hints, req.input_shapes, req.seed, req.samples);
  auto probe = random->probe();
  if (!probe) return probe.take_error().with_context("random calibration inputs");

  std::optional<std::string> fallback;
  std::optional<Built> built;
  CalibrationKind kind = req.kind;
  rec.requested_samples = req.samples;
  if (req.data) {
    // The user's data is a contract: its own kind decides the source, and every way it could
    // go unused is an error, never a quiet switch to random numbers.
    rec.user_data = true;
    std::string what = "--calibration-data " + quoted(*req.data);
    MODELKIT_TRY(auto data_kind, data_kind_of(*req.data));
    // A .txt file for an audio model lists audio files, one path a line.
    if (data_kind == "text" && req.kind == CalibrationKind::audio && util::to_lower(req.data->extension().string()) == ".txt")
      data_kind = "audio";
    MODELKIT_TRY(kind, parse_setting<CalibrationKind>(data_kind));
    if (kind != req.kind)
      rec.notes.push_back("the data kind is " + data_kind + ", from --calibration-data (the plan's kind was " +
                          kind_name + ")");
    auto b = builder_of(kind)->build(req);
    if (!b) return b.take_error().with_context(what);
    std::set<std::string> model_names;
    for (const auto& in : req.model_inputs) model_names.insert(in.name);
    bool meets = false;
    for (const auto& n : b->source->produced_names()) meets |= model_names.count(n) > 0;
    if (!meets) {
      std::vector<std::string> model_list(model_names.begin(), model_names.end());
      return failure(what + ": the " + data_kind + " source produces " + util::join(b->source->produced_names(), ", ") +
                     ", none of which is an input of the model (" + util::join(model_list, ", ") + ")");
    }
    built = std::move(*b);
  } else if (const auto* builder = builder_of(req.kind)) {
    auto b = builder->build(req);
    if (!b) {
      fallback = "the " + kind_name + " source cannot be built: " + b.error().message;  // rule 2
    } else {
      std::set<std::string> model_names;
      for (const auto& in : req.model_inputs) model_names.insert(in.name);
      bool meets = false;
      for (const auto& n : b->source->produced_names()) meets |= model_names.count(n) > 0;
      if (!meets) {  // rule 3
        std::vector<std::string> model_list(model_names.begin(), model_names.end());
        fallback = "the " + kind_name + " source produces " + util::join(b->source->produced_names(), ", ") +
                   ", none of which is an input of the model (" + util::join(model_list, ", ") + ")";
      } else {
        built = std::move(*b);
      }
    }
  } else {
    rec.kind = "random";
    if (!req.kind_reason.empty()) rec.notes.push_back(req.kind_reason);  // rule 1: no dataset kind
  }

  rec.random_inputs = probe->records;
  if (!built) {
    rec.kind = "random";
    rec.data_source = random->describe();
    rec.samples = req.samples;
    if (fallback) {
      rec.fallback_reason = fallback;
      sel.warnings.push_back("calibration falls back to random inputs: " + *fallback);
    } else if (req.kind == CalibrationKind::random && !req.kind_reason.empty()) {
      rec.fallback_reason = req.kind_reason;
      sel.warnings.push_back("calibration uses random inputs: " + req.kind_reason);
    }
    sel.source = std::move(random);
    return sel;
  }

  rec.kind = setting_name(kind);
  rec.data_source = built->data_source;
  rec.samples = built->available;
  rec.notes.insert(rec.notes.end(), built->notes.begin(), built->notes.end());
  auto produced = built->source->produced_names();
  for (const auto& n : produced)
    if (!find_input(req.model_inputs, n)) rec.dropped_inputs.push_back(n);
  for (const auto& in : req.model_inputs) {
    if (std::find(produced.begin(), produced.end(), in.name) == produced.end()) {
      rec.filled_inputs.push_back(in.name);
      continue;
    }
    // Text and image sources make int64 ids and float32 pixels.
    ElementType made = kind == CalibrationKind::image ? ElementType::float32 : ElementType::int64;
    if (kind == CalibrationKind::audio) made = audio_produced_type(in.name);
    if (in.element_type != made && in.element_type != ElementType::undefined)
      rec.casts.push_back(in.name + " " + element_type_name(made) + " -> " + element_type_name(in.element_type));
  }
  for (const auto& n : rec.filled_inputs)
    sel.warnings.push_back("calibration input '" + n + "' is not made by the " + rec.kind +
                           " source; it is filled with random values");
  sel.source = std::make_unique<ConformingSource>(std::move(built->source), std::move(random), req.model_inputs,
                                                  built->available);
  return sel;
}

}  // namespace modelkit::calib
