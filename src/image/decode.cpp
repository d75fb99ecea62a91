// JPEG (libjpeg-turbo) and PNG (libpng) decoding to 8-bit RGB with PIL's conversions.
//
// Both libraries report fatal errors by longjmp (libjpeg's default even calls exit()), so each
// decoder runs in a function that owns no C++ objects between setjmp and the library calls:
// everything it fills lives in a caller-owned struct reached through a pointer, so unwinding
// by longjmp skips no destructor.
#include <modelkit/image.hpp>

#include "util/file.hpp"

#include <csetjmp>
#include <cstdio>
#include <cstring>

// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

namespace modelkit::image {
namespace {

// PIL refuses images above 2 * 89,478,485 pixels as decompression bombs; so do we, before
// allocating anything.
constexpr std::uint64_t max_pixels = 2ULL * 89'478'485ULL;

struct DecodeOutput {
  Image image;
  std::string error;  // set when decoding failed
};

bool too_large(std::uint64_t width, std::uint64_t height, DecodeOutput* out) {
  if (width == 0 || height == 0) {
    out->error = "image has no pixels (" + std::to_string(width) + "x" + std::to_string(height) + ")";
    return true;
  }
  if (width * height > max_pixels) {
    out->error = "image is " + std::to_string(width) + "x" + std::to_string(height) + ", more than the " +
                 std::to_string(max_pixels) + " pixels allowed";
    return true;
  }
  return false;
}

// ---------------------------------------------------------------- JPEG

struct JpegErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jpeg_fail(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings are ignored (PIL ignores libjpeg's "corrupt data" warnings too) except running out
// of data: libjpeg would pad the image with grey, PIL raises "image file is truncated".
void jpeg_message(j_common_ptr cinfo, int msg_level) {
  if (msg_level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
    auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
    std::snprintf(err->message, sizeof err->message, "truncated JPEG data");
    std::longjmp(err->jump, 1);
  }
}

void jpeg_silent(j_common_ptr) {}

// PIL's CMYK -> RGB (Convert.c cmyk2rgb): channel = k' - round(c * k' / 255), k' = 255 - k.
inline std::uint8_t cmyk_channel(int c, int nk) {
  int t = c * nk + 128;
  return static_cast<std::uint8_t>(nk - (((t >> 8) + t) >> 8));
}

bool decode_jpeg(const unsigned char* data, std::size_t size, DecodeOutput* out) {
  jpeg_decompress_struct cinfo;
  JpegErrorManager err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = jpeg_fail;
  err.pub.emit_message = jpeg_message;
  err.pub.output_message = jpeg_silent;
  err.message[0] = '\0';
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    out->error = std::strcmp(err.message, "truncated JPEG data") == 0
                     ? std::string(err.message)
                     : std::string("invalid JPEG data (") + err.message + ")";
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);

  int in_components = 3;
  std::string_view mode = "RGB";
  switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
      cinfo.out_color_space = JCS_GRAYSCALE;
      in_components = 1;
      mode = "L";
      break;
    case JCS_CMYK:
    case JCS_YCCK:
      cinfo.out_color_space = JCS_CMYK;  // libjpeg turns YCCK into CMYK
      in_components = 4;
      mode = "CMYK";
      break;
    default:
      cinfo.out_color_space = JCS_RGB;
      break;
  }
  out->image.source_mode.assign(mode.data(), mode.size());
  if (too_large(cinfo.image_width, cinfo.image_height, out)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_start_decompress(&cinfo);
  const int width = static_cast<int>(cinfo.output_width);
  const int height = static_cast<int>(cinfo.output_height);
  out->image.width = width;
  out->image.height = height;
  out->image.rgb.resize(static_cast<std::size_t>(width) * height * 3);
  out->image.source_format = "jpeg";
  // 4 bytes per CMYK pixel do not fit in a 3-byte output row: those rows go through a buffer
  // from libjpeg's own pool, which jpeg_destroy_decompress frees even after a longjmp.
  JSAMPARRAY cmyk_row = in_components != 4 ? nullptr
                                           : (*cinfo.mem->alloc_sarray)(reinterpret_cast<j_common_ptr>(&cinfo),
                                                                        JPOOL_IMAGE,
                                                                        static_cast<JDIMENSION>(width) * 4, 1);
  while (cinfo.output_scanline < cinfo.output_height) {
    const std::size_t y = cinfo.output_scanline;
    std::uint8_t* dst = out->image.rgb.data() + y * width * 3;
    if (in_components == 3) {
      JSAMPROW rows[1] = {dst};
      jpeg_read_scanlines(&cinfo, rows, 1);
    } else if (in_components == 1) {
      // Grey values go to the row's last third, then expand forwards without overlap issues.
      std::uint8_t* grey = dst + 2 * static_cast<std::size_t>(width);
      JSAMPROW rows[1] = {grey};
      jpeg_read_scanlines(&cinfo, rows, 1);
      for (int x = 0; x < width; ++x) {
        const std::uint8_t v = grey[x];
        dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = v;
      }
    } else {
      jpeg_read_scanlines(&cinfo, cmyk_row, 1);
      const std::uint8_t* cmyk = cmyk_row[0];
      for (int x = 0; x < width; ++x) {
        // PIL reads every CMYK JPEG as Adobe-inverted ("CMYK;I").
        const int c = 255 - cmyk[4 * x], m = 255 - cmyk[4 * x + 1], ye = 255 - cmyk[4 * x + 2];
        const int nk = cmyk[4 * x + 3];  // 255 - (255 - k)
        dst[3 * x] = cmyk_channel(c, nk);
        dst[3 * x + 1] = cmyk_channel(m, nk);
        dst[3 * x + 2] = cmyk_channel(ye, nk);
      }
    }
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

// ---------------------------------------------------------------- PNG

struct PngSource {
  const unsigned char* data;
  std::size_t size;
  std::size_t pos;
  char message[256];
};

[[noreturn]] void png_fail(png_structp png, png_const_charp message) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(src->message, sizeof src->message, "%s", message);
  png_longjmp(png, 1);
}

void png_warn(png_structp, png_const_charp) {}

void png_read_memory(png_structp png, png_bytep dst, png_size_t count) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (count > src->size - src->pos) png_error(png, "truncated PNG data");
  std::memcpy(dst, src->data + src->pos, count);
  src->pos += count;
}

const char* png_mode_name(int color_type, int bit_depth) {
  const bool deep = bit_depth == 16;
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: return bit_depth == 1 ? "1" : deep ? "I;16" : "L";
    case PNG_COLOR_TYPE_GRAY_ALPHA: return deep ? "LA;16" : "LA";
    case PNG_COLOR_TYPE_PALETTE: return "P";
    case PNG_COLOR_TYPE_RGB: return deep ? "RGB;16" : "RGB";
    case PNG_COLOR_TYPE_RGB_ALPHA: return deep ? "RGBA;16" : "RGBA";
    default: return "unknown";
  }
}

// Rows are read whole (interlaced images need every pass) into a buffer that the caller's
// struct owns; `rows` holds the row pointers, also caller-owned.
struct PngBuffers {
  std::vector<std::uint8_t> pixels;
  std::vector<png_bytep> rows;
};

bool decode_png(const unsigned char* data, std::size_t size, DecodeOutput* out, PngBuffers* buffers) {
  PngSource src{data, size, 0, {0}};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_fail, png_warn);
  if (png == nullptr) {
    out->error = "cannot initialise libpng";
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    out->error = "cannot initialise libpng";
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    out->error = std::strcmp(src.message, "truncated PNG data") == 0
                     ? std::string(src.message)
                     : std::string("invalid PNG data (") + src.message + ")";
    return false;
  }
  png_set_read_fn(png, &src, png_read_memory);
  // PIL checks no size limits of its own beyond the pixel count; lift libpng's 1M-pixel
  // per-dimension default so large but legal images decode as they do there.
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
  png_read_info(png, info);

