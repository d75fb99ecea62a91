// config.json and preprocessor_config.json are written and read by Python's json module, which
// accepts what strict JSON does not: NaN, Infinity and -Infinity as numbers (real configs hold
// them) and repeated keys (the last one wins). These helpers let a strict parser read them the
// same way.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace modelkit::util {

// The text with every NaN, Infinity and -Infinity outside strings replaced by null (modelkit
// reads no float field of these files, so the value itself is never needed); nullopt when the
// text holds none of them.
[[nodiscard]] std::optional<std::string> python_json_literals_to_null(std::string_view text);

}  // namespace modelkit::util
