#include <modelkit/registry.hpp>
#include <modelkit/version.hpp>

namespace modelkit {

std::string_view version() { return MODELKIT_VERSION; }

std::string version_report() {
  std::string out = "modelkit " + std::string(version()) + "\nregistry generated from:\n";
  for (auto s : registry::sources()) out.append("  ").append(s).append("\n");
  out.pop_back();
  return out;
}

}  // namespace modelkit
