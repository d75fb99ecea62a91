#include <modelkit/random_inputs.hpp>

#include "onnx/onnx_json.hpp"
#include "util/json_writer.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>
#include <numbers>

namespace modelkit {
namespace {

// --- deterministic random numbers (splitmix64: same stream on every platform and stdlib) ---
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  std::int64_t below(std::int64_t n) { return n <= 1 ? 0 : static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(n)); }
  double normal() {  // Box-Muller
    double u1 = uniform01(), u2 = uniform01();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

 private:
  std::uint64_t state_;
};

std::uint64_t stream_seed(std::uint64_t seed, std::string_view name) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a of the input name
  for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ULL;
  return Rng(seed ^ h).next();
}

// --- what an input is, by name (tables as data) -------------------------------------------------
enum class Fill { token_ids, ones, zeros, positions, image, audio, sample_rate, state, generic };

struct NameRule {
  std::string_view pattern;
  enum Match { exact, prefix, suffix, contains } match;
  Fill fill;
};

// First match wins; names are compared lowercase. Recurrent state and KV caches come first:
// a model starts a sequence from zeros there (Silero's h/c/state, GenAI's past_key_values.*),
// and noise in them would calibrate ranges no real run sees.
constexpr std::array<NameRule, 34> kNameRules = {{
    {"state", NameRule::exact, Fill::state},
    {"h", NameRule::exact, Fill::state},
    {"c", NameRule::exact, Fill::state},
    {"h0", NameRule::exact, Fill::state},
    {"c0", NameRule::exact, Fill::state},
    {"hidden_state", NameRule::exact, Fill::state},
    {"cell_state", NameRule::exact, Fill::state},
    {"_state", NameRule::suffix, Fill::state},
    {"past_", NameRule::prefix, Fill::state},
    {"present", NameRule::prefix, Fill::state},
    {"_cache", NameRule::suffix, Fill::state},
    {"cache_", NameRule::prefix, Fill::state},
    {"token_type_ids", NameRule::suffix, Fill::zeros},
    {"segment_ids", NameRule::suffix, Fill::zeros},
    {"position_ids", NameRule::suffix, Fill::positions},
    {"mask", NameRule::contains, Fill::ones},
    {"input_ids", NameRule::suffix, Fill::token_ids},
    {"_ids", NameRule::suffix, Fill::token_ids},
    {"ids", NameRule::exact, Fill::token_ids},
    {"tokens", NameRule::exact, Fill::token_ids},
    {"pixel_values", NameRule::contains, Fill::image},
    {"pixel", NameRule::contains, Fill::image},
    {"image", NameRule::contains, Fill::image},
    {"input_values", NameRule::exact, Fill::audio},
    {"input_features", NameRule::exact, Fill::audio},
    {"audio", NameRule::contains, Fill::audio},
    {"waveform", NameRule::contains, Fill::audio},
    {"speech", NameRule::contains, Fill::audio},
    {"pcm", NameRule::exact, Fill::audio},
    {"sr", NameRule::exact, Fill::sample_rate},
    {"sample_rate", NameRule::exact, Fill::sample_rate},
    {"sampling_rate", NameRule::exact, Fill::sample_rate},
    {"samplerate", NameRule::exact, Fill::sample_rate},
    {"sample_rates", NameRule::exact, Fill::sample_rate},
}};

Fill fill_for(std::string_view name) {
  auto lower = util::to_lower(name);
  for (const auto& r : kNameRules) {
    bool hit = r.match == NameRule::exact    ? lower == r.pattern
               : r.match == NameRule::prefix ? lower.starts_with(r.pattern)
               : r.match == NameRule::suffix ? lower.ends_with(r.pattern)
                                             : lower.find(r.pattern) != std::string::npos;
    if (hit) return r.fill;
  }
  return Fill::generic;
}

constexpr std::int64_t kDefaultImageSize = 224;
constexpr std::int64_t kDefaultChannels = 3;
constexpr std::int64_t kDefaultSampleRate = 16000;
constexpr double kAudioStd = 0.1;
constexpr std::int64_t kAudioSeconds = 1;  // raw audio inputs get one second of samples
constexpr std::int64_t kFallbackIdBound = 100;
constexpr std::uint64_t kMaxInputBytes = std::uint64_t{1} << 31;

