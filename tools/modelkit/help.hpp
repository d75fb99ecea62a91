// What help.cpp and completion.cpp share: the topic list and the tables the registry
// header does not expose.
#pragma once

#include <modelkit/registry.hpp>

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace modelkit::cli {

struct HelpTopic {
  std::string_view name;
  std::string_view summary;
};
// Every topic 'modelkit help TOPIC' accepts: the commands, then the other topics.
[[nodiscard]] std::vector<HelpTopic> help_topics();

// Every model_type the registry knows, sorted by key (completion.cpp).
[[nodiscard]] std::span<const registry::ModelTypeRow> known_model_types();

// The bash completion script (completions/modelkit.bash), from the option tables and the registry.
[[nodiscard]] std::string bash_completion_script();

}  // namespace modelkit::cli
