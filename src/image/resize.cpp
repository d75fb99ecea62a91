// PIL's Image.resize for 8-bit RGB images, step for step (libImaging/Resample.c and the
// nearest-neighbour path of Geometry.c), so resized pixels equal PIL's exactly: the same filter
// functions in double, the same support widening on downscale, the same 22-bit fixed-point
// coefficients and rounding, and an 8-bit image between the horizontal and vertical passes.
#include <modelkit/image.hpp>

#include <algorithm>
#include <cmath>
#include <numbers>

namespace modelkit::image {
namespace {

double box_filter(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

double bilinear_filter(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

double hamming_filter(double x) {
  x = std::fabs(x);
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x *= std::numbers::pi;
  // PIL writes the constants as floats: 0.54f + 0.46f * cos(x).
  return std::sin(x) / x * (0.54F + 0.46F * std::cos(x));
}

double bicubic_filter(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double sinc_filter(double x) {
  if (x == 0.0) return 1.0;
  x *= std::numbers::pi;
  return std::sin(x) / x;
}

double lanczos_filter(double x) {
  if (-3.0 <= x && x < 3.0) return sinc_filter(x) * sinc_filter(x / 3);
  return 0.0;
}

struct Filter {
  double (*fn)(double);
  double support;
};

Filter filter_for(Resample r) {
  switch (r) {
    case Resample::box: return {box_filter, 0.5};
    case Resample::bilinear: return {bilinear_filter, 1.0};
    case Resample::hamming: return {hamming_filter, 1.0};
    case Resample::bicubic: return {bicubic_filter, 2.0};
    case Resample::lanczos: return {lanczos_filter, 3.0};
    case Resample::nearest: break;
  }
  return {bilinear_filter, 1.0};  // not reached: nearest has its own path
}

// 8 bits of result, 2 spare bits for filters whose partial sums leave [0, 1].
constexpr int precision_bits = 32 - 8 - 2;

// For each output index: the first input index, how many inputs, and ksize fixed-point weights.
struct Coefficients {
  int ksize = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<std::int32_t> weights;  // out_size * ksize
};

Coefficients precompute(int in_size, int out_size, const Filter& filter) {
  // PIL takes the box as floats; for a whole image (0, in_size) the difference is exact.
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = filter.support * filterscale;
  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(static_cast<std::size_t>(out_size) * c.ksize, 0);
  std::vector<double> k(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = filter.fn((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    std::int32_t* out = &c.weights[static_cast<std::size_t>(xx) * c.ksize];
    for (int x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? k[x] / ww : k[x];
      const double fixed = v * (1 << precision_bits);
      out[x] = static_cast<std::int32_t>(v < 0 ? -0.5 + fixed : 0.5 + fixed);
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

inline std::uint8_t clip8(std::int32_t v) {
  v >>= precision_bits;  // arithmetic shift, as in PIL
  return static_cast<std::uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

Image resize_nearest(const Image& in, int width, int height) {
  // Geometry.c ImagingScaleAffine: source coordinate of output x is the running sum
  // xo = a/2 + x*a (accumulated, as PIL does), truncated; out-of-range samples stay black.
  Image out;
  out.width = width;
  out.height = height;
  out.rgb.assign(static_cast<std::size_t>(width) * height * 3, 0);
  const double ax = static_cast<double>(static_cast<float>(in.width)) / width;
  const double ay = static_cast<double>(static_cast<float>(in.height)) / height;
  std::vector<int> xin(width, -1);
  double xo = ax * 0.5;
  for (int x = 0; x < width; ++x) {
    const int xi = xo < 0.0 ? -1 : static_cast<int>(xo);
    if (xi >= 0 && xi < in.width) xin[x] = xi;
    xo += ax;
  }
  double yo = ay * 0.5;
  for (int y = 0; y < height; ++y) {
    const int yi = yo < 0.0 ? -1 : static_cast<int>(yo);
    yo += ay;
    if (yi < 0 || yi >= in.height) continue;
    const std::uint8_t* src = in.rgb.data() + static_cast<std::size_t>(yi) * in.width * 3;
    std::uint8_t* dst = out.rgb.data() + static_cast<std::size_t>(y) * width * 3;
    for (int x = 0; x < width; ++x) {
      if (xin[x] < 0) continue;
      std::copy_n(src + static_cast<std::size_t>(xin[x]) * 3, 3, dst + static_cast<std::size_t>(x) * 3);
    }
  }
  return out;
}

// Horizontal pass over rows [row0, row0 + rows) of `in`, to `width` columns.
Image resample_horizontal(const Image& in, int row0, int rows, int width, const Coefficients& c) {
  Image out;
  out.width = width;
  out.height = rows;
  out.rgb.resize(static_cast<std::size_t>(width) * rows * 3);
  for (int yy = 0; yy < rows; ++yy) {
    const std::uint8_t* src = in.rgb.data() + static_cast<std::size_t>(yy + row0) * in.width * 3;
    std::uint8_t* dst = out.rgb.data() + static_cast<std::size_t>(yy) * width * 3;
    for (int xx = 0; xx < width; ++xx) {
      const std::int32_t* k = &c.weights[static_cast<std::size_t>(xx) * c.ksize];
      const std::uint8_t* s = src + static_cast<std::size_t>(c.first[xx]) * 3;
      std::int32_t s0 = 1 << (precision_bits - 1), s1 = s0, s2 = s0;
      for (int x = 0; x < c.count[xx]; ++x, s += 3) {
        s0 += s[0] * k[x];
        s1 += s[1] * k[x];
        s2 += s[2] * k[x];
      }
      dst[3 * xx] = clip8(s0);
      dst[3 * xx + 1] = clip8(s1);
      dst[3 * xx + 2] = clip8(s2);
    }
  }
  return out;
}

// Vertical pass; `row_offset` is the first source row the coefficients' indices count from.
Image resample_vertical(const Image& in, int row_offset, int height, const Coefficients& c) {
  Image out;
  out.width = in.width;
  out.height = height;
  const std::size_t row_len = static_cast<std::size_t>(in.width) * 3;
  out.rgb.resize(row_len * height);
  // Integer sums are exact, so accumulating whole rows (cache-friendly) gives PIL's result.
  std::vector<std::int32_t> acc(row_len);
  for (int yy = 0; yy < height; ++yy) {
    std::fill(acc.begin(), acc.end(), 1 << (precision_bits - 1));
    const std::int32_t* k = &c.weights[static_cast<std::size_t>(yy) * c.ksize];
    for (int y = 0; y < c.count[yy]; ++y) {
      const std::uint8_t* src = in.rgb.data() + static_cast<std::size_t>(c.first[yy] + y - row_offset) * row_len;
      const std::int32_t w = k[y];
      for (std::size_t i = 0; i < row_len; ++i) acc[i] += src[i] * w;
    }
    std::uint8_t* dst = out.rgb.data() + static_cast<std::size_t>(yy) * row_len;
    for (std::size_t i = 0; i < row_len; ++i) dst[i] = clip8(acc[i]);
  }
  return out;
}

}  // namespace

std::string_view resample_name(Resample r) {
  switch (r) {
    case Resample::nearest: return "nearest";
    case Resample::lanczos: return "lanczos";
    case Resample::bilinear: return "bilinear";
    case Resample::bicubic: return "bicubic";
    case Resample::box: return "box";
    case Resample::hamming: return "hamming";
  }
  return "unknown";
}

Image resize(const Image& in, int width, int height, Resample resample) {
  width = std::max(width, 1);
  height = std::max(height, 1);
  if (width == in.width && height == in.height) {
    Image out = in;  // PIL returns a copy when the size does not change
    return out;
  }
  Image out;
  if (resample == Resample::nearest) {
    out = resize_nearest(in, width, height);
  } else {
    const Filter filter = filter_for(resample);
    const Coefficients vertical = precompute(in.height, height, filter);
    // Only the source rows the vertical pass reads are resampled horizontally.
    const int row_first = vertical.first.front();
    const int row_last = vertical.first.back() + vertical.count.back();
    if (width != in.width) {
      const Coefficients horizontal = precompute(in.width, width, filter);
      Image temp = resample_horizontal(in, row_first, row_last - row_first, width, horizontal);
      out = height != in.height ? resample_vertical(temp, row_first, height, vertical) : std::move(temp);
    } else {
      out = resample_vertical(in, 0, height, vertical);
    }
  }
  out.source_mode = in.source_mode;
  out.source_format = in.source_format;
  return out;
}

Image center_crop(const Image& in, int height, int width) {
  // transformers.image_transforms.center_crop, with Python's floor division.
  auto floor_div2 = [](int v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); };
  int top = floor_div2(in.height - height);
  int left = floor_div2(in.width - width);
  Image out;
  out.width = width;
  out.height = height;
  out.source_mode = in.source_mode;
  out.source_format = in.source_format;
  out.rgb.assign(static_cast<std::size_t>(width) * height * 3, 0);
  // Where the window leaves the image (the image is smaller), transformers pads with zeros
  // centred (ceil of half the excess on top/left) and crops the padded image; this is the same
  // as copying the overlap of the window and the image into a zero canvas at these offsets.
  const int pad_top = in.height < height ? (height - in.height + 1) / 2 : 0;
  const int pad_left = in.width < width ? (width - in.width + 1) / 2 : 0;
  top += pad_top;
  left += pad_left;
  // Window [top, top + height) in padded coordinates; the image sits at [pad_top, pad_top + h).
  for (int y = 0; y < height; ++y) {
    const int sy = top + y - pad_top;
    if (sy < 0 || sy >= in.height) continue;
    for (int x = 0; x < width; ++x) {
      const int sx = left + x - pad_left;
      if (sx < 0 || sx >= in.width) continue;
      std::copy_n(in.rgb.data() + (static_cast<std::size_t>(sy) * in.width + sx) * 3, 3,
                  out.rgb.data() + (static_cast<std::size_t>(y) * width + x) * 3);
    }
  }
  return out;
}

}  // namespace modelkit::image
