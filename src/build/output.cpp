#include "build/output.hpp"

#include <modelkit/build.hpp>

#include "util/json_writer.hpp"
#include "util/temp_folder.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace modelkit::build {
namespace fs = std::filesystem;

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

namespace modelkit {

std::string build_summary_json(const BuildResult& r) {
  util::JsonWriter w;
  w.begin_object();
  w.field("output", r.output.string());
  w.field("manifest", r.manifest_path.string());
  w.field("min_cosine_similarity", r.min_cosine);
  w.key("timings").begin_object();
  for (const auto& t : r.timings) w.field(t.stage, t.seconds);
  w.end_object();
  w.key("warnings").string_array(r.warnings);
  if (!r.evaluation_json.empty()) w.key("evaluation").raw(r.evaluation_json);
  w.end_object();
  std::string out = w.take();
  if (!out.ends_with('\n')) out += '\n';
  return out;
}

void remove_build_temporaries_in_signal_handler() noexcept { util::remove_temporaries_in_signal_handler(); }

}  // namespace modelkit
