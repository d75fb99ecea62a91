// Images for calibration: decoding JPEG/PNG to 8-bit RGB and preprocessing them as a Hugging
// Face checkpoint's preprocessor_config.json says, reproducing what transformers' image
// processors compute (PIL resize on uint8 images, center crop, rescale and normalize in float).
#pragma once

#include <modelkit/result.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace modelkit::image {

// An 8-bit RGB image, rows top to bottom, pixels interleaved R,G,B: what PIL's
// Image.open(path).convert("RGB") gives.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;  // width * height * 3 bytes
  // What the file held, in PIL's mode names ("RGB", "L", "LA", "RGBA", "P", "CMYK", "1",
  // "I;16", "RGB;16", ...), so callers can report what was converted.
  std::string source_mode;
  std::string source_format;  // "jpeg" or "png"
};

// Decodes a JPEG or PNG file (chosen by its first bytes, not its name) into RGB:
// grayscale is replicated, alpha dropped (as PIL's convert("RGB")), palettes expanded, 16-bit
// samples reduced to their high byte, CMYK/YCCK JPEGs converted with PIL's formula (Adobe
// inverted CMYK, as PIL assumes). EXIF orientation is not applied, as transformers does not.
// Errors are one line naming the file: "'x.jpg': truncated JPEG data", "'y.txt': not a JPEG
// or PNG file".
[[nodiscard]] Result<Image> decode_image(const std::filesystem::path& path);
// Same from memory; `name` stands for the file in error messages.
[[nodiscard]] Result<Image> decode_image_bytes(std::string_view bytes, std::string_view name = "<memory>");

// Image files (.jpg, .jpeg, .png, any letter case) directly inside `dir`, sorted by name.
// Errors when `dir` is not a readable folder; an empty folder gives an empty list.
[[nodiscard]] Result<std::vector<std::filesystem::path>> list_image_files(const std::filesystem::path& dir);

// PIL's resampling filters, with PIL's integer codes (the `resample` field).
enum class Resample { nearest = 0, lanczos = 1, bilinear = 2, bicubic = 3, box = 4, hamming = 5 };
[[nodiscard]] std::string_view resample_name(Resample r);

// Resizes like PIL's Image.resize((width, height), resample) on an RGB image: separable
// convolution whose support widens with the downscale factor, fixed-point coefficients and
// 8-bit rounding after each pass; nearest uses PIL's affine nearest-neighbour sampling.
// width and height must be >= 1.
[[nodiscard]] Image resize(const Image& in, int width, int height, Resample resample);

// transformers' center_crop: takes the centred height x width window; where the image is
// smaller, it is first padded with zeros around it (so the window may contain black borders).
[[nodiscard]] Image center_crop(const Image& in, int height, int width);

// How the resize step chooses its output size, as the processor classes do.
enum class ResizeRule {
  exact,               // {height, width}: to that size (ViT, DeiT, BEiT, SigLIP, ...)
  shortest_edge,       // shortest edge to N, aspect kept, long edge truncated (CLIP, BiT, ...)
  convnext,            // ConvNeXT: N < 384 -> shortest edge int(N / crop_pct) then N x N crop;
                       //           N >= 384 -> N x N
  shortest_longest,    // DETR: shortest edge to N unless the long edge would pass M
  longest_edge,        // longest edge to M, aspect kept, rounded (SAM)
  max_height_width,    // DETR's {max_height, max_width}: fit inside, aspect kept
};

struct ImageProcessorConfig {
  // The class named by image_processor_type (or feature_extractor_type, FeatureExtractor
  // read as ImageProcessor); empty when the file names none.
  std::string processor_type;
  // The behaviour family it maps to: "vit", "clip", "convnext", "deit", "bit", "beit", "detr",
  // "siglip", "mobilevit", or "generic" for types this table does not know.
  std::string family;

  bool do_convert_rgb = true;  // decoded images are always RGB; kept for the record
  bool do_resize = true;
  ResizeRule resize_rule = ResizeRule::exact;
  int height = 0, width = 0;                // exact
  int shortest_edge = 0, longest_edge = 0;  // shortest_edge / convnext / shortest_longest / longest_edge
  int max_height = 0, max_width = 0;        // max_height_width
  double crop_pct = 224.0 / 256.0;          // convnext
  Resample resample = Resample::bilinear;
  bool do_center_crop = false;
  int crop_height = 0, crop_width = 0;
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::array<float, 3> image_mean{0.5F, 0.5F, 0.5F};
  std::array<float, 3> image_std{0.5F, 0.5F, 0.5F};
  bool bgr = false;  // do_flip_channel_order: output channels B, G, R

  // What was not taken literally and why: an unknown processor type handled with the generic
  // fields, fields that are ignored (padding, label reduction, ...), a forced output size.
  // Never empty silently: callers print these as warnings and record them.
  std::vector<std::string> notes;

  // Reads preprocessor_config.json. Errors name the file and the field:
  // "preprocessor_config.json: field 'size' must be ..., got ...".
  [[nodiscard]] static Result<ImageProcessorConfig> from_file(const std::filesystem::path& path);
  [[nodiscard]] static Result<ImageProcessorConfig> from_json(std::string_view text);

  // Output (height, width) of preprocess() for an image of the given size.
  [[nodiscard]] std::array<int, 2> output_size(int image_height, int image_width) const;
  // True when every image comes out the same size (then output_size ignores its arguments).
  [[nodiscard]] bool has_fixed_output() const;

  // A copy whose output is always height x width, for a model input with a static shape.
  // Unchanged when the config already gives that size; otherwise the geometry is scaled to it
  // (resize then crop keep their ratio; aspect-keeping resizes become a plain resize) and the
  // change is added to notes.
  [[nodiscard]] ImageProcessorConfig with_fixed_output(int height, int width) const;
};

// pixel_values for one image: float32, channels first.
struct PixelValues {
  std::array<std::int64_t, 3> shape{3, 0, 0};  // {3, height, width}
  std::vector<float> data;                      // 3 * height * width values
};

// Runs the processor's steps on a decoded image: resize (PIL, uint8), center crop, rescale
// (in double, stored as float32 as transformers does), normalize, channel order.
[[nodiscard]] Result<PixelValues> preprocess(const Image& image, const ImageProcessorConfig& config);

}  // namespace modelkit::image
