// Whole-file reads and atomic writes with errors that name the file.
#pragma once

#include <modelkit/result.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace modelkit::util {

// Reads a whole file. Errors name the path: "cannot read 'x': No such file or directory".
// max_bytes guards against reading something huge by mistake ("... is N bytes, more than the M allowed").
[[nodiscard]] Result<std::string> read_file(const std::filesystem::path& path,
                                            std::uint64_t max_bytes = std::uint64_t{1} << 32);

// Reads at most `count` bytes from `offset`; fewer only at end of file.
[[nodiscard]] Result<std::string> read_file_range(const std::filesystem::path& path, std::uint64_t offset,
                                                  std::uint64_t count);

// Reads a text file one line at a time in bounded memory (a 100 MB line is never held whole).
// A line longer than the caller's limit comes back cut at a UTF-8 character boundary, with its
// full length, so the caller can refuse it or report the cut; the rest of it is skipped.
class LineReader {
 public:
  struct Line {
    std::string text;           // without '\n' and a trailing '\r'
    std::uint64_t number = 0;   // 1-based
    std::uint64_t full_bytes = 0;
    [[nodiscard]] bool cut() const { return full_bytes > text.size(); }
  };

  [[nodiscard]] static Result<LineReader> open(const std::filesystem::path& path);
  LineReader(LineReader&&) noexcept;
  LineReader& operator=(LineReader&&) noexcept;
  ~LineReader();

  // The next line, nullopt at the end of the file.
  [[nodiscard]] Result<std::optional<Line>> next(std::size_t max_line_bytes);

 private:
  LineReader() = default;
  Result<bool> fill();  // false at end of file
  std::filesystem::path path_;
  int fd_ = -1;
  std::string buffer_;
  std::size_t pos_ = 0;
  std::uint64_t line_number_ = 0;
  bool eof_ = false;
};

// Writes to path.tmp-XXXX then renames over path, so a reader never sees half a file.
[[nodiscard]] Result<void> write_file_atomic(const std::filesystem::path& path, std::string_view content);

}  // namespace modelkit::util
