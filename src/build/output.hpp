// Writing a build's output atomically (internal to the build area): everything goes into a
// temporary folder beside the output and is renamed into place at the end, so the output
// appears whole or not at all.
#pragma once

#include <modelkit/result.hpp>

#include <filesystem>

namespace modelkit::build {

// The temporary folder itself is util::TempFolder (owner pid in its name, umask, signals).

// Copies a file into a folder, keeping its name.
[[nodiscard]] Result<void> copy_into(const std::filesystem::path& from, const std::filesystem::path& to_dir);

// Moves the finished temporary folder (or file) into place; with `force` an existing output is
// replaced only once the new one is complete.
[[nodiscard]] Result<void> publish(const std::filesystem::path& from, const std::filesystem::path& to, bool force);

}  // namespace modelkit::build