enum class DimKind { batch, past, total, sequence, samples, spatial, channels, other };

struct DimRule {
  std::string_view pattern;
  bool exact;
  DimKind kind;
};
// First match wins. The past/total spellings come before "seq": GenAI and optimum exports tie
// total_sequence_length (attention_mask) to past_sequence_length (the KV cache) + sequence_length.
constexpr std::array<DimRule, 21> kDimRules = {{
    {"past", false, DimKind::past},            {"total", false, DimKind::total},
    {"sample", false, DimKind::samples},
    {"batch", false, DimKind::batch},          {"n", true, DimKind::batch},
    {"b", true, DimKind::batch},               {"bs", true, DimKind::batch},
    {"sequence", false, DimKind::sequence},    {"seq", false, DimKind::sequence},
    {"tokens", false, DimKind::sequence},      {"length", true, DimKind::sequence},
    {"text_length", true, DimKind::sequence},  {"height", false, DimKind::spatial},
    {"width", false, DimKind::spatial},        {"h", true, DimKind::spatial},
    {"w", true, DimKind::spatial},             {"image_size", true, DimKind::spatial},
    {"channels", false, DimKind::channels},    {"num_channels", true, DimKind::channels},
    {"c", true, DimKind::channels},            {"channel", true, DimKind::channels},
}};

DimKind dim_kind(std::string_view symbol) {
  auto lower = util::to_lower(symbol);
  for (const auto& r : kDimRules)
    if (r.exact ? lower == r.pattern : lower.find(r.pattern) != std::string::npos) return r.kind;
  return DimKind::other;
}

bool is_float(ElementType t) {
  return t == ElementType::float32 || t == ElementType::float64 || t == ElementType::float16 ||
         t == ElementType::bfloat16;
}
bool is_integer(ElementType t) {
  switch (t) {
    case ElementType::int8: case ElementType::uint8: case ElementType::int16: case ElementType::uint16:
    case ElementType::int32: case ElementType::uint32: case ElementType::int64: case ElementType::uint64:
      return true;
    default:
      return false;
  }
}

// Writes value v (double) at element i in the tensor's element type.
void store(Tensor& t, std::uint64_t i, double v) {
  std::byte* p = t.bytes.data();
  auto put = [&](auto x) { std::memcpy(p + i * sizeof(x), &x, sizeof(x)); };
  switch (t.type) {
    case ElementType::float32: put(static_cast<float>(v)); break;
    case ElementType::float64: put(v); break;
    case ElementType::float16: put(float_to_half_bits(static_cast<float>(v))); break;
    case ElementType::bfloat16: put(float_to_bfloat16_bits(static_cast<float>(v))); break;
    case ElementType::int8: put(static_cast<std::int8_t>(v)); break;
    case ElementType::uint8: put(static_cast<std::uint8_t>(v)); break;
    case ElementType::int16: put(static_cast<std::int16_t>(v)); break;
    case ElementType::uint16: put(static_cast<std::uint16_t>(v)); break;
    case ElementType::int32: put(static_cast<std::int32_t>(v)); break;
    case ElementType::uint32: put(static_cast<std::uint32_t>(v)); break;
    case ElementType::int64: put(static_cast<std::int64_t>(v)); break;
    case ElementType::uint64: put(static_cast<std::uint64_t>(v)); break;
    case ElementType::boolean: put(static_cast<std::uint8_t>(v != 0.0)); break;
    default: break;
  }
}

std::int64_t integer_type_max(ElementType t) {
  switch (t) {
    case ElementType::int8: return 127;
    case ElementType::uint8: return 255;
    case ElementType::int16: return 32767;
    case ElementType::uint16: return 65535;
    case ElementType::int32: case ElementType::uint32: return 2147483647;
    default: return std::int64_t{1} << 53;  // exact in a double
  }
}

Result<std::int64_t> parse_dim(std::string_view text, std::string_view whole) {
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || v < 0 || v > (std::int64_t{1} << 31))
    return usage_error("input shape " + quoted(whole) + ": dimension " + quoted(text) +
                       " is not an integer from 0 to 2^31");
  return v;
}

}  // namespace

