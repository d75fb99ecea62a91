// Terminal side of a build: the progress bar, warnings, and Ctrl-C.
#pragma once

#include "cli.hpp"

#include <modelkit/build.hpp>

#include <atomic>

namespace modelkit::cli {

// Installs handlers for SIGINT, SIGTERM and SIGHUP that set the returned flag; a second signal
// removes the build's temporary folders and exits at once with 128 + its number.
const std::atomic<bool>* install_interrupt_flag();

// Events that draw a progress bar with rate and ETA on a terminal, plain lines otherwise,
// and print warnings to stderr; quiet keeps only warnings.
BuildEvents terminal_events(bool quiet);

// The options build and quantize share beyond calibration_options().
std::vector<OptionSpec> pipeline_options();
Result<void> apply_pipeline_options(const ParsedArgs& args, BuildRequest& request);

// What a finished build or quantize prints: a few lines, just the output path (quiet), or
// one JSON object (--format json).
void print_build_summary(const BuildResult& result, bool quiet, OutputFormat format = OutputFormat::table);

}  // namespace modelkit::cli
