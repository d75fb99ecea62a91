// The one rule for everything modelkit writes (build and quantize outputs, config -o,
// --save-ranges): an existing output is replaced only when the user passed --force, and an input
// is never overwritten or deleted, even with --force. Every writer calls check_output with the
// paths it reads before it writes anything.
#pragma once

#include <modelkit/result.hpp>

#include <filesystem>
#include <span>

namespace modelkit::util {

// Errors (nothing is touched):
//  - `output` is one of `inputs` (the same file or folder, through links too): usage error;
//  - `output` is a folder holding one of `inputs`, which replacing it would delete: usage error;
//  - `output` exists and `force` is false: failure "output 'X' exists; pass --force to replace it".
// Inputs that do not exist are ignored.
[[nodiscard]] Result<void> check_output(const std::filesystem::path& output, bool force,
                                        std::span<const std::filesystem::path> inputs);

// Whether `child` is `parent` or lies inside it, with links and ".." resolved as far as they exist.
[[nodiscard]] bool path_within(const std::filesystem::path& child, const std::filesystem::path& parent);

}  // namespace modelkit::util
