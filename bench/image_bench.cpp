// Image decode + preprocess cost per calibration sample: a 512x512 JPEG photo to 224x224
// pixel_values, with the ViT (bilinear, exact 224), CLIP (bicubic shortest edge + crop) and
// DINOv2 (bicubic 256 + crop 224) recipes; and the resize filters alone.
#include <modelkit/image.hpp>

#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <jpeglib.h>

namespace {

using namespace modelkit::image;

// astronaut.png (skimage, unpacked by scripts/setup.d/50-images.sh) when present, otherwise a
// generated pattern; either way a 512x512 RGB image.
Image source_image() {
  const std::filesystem::path photo =
      std::filesystem::path(MODELKIT_TEST_DATA_DIR) / ".." / ".." / ".deps" / "images" / "skimage" / "astronaut.png";
  if (auto img = decode_image(photo); img.ok() && img->width == 512 && img->height == 512) return *img;
  std::fprintf(stderr, "note: %s not found (run scripts/setup.sh); benchmarking a generated image\n",
               photo.string().c_str());
  Image img;
  img.width = img.height = 512;
  img.rgb.resize(512 * 512 * 3);
  for (int y = 0; y < 512; ++y)
    for (int x = 0; x < 512; ++x)
      for (int c = 0; c < 3; ++c)
        img.rgb[(y * 512 + x) * 3 + c] = static_cast<std::uint8_t>((x * (c + 1) + y * (3 - c) + ((x ^ y) & 31)) & 255);
  return img;
}

// The same pixels as a baseline JPEG (quality 90, 4:2:0), encoded with libjpeg in memory.
std::string encode_jpeg(const Image& img) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(img.width);
  cinfo.image_height = static_cast<JDIMENSION>(img.height);
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 90, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(img.rgb.data() + static_cast<std::size_t>(cinfo.next_scanline) * img.width * 3);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  std::string out(reinterpret_cast<char*>(buffer), size);
  jpeg_destroy_compress(&cinfo);
  std::free(buffer);
  return out;
}

const std::string& jpeg_bytes() {
  static const std::string bytes = encode_jpeg(source_image());
  return bytes;
}

ImageProcessorConfig config(const char* json) {
  auto c = ImageProcessorConfig::from_json(json);
  if (!c.ok()) {
    std::fprintf(stderr, "bad bench config: %s\n", c.error().message.c_str());
    std::abort();
  }
  return *c;
}

const char* const vit_json = R"({"image_processor_type": "ViTImageProcessor", "size": {"height": 224, "width": 224},
  "resample": 2, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]})";
const char* const clip_json = R"({"image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": 224},
  "crop_size": {"height": 224, "width": 224}, "do_center_crop": true, "resample": 3})";
const char* const dinov2_json = R"({"image_processor_type": "BitImageProcessor", "size": {"shortest_edge": 256},
  "crop_size": {"height": 224, "width": 224}, "do_center_crop": true, "resample": 3,
  "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]})";

void BM_DecodeJpeg512(benchmark::State& state) {
  const std::string& bytes = jpeg_bytes();
  for (auto _ : state) {
    auto img = decode_image_bytes(bytes, "bench.jpg");
    benchmark::DoNotOptimize(img);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(bytes.size()));
}
BENCHMARK(BM_DecodeJpeg512)->Unit(benchmark::kMillisecond);

void preprocess_only(benchmark::State& state, const char* json) {
  const ImageProcessorConfig c = config(json);
  auto img = decode_image_bytes(jpeg_bytes(), "bench.jpg");
  for (auto _ : state) {
    auto px = preprocess(*img, c);
    benchmark::DoNotOptimize(px);
  }
}
BENCHMARK_CAPTURE(preprocess_only, vit_224, vit_json)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(preprocess_only, clip_224, clip_json)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(preprocess_only, dinov2_224, dinov2_json)->Unit(benchmark::kMillisecond);

// The figure per calibration sample: bytes of a 512x512 JPEG in, [3, 224, 224] floats out.
void decode_and_preprocess(benchmark::State& state, const char* json) {
  const ImageProcessorConfig c = config(json);
  const std::string& bytes = jpeg_bytes();
  for (auto _ : state) {
    auto img = decode_image_bytes(bytes, "bench.jpg");
    auto px = preprocess(*img, c);
    benchmark::DoNotOptimize(px);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK_CAPTURE(decode_and_preprocess, vit_224, vit_json)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(decode_and_preprocess, clip_224, clip_json)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(decode_and_preprocess, dinov2_224, dinov2_json)->Unit(benchmark::kMillisecond);

void BM_Resize512To224(benchmark::State& state) {
  const auto filter = static_cast<Resample>(state.range(0));
  auto img = decode_image_bytes(jpeg_bytes(), "bench.jpg");
  for (auto _ : state) {
    Image out = resize(*img, 224, 224, filter);
    benchmark::DoNotOptimize(out);
  }
  state.SetLabel(std::string(resample_name(filter)));
}
BENCHMARK(BM_Resize512To224)->DenseRange(0, 5)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
