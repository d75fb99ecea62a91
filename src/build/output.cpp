#include "build/output.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace modelkit::build {
namespace fs = std::filesystem;

TempFolder::~TempFolder() {
  if (!path_.empty()) {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
}

Result<void> TempFolder::create_beside(const fs::path& target) {
  fs::path parent = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  std::string tmpl = (parent / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    return failure("cannot create a temporary folder in " + quoted(parent) + ": " + std::strerror(errno));
  path_ = tmpl;
  return {};
}

bool inside(const fs::path& child, const fs::path& parent) {
  std::error_code ec;
  auto c = fs::weakly_canonical(fs::absolute(child, ec), ec);
  auto p = fs::weakly_canonical(fs::absolute(parent, ec), ec);
  auto [pe, ce] = std::mismatch(p.begin(), p.end(), c.begin(), c.end());
  return pe == p.end();
}

Result<void> copy_into(const fs::path& from, const fs::path& to_dir) {
  std::error_code ec;
  fs::copy_file(from, to_dir / from.filename(), fs::copy_options::overwrite_existing, ec);
  if (ec) return failure("cannot copy " + quoted(from) + " into the output: " + ec.message());
  return {};
}

Result<void> publish(const fs::path& from, const fs::path& to, bool force) {
  std::error_code ec;
  fs::path backup;
  if (fs::exists(fs::symlink_status(to, ec))) {
    if (!force) return failure("output " + quoted(to) + " exists; pass --force to replace it");
    backup = to.string() + ".old-" + std::to_string(::getpid());
    fs::rename(to, backup, ec);
    if (ec) return failure("cannot move the existing output " + quoted(to) + " aside: " + ec.message());
  }
  fs::rename(from, to, ec);
  if (ec) {
    std::error_code ignored;
    if (!backup.empty()) fs::rename(backup, to, ignored);
    return failure("cannot write the output " + quoted(to) + ": " + ec.message());
  }
  if (!backup.empty()) fs::remove_all(backup, ec);
  return {};
}

}  // namespace modelkit::build
