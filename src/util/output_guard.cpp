#include "util/output_guard.hpp"

#include <algorithm>

namespace modelkit::util {
namespace fs = std::filesystem;
namespace {

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

// The path with symbolic links and ".." resolved as far as it exists.
fs::path resolved(const fs::path& p) {
  std::error_code ec;
  auto absolute = fs::absolute(p, ec);
  if (ec) return p.lexically_normal();
  auto canonical = fs::weakly_canonical(absolute, ec);
  return ec ? absolute.lexically_normal() : canonical;
}

bool is_within(const fs::path& child, const fs::path& parent) {
  auto [pe, ce] = std::mismatch(parent.begin(), parent.end(), child.begin(), child.end());
  return pe == parent.end();
}

}  // namespace

bool path_within(const fs::path& child, const fs::path& parent) { return is_within(resolved(child), resolved(parent)); }

Result<void> check_output(const fs::path& output, bool force, std::span<const fs::path> inputs) {
  std::error_code ec;
  const bool exists = fs::exists(fs::symlink_status(output, ec));
  const fs::path out = resolved(output);
  for (const auto& input : inputs) {
    if (input.empty() || !fs::exists(input, ec)) continue;
    const fs::path in = resolved(input);
    // Hard links and bind mounts name one file by two paths: compare the files themselves.
    bool same = in == out || (exists && fs::equivalent(input, output, ec) && !ec);
    if (same)
      return usage_error("output " + quoted(output) + " is the input " + quoted(input) +
                         "; modelkit never overwrites an input, even with --force: choose another output");
    if (exists && fs::is_directory(output, ec) && is_within(in, out))
      return usage_error("output " + quoted(output) + " holds the input " + quoted(input) +
                         ", which replacing it would delete; modelkit never deletes an input, even with --force: "
                         "choose another output");
  }
  if (exists && !force) return failure("output " + quoted(output) + " exists; pass --force to replace it");
  return {};
}

}  // namespace modelkit::util