  const png_uint_32 width = png_get_image_width(png, info);
  const png_uint_32 height = png_get_image_height(png, info);
  const int color_type = png_get_color_type(png, info);
  const int bit_depth = png_get_bit_depth(png, info);
  out->image.source_mode = png_mode_name(color_type, bit_depth);
  out->image.source_format = "png";
  if (too_large(width, height, out)) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  // 16-bit samples keep their high byte, as PIL's RGB;16B/LA;16B unpackers do.
  if (bit_depth == 16) png_set_strip_16(png);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);

  const int channels = png_get_channels(png, info);
  const std::size_t rowbytes = png_get_rowbytes(png, info);
  if (png_get_bit_depth(png, info) != 8 || channels < 1 || channels > 4 || rowbytes < width * channels) {
    png_destroy_read_struct(&png, &info, nullptr);
    out->error = "unsupported PNG layout (color type " + std::to_string(color_type) + ", bit depth " +
                 std::to_string(bit_depth) + ")";
    return false;
  }
  buffers->pixels.resize(rowbytes * height);
  buffers->rows.resize(height);
  for (png_uint_32 y = 0; y < height; ++y) buffers->rows[y] = buffers->pixels.data() + rowbytes * y;
  png_read_image(png, buffers->rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);

  // Channels after the transforms: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA (palette with tRNS).
  // Alpha is dropped without compositing, as convert("RGB") does.
  out->image.width = static_cast<int>(width);
  out->image.height = static_cast<int>(height);
  out->image.rgb.resize(static_cast<std::size_t>(width) * height * 3);
  for (png_uint_32 y = 0; y < height; ++y) {
    const std::uint8_t* s = buffers->rows[y];
    std::uint8_t* d = out->image.rgb.data() + static_cast<std::size_t>(y) * width * 3;
    for (png_uint_32 x = 0; x < width; ++x, d += 3, s += channels) {
      if (channels <= 2) {
        d[0] = d[1] = d[2] = s[0];
      } else {
        d[0] = s[0];
        d[1] = s[1];
        d[2] = s[2];
      }
    }
  }
  return true;
}

