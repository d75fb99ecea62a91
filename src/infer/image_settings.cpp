// Image pre-processing settings shared by build, run and eval: the settings as the image source
// takes them, and a built folder's recorded settings under the flags given now.
#include <modelkit/run.hpp>

#include <algorithm>
#include <cmath>

namespace modelkit::infer {

Result<calib::ImageOptions> image_options(const ImageSettings& s) {
  calib::ImageOptions o;
  o.input = s.input;
  o.layout = s.layout;
  o.resize_mode = s.resize_mode;
  auto triple = [](const std::optional<std::vector<double>>& v, std::string_view what,
                   bool positive) -> Result<std::optional<std::array<float, 3>>> {
    if (!v) return std::optional<std::array<float, 3>>{};
    if (v->size() != 3) return usage_error(std::string(what) + ": expected 3 values (R,G,B), got " + std::to_string(v->size()));
    std::array<float, 3> out{};
    for (size_t i = 0; i < 3; ++i) {
      if (!std::isfinite((*v)[i]) || (positive && (*v)[i] <= 0))
        return usage_error(std::string(what) + ": values must be finite" + (positive ? " and positive" : ""));
      out[i] = static_cast<float>((*v)[i]);
    }
    return std::optional<std::array<float, 3>>{out};
  };
  MODELKIT_TRY(o.mean, triple(s.mean, "image mean", false));
  MODELKIT_TRY(o.std, triple(s.std, "image std", true));
  if (s.rescale && !(std::isfinite(*s.rescale) && *s.rescale > 0)) return usage_error("rescale factor must be positive");
  o.rescale = s.rescale;
  o.bgr = s.bgr;
  return o;
}

ImageSettings merge_image_settings(const ImageSettings& recorded, const ImageSettings& given) {
  ImageSettings out = recorded;
  if (given.input) out.input = given.input;
  if (given.layout) out.layout = given.layout;
  if (given.resize_mode) out.resize_mode = given.resize_mode;
  if (given.mean) out.mean = given.mean;
  if (given.std) out.std = given.std;
  if (given.rescale) out.rescale = given.rescale;
  if (given.bgr) out.bgr = true;
  return out;
}

std::vector<InputShape> merge_input_shapes(const std::vector<InputShape>& recorded, const std::vector<InputShape>& given) {
  std::vector<InputShape> out;
  for (const auto& r : recorded)
    if (std::none_of(given.begin(), given.end(), [&](const InputShape& g) { return g.name == r.name; })) out.push_back(r);
  out.insert(out.end(), given.begin(), given.end());
  return out;
}

}  // namespace modelkit::infer