std::uint16_t float_to_half_bits(float f) {
  std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  std::uint32_t sign = (x >> 16) & 0x8000u;
  std::uint32_t exp = (x >> 23) & 0xFFu;
  std::uint32_t mant = x & 0x7FFFFFu;
  if (exp == 0xFF) return static_cast<std::uint16_t>(sign | 0x7C00u | (mant ? 0x200u : 0));  // inf/nan
  int e = static_cast<int>(exp) - 127 + 15;
  if (e >= 31) return static_cast<std::uint16_t>(sign | 0x7C00u);  // overflow -> inf
  if (e <= 0) {                                                     // subnormal or zero
    if (e < -10) return static_cast<std::uint16_t>(sign);
    mant |= 0x800000u;
    int shift = 14 - e;
    std::uint32_t half = mant >> shift;
    std::uint32_t rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1u))) ++half;
    return static_cast<std::uint16_t>(sign | half);
  }
  std::uint32_t half = sign | (static_cast<std::uint32_t>(e) << 10) | (mant >> 13);
  std::uint32_t rem = mant & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) ++half;  // may carry into exponent: correct
  return static_cast<std::uint16_t>(half);
}

std::uint16_t float_to_bfloat16_bits(float f) {
  std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  if ((x & 0x7F800000u) == 0x7F800000u && (x & 0x7FFFFFu)) return static_cast<std::uint16_t>((x >> 16) | 0x40u);
  x += 0x7FFFu + ((x >> 16) & 1u);
  return static_cast<std::uint16_t>(x >> 16);
}

Result<InputShape> parse_input_shape(std::string_view text) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return usage_error("input shape " + quoted(text) + " must look like name=1x128");
  InputShape out{std::string(text.substr(0, eq)), {}};
  std::string_view dims = text.substr(eq + 1);
  while (!dims.empty()) {
    auto sep = dims.find_first_of("x,");
    auto part = dims.substr(0, sep);
    MODELKIT_TRY(auto v, parse_dim(part, text));
    out.shape.push_back(v);
    if (sep == std::string_view::npos) break;
    dims = dims.substr(sep + 1);
    if (dims.empty()) return usage_error("input shape " + quoted(text) + " ends with a separator");
  }
  return out;
}

std::optional<RawAudioInput> find_raw_audio_input(std::span<const onnx::ValueInfo> inputs) {
  // Names that say "waveform" on their own, and generic names that need a sample-rate input beside them.
  static constexpr std::string_view kAudioNames[] = {"input_values", "samples", "wav", "signal", "audio_signal"};
  static constexpr std::string_view kAudioParts[] = {"audio", "waveform", "pcm", "speech"};
  static constexpr std::string_view kGenericNames[] = {"input", "inputs", "x"};
  std::optional<std::string> rate_input;
  for (const auto& in : inputs)
    if (fill_for(in.name) == Fill::sample_rate && is_integer(in.element_type) && in.has_shape && in.shape.size() <= 1)
      rate_input = in.name;
  std::optional<RawAudioInput> found;
  int candidates = 0;
  for (const auto& in : inputs) {
    if (in.kind != "tensor" || !is_float(in.element_type) || !in.has_shape) continue;
    if (in.shape.empty() || in.shape.size() > 2) continue;
    const auto lower = util::to_lower(in.name);
    bool audio_named = std::find(std::begin(kAudioNames), std::end(kAudioNames), lower) != std::end(kAudioNames);
    for (auto part : kAudioParts) audio_named |= lower.find(part) != std::string::npos;
    const bool generic = std::find(std::begin(kGenericNames), std::end(kGenericNames), lower) != std::end(kGenericNames);
    if (!audio_named && !(generic && rate_input)) continue;
    const auto& samples = in.shape.back();
    // A fixed length shorter than 10 ms at 16 kHz is a feature vector, not a waveform.
    if (samples.value && *samples.value < 160) continue;
    if (in.shape.size() == 2 && in.shape[0].value && *in.shape[0].value > 64) continue;
    ++candidates;
    RawAudioInput r;
    r.name = in.name;
    r.rank = in.shape.size();
    r.static_samples = samples.value;
    r.sample_rate_input = rate_input;
    r.reason = "input '" + in.name + "' is " + std::string(element_type_name(in.element_type)) + " " +
               onnx::format_dims(in) + (audio_named ? ", named as audio" : "") +
               (rate_input ? " beside the sample-rate input '" + *rate_input + "'" : "");
    found = std::move(r);
  }
  if (candidates != 1) return std::nullopt;
  return found;
}