std::string_view other_format(std::string_view b) {
  if (b.starts_with("GIF87a") || b.starts_with("GIF89a")) return "GIF";
  if (b.starts_with("BM")) return "BMP";
  if (b.size() >= 12 && b.starts_with("RIFF") && b.substr(8, 4) == "WEBP") return "WebP";
  if (b.starts_with("II*") || b.starts_with("MM\0*")) return "TIFF";
  if (b.size() >= 12 && b.substr(4, 4) == "ftyp") return "HEIF/AVIF";
  return {};
}

}  // namespace

Result<Image> decode_image_bytes(std::string_view bytes, std::string_view name) {
  std::string who;
  who.append("'").append(name).append("'");
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  DecodeOutput out;
  bool ok = false;
  if (bytes.size() >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) {
    ok = decode_jpeg(data, bytes.size(), &out);
  } else if (bytes.size() >= 8 && std::memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0) {
    PngBuffers buffers;
    ok = decode_png(data, bytes.size(), &out, &buffers);
  } else if (bytes.empty()) {
    return failure(who + ": empty file, not an image");
  } else if (auto format = other_format(bytes); !format.empty()) {
    return failure(who + ": " + std::string(format) + " images are not supported (only JPEG and PNG)");
  } else {
    return failure(who + ": not a JPEG or PNG file");
  }
  if (!ok) return failure(who + ": " + out.error);
  return std::move(out.image);
}

Result<Image> decode_image(const std::filesystem::path& path) {
  // A 1 GiB cap: no photo worth calibrating on is larger, and the pixel cap applies after.
  MODELKIT_TRY(auto bytes, util::read_file(path, std::uint64_t{1} << 30));
  return decode_image_bytes(bytes, path.string());
}

}  // namespace modelkit::image
