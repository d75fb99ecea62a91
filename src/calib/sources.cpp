#include <modelkit/calib_sources.hpp>
#include <modelkit/image.hpp>
#include <modelkit/tokenizer.hpp>

#include "calib/audio_source.hpp"

#include "util/file.hpp"
#include "util/json_read.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace modelkit::calib {
namespace fs = std::filesystem;

namespace {

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

// Where default photographs may be: MODELKIT_CALIBRATION_IMAGES, then the folders the
// setup script fills from Debian's packages.
std::vector<fs::path> default_image_dirs() {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("MODELKIT_CALIBRATION_IMAGES"); env && *env) dirs.emplace_back(env);
#ifdef MODELKIT_DEFAULT_IMAGE_DIR
  dirs.emplace_back(fs::path(MODELKIT_DEFAULT_IMAGE_DIR) / "skimage");
  dirs.emplace_back(fs::path(MODELKIT_DEFAULT_IMAGE_DIR) / "matplotlib");
#endif
  return dirs;
}

// A deterministic synthetic photograph stand-in: smooth gradients, a few shapes and
// noise, so activations see edges, flat areas and texture.
image::Image generated_image(int index) {
  image::Image img;
  img.width = 320 + 32 * (index % 3);
  img.height = 240 + 24 * (index % 4);
  img.rgb.resize(static_cast<size_t>(img.width) * img.height * 3);
  img.source_mode = "RGB";
  img.source_format = "generated";
  std::uint32_t state = 2654435761u * static_cast<std::uint32_t>(index + 1);
  auto noise = [&]() {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return static_cast<int>(state % 21) - 10;
  };
  double cx = img.width * (0.3 + 0.1 * (index % 5)), cy = img.height * (0.4 + 0.05 * (index % 7));
  double radius = std::min(img.width, img.height) * (0.15 + 0.05 * (index % 3));
  for (int y = 0; y < img.height; ++y) {
    for (int x = 0; x < img.width; ++x) {
      double fx = static_cast<double>(x) / img.width, fy = static_cast<double>(y) / img.height;
      int r = static_cast<int>(255 * fx), g = static_cast<int>(255 * fy), b = static_cast<int>(128 + 127 * std::sin(6.28 * (fx + fy + index * 0.1)));
      if (((x / (16 + index % 16)) + (y / (16 + index % 16))) % 2 == 0 && y > img.height * 2 / 3) r = g = b = 230;
      if ((x - cx) * (x - cx) + (y - cy) * (y - cy) < radius * radius) {
        r = (index * 53) % 256;
        g = (index * 97) % 256;
        b = (index * 151) % 256;
      }
      auto* px = &img.rgb[(static_cast<size_t>(y) * img.width + x) * 3];
      px[0] = static_cast<std::uint8_t>(std::clamp(r + noise(), 0, 255));
      px[1] = static_cast<std::uint8_t>(std::clamp(g + noise(), 0, 255));
      px[2] = static_cast<std::uint8_t>(std::clamp(b + noise(), 0, 255));
    }
  }
  return img;
}

class ImageSource final : public SampleSource {
 public:
  ImageSource(image::ImageProcessorConfig config, std::vector<fs::path> files, int generated, std::string description)
      : config_(std::move(config)), files_(std::move(files)), generated_(generated),
        description_(std::move(description)) {}

  Result<std::optional<Sample>> next() override {
    image::Image img;
    // Undecodable files are skipped (and named once): one bad photo must not stop a build.
    while (pos_ < files_.size()) {
      auto decoded = image::decode_image(files_[pos_]);
      if (decoded) {
        img = std::move(*decoded);
        break;
      }
      if (std::find(skipped_.begin(), skipped_.end(), decoded.error().message) == skipped_.end())
        skipped_.push_back(decoded.error().message);
      ++pos_;
    }
    if (pos_ >= files_.size()) {
      if (static_cast<int>(pos_ - files_.size()) >= generated_) return std::optional<Sample>{};
      img = generated_image(static_cast<int>(pos_ - files_.size()));
    }
    ++pos_;
    auto pixels = image::preprocess(img, config_);
    if (!pixels) return pixels.take_error();
    Sample out;
    out.push_back(Tensor::from_values<float>("pixel_values", {1, pixels->shape[0], pixels->shape[1], pixels->shape[2]},
                                             pixels->data));
    return std::optional<Sample>{std::move(out)};
  }
  Result<void> rewind() override {
    pos_ = 0;
    return {};
  }
  std::vector<std::string> produced_names() const override { return {"pixel_values"}; }
  std::string describe() const override { return description_; }
  std::vector<std::string> skipped_inputs() const override {
    std::vector<std::string> out;
    for (const auto& m : skipped_) out.push_back("skipped an image: " + m);
    return out;
  }

