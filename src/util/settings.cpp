#include <modelkit/settings.hpp>

#include "util/strings.hpp"

namespace modelkit {

std::string_view closest_name(std::span<const std::string_view> names, std::string_view got) {
  std::string_view best;
  std::size_t best_distance = std::string_view::npos;
  for (auto name : names)
    if (auto d = util::edit_distance(util::to_lower(got), name); d < best_distance) best_distance = d, best = name;
  if (!best.empty() && best_distance > 0 && best_distance <= std::max<std::size_t>(2, got.size() / 3)) return best;
  return {};
}

Error unknown_setting_value(std::span<const std::string_view> names, std::string_view got) {
  std::string list;
  std::string_view best;
  std::size_t best_distance = std::string_view::npos;
  for (auto name : names) {
    if (!list.empty()) list += ", ";
    list += name;
    auto d = util::edit_distance(util::to_lower(got), name);
    if (d < best_distance) {
      best_distance = d;
      best = name;
    }
  }
  std::string message = "expected one of " + list + ", got " + quoted(got);
  if (!best.empty() && best_distance > 0 && best_distance <= std::max<std::size_t>(2, got.size() / 3))
    message += " (did you mean " + quoted(best) + "?)";
  return usage_error(message);
}

}  // namespace modelkit