Result<RandomInputs> make_random_inputs(std::span<const onnx::ValueInfo> inputs, const InputHints& hints,
                                        std::span<const InputShape> overrides, std::uint64_t seed) {
  // Overrides must name real inputs, once each.
  for (std::size_t i = 0; i < overrides.size(); ++i) {
    bool known = std::any_of(inputs.begin(), inputs.end(), [&](const auto& v) { return v.name == overrides[i].name; });
    if (!known) {
      std::vector<std::string> names;
      for (const auto& v : inputs) names.push_back(v.name);
      return usage_error("input shape for " + quoted(overrides[i].name) + ": the model has no such input (inputs: " +
                         util::join(names, ", ") + ")");
    }
    for (std::size_t j = 0; j < i; ++j)
      if (overrides[j].name == overrides[i].name)
        return usage_error("input shape for " + quoted(overrides[i].name) + " is given twice");
  }

  bool audio_model = std::any_of(inputs.begin(), inputs.end(), [](const onnx::ValueInfo& v) {
    return fill_for(v.name) == Fill::sample_rate && is_integer(v.element_type);
  });
  const std::int64_t audio_samples = kAudioSeconds * hints.sampling_rate.value_or(kDefaultSampleRate);
  const std::int64_t past_length = hints.past_sequence_length.value_or(hints.sequence_length);

  // A symbolic dim's size and why. "a + b" expressions (optimum's "past_sequence_length + 1")
  // are summed term by term, so tied dims stay consistent.
  std::function<std::pair<std::int64_t, std::string>(const std::string&, std::size_t, std::size_t, bool, bool)>
      resolve_dim = [&](const std::string& symbol, std::size_t d, std::size_t rank, bool image_like, bool raw_audio)
      -> std::pair<std::int64_t, std::string> {
    auto named = std::find_if(hints.dims.begin(), hints.dims.end(), [&](const auto& p) { return p.first == symbol; });
    if (named != hints.dims.end()) return {named->second, "hint"};
    if (symbol.find('+') != std::string::npos) {
      std::int64_t sum = 0;
      std::string_view rest = symbol;
      while (true) {
        auto plus = rest.find('+');
        auto term = std::string(util::trim(rest.substr(0, plus)));
        std::int64_t v = 0;
        auto [ptr, ec] = std::from_chars(term.data(), term.data() + term.size(), v);
        if (ec != std::errc() || ptr != term.data() + term.size()) v = resolve_dim(term, d, rank, false, false).first;
        sum += v;
        if (plus == std::string_view::npos) break;
        rest.remove_prefix(plus + 1);
      }
      return {sum, "sum of its terms"};
    }
    DimKind kind = dim_kind(symbol);
    if (kind == DimKind::batch) return {hints.batch_size, "batch"};
    if (kind == DimKind::past) return {past_length, "past length: the cache holds that many earlier tokens"};
    if (kind == DimKind::total) return {past_length + hints.sequence_length, "past length + sequence length"};
    if (kind == DimKind::samples || (raw_audio && kind != DimKind::batch && d + 1 == rank))
      return {audio_samples, std::to_string(kAudioSeconds) + " s of audio at " +
                                 std::to_string(hints.sampling_rate.value_or(kDefaultSampleRate)) + " Hz"};
    if (kind == DimKind::sequence) return {hints.sequence_length, "sequence length"};
    if (kind == DimKind::spatial || (image_like && d >= 2))
      return {hints.image_size.value_or(kDefaultImageSize), hints.image_size ? "image_size" : "default image size"};
    if (kind == DimKind::channels || (image_like && d == 1))
      return {hints.num_channels.value_or(kDefaultChannels), hints.num_channels ? "num_channels" : "default channels"};
    if (image_like && d == 0) return {hints.batch_size, "batch"};
    return {1, "no hint"};
  };

  RandomInputs out;
  out.seed = seed;
  const auto raw_audio = find_raw_audio_input(inputs);
  for (const auto& input : inputs) {
    const bool is_raw_audio = raw_audio && raw_audio->name == input.name;
    if (input.kind != "tensor")
      return failure("input " + quoted(input.name) + " is a " + input.kind +
                     ", random inputs can only fill tensors");
    ElementType type = input.element_type;
    if (!is_float(type) && !is_integer(type) && type != ElementType::boolean)
      return failure("input " + quoted(input.name) + " has element type " + quoted(element_type_name(type)) +
                     ", random inputs cannot fill it");

    RandomInputRecord record;
    record.name = input.name;
    record.type = type;
    const InputShape* override_shape = nullptr;
    for (const auto& o : overrides)
      if (o.name == input.name) override_shape = &o;

    Fill fill = fill_for(input.name);
    if (override_shape) {
      if (input.has_shape && override_shape->shape.size() != input.shape.size())
        return usage_error("input shape for " + quoted(input.name) + " has " +
                           std::to_string(override_shape->shape.size()) + " dimensions, the model declares " +
                           std::to_string(input.shape.size()) + " " + onnx::format_dims(input));
      for (std::size_t d = 0; input.has_shape && d < input.shape.size(); ++d)
        if (input.shape[d].value && *input.shape[d].value != override_shape->shape[d])
          return usage_error("input shape for " + quoted(input.name) + ": dimension " + std::to_string(d) +
                             " is fixed at " + std::to_string(*input.shape[d].value) + " in the model, not " +
                             std::to_string(override_shape->shape[d]));
      record.shape = override_shape->shape;
      record.dims.push_back("shape given: " + format_shape(record.shape));
    } else {
      if (!input.has_shape)
        return failure("input " + quoted(input.name) + " declares no shape, so its rank is unknown; give its shape (" +
                       input.name + "=1x...)");
      bool image_like = is_float(type) && input.shape.size() == 4 &&
                        (fill == Fill::image || fill == Fill::generic) &&
                        (!input.shape[1].value || *input.shape[1].value <= 4);
      // A waveform: [samples] or [batch, samples] of an audio-named input, or any such float
      // input of a model that also takes a sample rate (Silero's 'input' with 'sr').
      bool waveform = is_raw_audio || (is_float(type) && input.shape.size() <= 2 &&
                                       (fill == Fill::audio || (fill == Fill::generic && audio_model)) &&
                                       util::to_lower(input.name) != "input_features");
      for (std::size_t d = 0; d < input.shape.size(); ++d) {
        const auto& dim = input.shape[d];
        if (dim.value) {
          if (*dim.value < 0)
            return failure("input " + quoted(input.name) + ": dimension " + std::to_string(d) + " is negative (" +
                           std::to_string(*dim.value) + ")");
          record.shape.push_back(*dim.value);
          continue;
        }
        if (dim.symbol.empty())
          return failure("input " + quoted(input.name) + ": dimension " + std::to_string(d) + " of " +
                         onnx::format_dims(input) + " has neither a size nor a name; give the input's shape (" +
                         input.name + "=...)");
        auto [value, why] = resolve_dim(dim.symbol, d, input.shape.size(), image_like, waveform);
        record.shape.push_back(value);
        record.dims.push_back(dim.symbol + "=" + std::to_string(value) + " (" + why + ")");
      }
    }

    std::uint64_t count = 1;
    for (auto d : record.shape) {
      if (d != 0 && count > kMaxInputBytes / static_cast<std::uint64_t>(d))
        return failure("input " + quoted(input.name) + " of shape " + format_shape(record.shape) + " is too large");
      count *= static_cast<std::uint64_t>(d);
    }
    if (element_storage_bytes(type, count) > kMaxInputBytes)
      return failure("input " + quoted(input.name) + " of shape " + format_shape(record.shape) +
                     " would take more than 2 GiB");

    MODELKIT_TRY(auto tensor, Tensor::zeros(input.name, type, record.shape));
    Rng rng(stream_seed(seed, input.name));
    auto& t = tensor;

    // A float or bool input named like ids/masks still gets a sensible fill.
    if ((fill == Fill::token_ids || fill == Fill::positions || fill == Fill::sample_rate) && !is_integer(type))
      fill = Fill::generic;
    if ((fill == Fill::image || fill == Fill::audio) && !is_float(type)) fill = Fill::generic;
    if (is_raw_audio) fill = Fill::audio;
    if (fill == Fill::generic && audio_model && is_float(type) && record.shape.size() <= 2) fill = Fill::audio;

    switch (fill) {
      case Fill::token_ids: {
        std::int64_t bound = kFallbackIdBound;
        std::string source = "no vocabulary size known";
        if (input.index_bound && *input.index_bound > 0) {
          bound = *input.index_bound;
          source = "the model's embedding rows";
        } else if (hints.vocab_size && *hints.vocab_size > 0) {
          bound = *hints.vocab_size;
          source = "vocab_size";
        }
        bound = std::min(bound, integer_type_max(type) + 1);
        for (std::uint64_t i = 0; i < count; ++i) store(t, i, static_cast<double>(rng.below(bound)));
        record.fill = "token ids uniform in [0, " + std::to_string(bound) + ") (" + source + ")";
        break;
      }
      case Fill::ones:
        for (std::uint64_t i = 0; i < count; ++i) store(t, i, 1.0);
        record.fill = "ones (mask)";
        break;
      case Fill::zeros:
        record.fill = "zeros (token types)";
        break;
      case Fill::positions: {
        std::uint64_t last = record.shape.empty() ? 1 : static_cast<std::uint64_t>(std::max<std::int64_t>(record.shape.back(), 1));
        for (std::uint64_t i = 0; i < count; ++i) store(t, i, static_cast<double>(i % last));
        record.fill = "positions 0.." + std::to_string(last - 1) + " along the last axis";
        break;
      }
      case Fill::image:
        for (std::uint64_t i = 0; i < count; ++i) store(t, i, rng.normal());
        record.fill = "normal(0, 1) (image)";
        break;
      case Fill::audio:
        for (std::uint64_t i = 0; i < count; ++i) store(t, i, kAudioStd * rng.normal());
        record.fill = "normal(0, 0.1) (audio noise)";
        break;
      case Fill::state:
        record.fill = "zeros (recurrent state / KV cache: a sequence starts from zeros)";
        break;
      case Fill::sample_rate: {
        std::int64_t rate = hints.sampling_rate.value_or(kDefaultSampleRate);
        for (std::uint64_t i = 0; i < count; ++i) store(t, i, static_cast<double>(rate));
        record.fill = "sample rate " + std::to_string(rate) + (hints.sampling_rate ? " (sampling_rate)" : " (default)");
        break;
      }
      case Fill::generic:
        if (is_float(type)) {
          for (std::uint64_t i = 0; i < count; ++i) store(t, i, rng.normal());
          record.fill = "normal(0, 1)";
        } else if (is_integer(type) && input.index_bound && *input.index_bound > 0) {
          std::int64_t bound = std::min(*input.index_bound, integer_type_max(type) + 1);
          for (std::uint64_t i = 0; i < count; ++i) store(t, i, static_cast<double>(rng.below(bound)));
          record.fill = "uniform in [0, " + std::to_string(bound) + ") (the model's embedding rows)";
        } else {
          record.fill = type == ElementType::boolean ? "false" : "zeros";
        }
        break;
    }
    out.tensors.push_back(std::move(t));
    out.records.push_back(std::move(record));
  }
  return out;
}

void write_random_inputs_json(util::JsonWriter& json, const RandomInputs& inputs) {
  json.begin_object();
  json.field("seed", inputs.seed);
  json.key("inputs");
  write_random_input_records_json(json, inputs.records);
  json.end_object();
}

void write_random_input_records_json(util::JsonWriter& json, const std::vector<RandomInputRecord>& records) {
  json.begin_array();
  for (const auto& r : records) {
    json.begin_object();
    json.field("name", r.name);
    json.field("element_type", element_type_name(r.type));
    json.key("shape").begin_array();
    for (auto d : r.shape) json.value(d);
    json.end_array();
    json.field("fill", r.fill);
    json.key("dims").string_array(r.dims);
    json.end_object();
  }
  json.end_array();
}

}  // namespace modelkit
