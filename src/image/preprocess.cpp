// The processor's steps in transformers' order: resize (PIL, on the uint8 image), center crop
// (uint8, zero padding), rescale (float64 multiply stored as float32), normalize (float32),
// channel flip, channels first.
#include <modelkit/image.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <system_error>

namespace modelkit::image {
namespace {

// ConvNeXT's resize: below 384, shortest edge to int(N / crop_pct) then an N x N center crop;
// from 384 up, a plain N x N resize.
Image convnext_resize(const Image& in, const ImageProcessorConfig& c) {
  const int n = c.shortest_edge;
  if (n >= 384) return resize(in, n, n, c.resample);
  const int edge = static_cast<int>(n / c.crop_pct);
  ImageProcessorConfig shortest = c;
  shortest.resize_rule = ResizeRule::shortest_edge;
  shortest.shortest_edge = edge;
  shortest.do_center_crop = false;
  const auto hw = shortest.output_size(in.height, in.width);
  return center_crop(resize(in, hw[1], hw[0], c.resample), n, n);
}

}  // namespace

Result<PixelValues> preprocess(const Image& image, const ImageProcessorConfig& config) {
  if (image.width < 1 || image.height < 1 ||
      image.rgb.size() != static_cast<std::size_t>(image.width) * image.height * 3)
    return failure("image has no pixels or its buffer does not match " + std::to_string(image.width) + "x" +
                   std::to_string(image.height) + " RGB");

  // A config built by hand (not from_json) may leave the sizes its rule needs at 0.
  if (config.do_resize) {
    const bool sizes_set = [&] {
      switch (config.resize_rule) {
        case ResizeRule::exact: return config.height > 0 && config.width > 0;
        case ResizeRule::shortest_edge:
        case ResizeRule::convnext: return config.shortest_edge > 0 && config.crop_pct > 0;
        case ResizeRule::shortest_longest: return config.shortest_edge > 0 && config.longest_edge > 0;
        case ResizeRule::longest_edge: return config.longest_edge > 0;
        case ResizeRule::max_height_width: return config.max_height > 0 && config.max_width > 0;
      }
      return false;
    }();
    if (!sizes_set) return failure("image processor config: do_resize is set but its output size is not");
  }
  if (config.do_center_crop && (config.crop_height < 1 || config.crop_width < 1))
    return failure("image processor config: do_center_crop is set but crop_size is not");

  // The pipeline only copies when a step changes the image.
  const Image* current = &image;
  Image resized, cropped;
  if (config.do_resize) {
    if (config.resize_rule == ResizeRule::convnext) {
      resized = convnext_resize(image, config);
    } else {
      ImageProcessorConfig resize_only = config;
      resize_only.do_center_crop = false;
      const auto hw = resize_only.output_size(image.height, image.width);
      resized = resize(image, hw[1], hw[0], config.resample);
    }
    current = &resized;
  }
  if (config.do_center_crop) {
    cropped = center_crop(*current, config.crop_height, config.crop_width);
    current = &cropped;
  }

  const int h = current->height;
  const int w = current->width;
  const std::size_t plane = static_cast<std::size_t>(h) * w;
  PixelValues out;
  out.shape = {3, h, w};
  out.data.resize(plane * 3);

  // Per channel and per 8-bit value the result is fixed: compute the 256-entry table with
  // transformers' arithmetic (rescale: float64 multiply then float32; normalize: float32
  // (x - mean) / std), then look pixels up.
  for (int ch = 0; ch < 3; ++ch) {
    float table[256];
    for (int v = 0; v < 256; ++v) {
      float x = config.do_rescale ? static_cast<float>(static_cast<double>(v) * config.rescale_factor)
                                  : static_cast<float>(v);
      if (config.do_normalize) x = (x - config.image_mean[ch]) / config.image_std[ch];
      table[v] = x;
    }
    const int dst_ch = config.bgr ? 2 - ch : ch;
    float* dst = out.data.data() + plane * dst_ch;
    const std::uint8_t* src = current->rgb.data() + ch;
    for (std::size_t i = 0; i < plane; ++i) dst[i] = table[src[3 * i]];
  }
  return out;
}

Result<std::vector<std::filesystem::path>> list_image_files(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    return failure(std::string("'").append(dir.string()).append("' is not a folder") +
                   (ec ? " (" + ec.message() + ")" : ""));
  std::vector<std::filesystem::path> files;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return failure("cannot list '" + dir.string() + "': " + ec.message());
  for (const auto& entry : it) {
    std::string ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return std::tolower(ch); });
    if (ext != ".jpg" && ext != ".jpeg" && ext != ".png") continue;
    if (!entry.is_regular_file(ec)) continue;
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace modelkit::image