 private:
  std::vector<std::string> skipped_;
  image::ImageProcessorConfig config_;
  std::vector<fs::path> files_;
  int generated_;
  std::string description_;
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
    auto read = read_text_samples(*req.data, limits, &cut);
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

Result<Built> build_image(const SourceRequest& req) {
  auto proc_path = req.checkpoint_folder / "preprocessor_config.json";
  std::error_code ec;
  if (!fs::is_regular_file(proc_path, ec))
    return failure("no preprocessor_config.json in " + quoted(req.checkpoint_folder));
  auto config = image::ImageProcessorConfig::from_file(proc_path);
  if (!config) return config.take_error();
  const auto* pixels = find_input(req.model_inputs, "pixel_values");
  auto h = static_dim(pixels, 2), w = static_dim(pixels, 3);
  image::ImageProcessorConfig cfg = (h && w) ? config->with_fixed_output(static_cast<int>(*h), static_cast<int>(*w)) : *config;
  Built b;
  b.notes = cfg.notes;
  std::vector<fs::path> files;
  int generated = 0;
  if (req.data) {
    auto listed = image::list_image_files(*req.data);
    if (!listed) return listed.take_error();
    if (listed->empty()) return failure(quoted(*req.data) + " holds no .jpg, .jpeg or .png images");
    files = std::move(*listed);
    b.data_source = req.data->string();
  } else {
    for (const auto& dir : default_image_dirs()) {
      if (!fs::is_directory(dir, ec)) continue;
      auto listed = image::list_image_files(dir);
      if (!listed) continue;
      for (auto& f : *listed) files.push_back(std::move(f));
    }
    if (files.empty()) {
      generated = req.samples;
      b.data_source = "generated images (no default photographs installed)";
    } else {
      b.data_source = "default photographs";
    }
  }
  if (static_cast<int>(files.size()) > req.samples) files.resize(static_cast<size_t>(req.samples));
  b.available = static_cast<int>(files.size()) + generated;
  b.data_source += " (" + std::to_string(b.available) + " images via " + proc_path.filename().string() + ")";
  b.source = std::make_unique<ImageSource>(std::move(cfg), std::move(files), generated, b.data_source);
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

Result<std::vector<TextSample>> read_text_samples(const fs::path& path, const TextReadLimits& limits,
                                                  std::size_t* cut_count) {
  // A JSONL line is parsed whole, so it is bounded in bytes; a plain line is read only as far as
  // max_chars characters can reach (4 bytes each at most).
  constexpr std::size_t kMaxJsonlLineBytes = std::size_t{16} << 20;
  const bool jsonl = util::to_lower(path.extension().string()) == ".jsonl";
  const std::size_t line_bytes =
      jsonl ? kMaxJsonlLineBytes : (limits.max_chars > kMaxJsonlLineBytes ? kMaxJsonlLineBytes * 4 : limits.max_chars * 4);
  MODELKIT_TRY(auto reader, util::LineReader::open(path));
  std::vector<TextSample> out;
  std::size_t cut = 0;
  auto keep = [&](std::string text) {
    if (util::cut_utf8_chars(text, limits.max_chars)) ++cut;
    return text;
  };
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
    if (!doc->is_object()) return failure(where + ": expected a JSON object with a 'text' field");
    auto obj = doc->get_object().value_unsafe();
    auto t = util::optional_string(obj, "text");
    if (!t) return t.take_error().with_context(where);
    if (!*t) return failure(where + ": missing field 'text'");
    auto p = util::optional_string(obj, "text_pair");
    if (!p) return p.take_error().with_context(where);
    out.push_back({keep(std::string(**t)), *p ? std::optional<std::string>(keep(std::string(**p))) : std::nullopt});
  }
  if (cut_count) *cut_count = cut;
  return out;
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
  if (const auto* builder = builder_of(req.kind)) {
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

  rec.kind = kind_name;
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
    ElementType made = in.name == "pixel_values" ? ElementType::float32 : ElementType::int64;
    if (req.kind == CalibrationKind::audio) made = audio_produced_type(in.name);
    if (in.element_type != made && in.element_type != ElementType::undefined)
      rec.casts.push_back(in.name + " " + element_type_name(made) + " -> " + element_type_name(in.element_type));
  }
  for (const auto& n : rec.filled_inputs)
    sel.warnings.push_back("calibration input '" + n + "' is not made by the " + kind_name +
                           " source; it is filled with random values");
  sel.source = std::make_unique<ConformingSource>(std::move(built->source), std::move(random), req.model_inputs,
                                                  built->available);
  return sel;
}

}  // namespace modelkit::calib
