// Whole-file reads and atomic writes with errors that name the file.
#pragma once

#include <modelkit/result.hpp>

#include <cstdint>
#include <filesystem>
#include <string>

namespace modelkit::util {

// Reads a whole file. Errors name the path: "cannot read 'x': No such file or directory".
// max_bytes guards against reading something huge by mistake ("... is N bytes, more than the M allowed").
[[nodiscard]] Result<std::string> read_file(const std::filesystem::path& path,
                                            std::uint64_t max_bytes = std::uint64_t{1} << 32);

// Reads at most `count` bytes from `offset`; fewer only at end of file.
[[nodiscard]] Result<std::string> read_file_range(const std::filesystem::path& path, std::uint64_t offset,
                                                  std::uint64_t count);

// Writes to path.tmp-XXXX then renames over path, so a reader never sees half a file.
[[nodiscard]] Result<void> write_file_atomic(const std::filesystem::path& path, std::string_view content);

}  // namespace modelkit::util
