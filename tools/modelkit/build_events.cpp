#include "cli.hpp"
#include "build_events.hpp"

#include <modelkit/quantize.hpp>

#include <csignal>
#include <cstdio>
#include <unistd.h>

namespace modelkit::cli {
namespace {

std::atomic<bool> g_interrupted{false};
std::atomic<int> g_signal{0};

// SIGINT, SIGTERM and SIGHUP alike: the first asks the build to stop (it removes its temporary
// folder and returns), a second removes the temporary folders at once and exits 128 + n.
extern "C" void on_stop_signal(int sig) {
  int expected = 0;
  if (g_signal.compare_exchange_strong(expected, sig)) {
    g_interrupted.store(true);
    return;
  }
  remove_build_temporaries_in_signal_handler();
  ::_exit(128 + sig);
}

}  // namespace

const std::atomic<bool>* install_interrupt_flag() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &action, nullptr);
  return &g_interrupted;
}

int stop_signal() { return g_signal.load(); }

BuildEvents terminal_events(bool quiet) {
  BuildEvents e;
  bool tty = ::isatty(STDERR_FILENO) != 0;
  e.warning = [](std::string_view m) {
    const std::string line = escape_control_characters(m);  // names from files stay on one line
    std::fprintf(stderr, "warning: %s\n", line.c_str());
  };
  if (quiet) return e;
  e.stage = [tty](std::string_view s) {
    if (tty) std::fprintf(stderr, "\r\033[K");
    std::fprintf(stderr, "%.*s\n", static_cast<int>(s.size()), s.data());
  };
  e.progress = [tty, last = -1.0](std::uint64_t done, std::uint64_t total, double seconds) mutable {
    double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    double eta = rate > 0 && total > done ? static_cast<double>(total - done) / rate : 0;
    if (tty) {
      int width = 30;
      int filled = total ? static_cast<int>(width * done / total) : 0;
      std::string bar(static_cast<size_t>(filled), '#');
      bar.resize(static_cast<size_t>(width), '.');
      std::fprintf(stderr, "\r  [%s] %llu/%llu samples, %.1f/s, ETA %.0fs\033[K", bar.c_str(),
                   static_cast<unsigned long long>(done), static_cast<unsigned long long>(total), rate, eta);
      if (done == total) std::fprintf(stderr, "\n");
    } else if (done == total || seconds - last >= 5.0) {
      // Plain lines at most every 5 seconds when not on a terminal.
      last = seconds;
      std::fprintf(stderr, "  %llu/%llu samples, %.1f/s\n", static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(total), rate);
    }
  };
  return e;
}

std::vector<OptionSpec> pipeline_options() {
  return {
      {"--onnx", "", "FILE", "the float ONNX model (default: -m's model.onnx or onnx/model.onnx)"},
      {"--force", "", "", "replace an existing output"},
      {"--ranges", "", "FILE", "quantize with calibration ranges from FILE (no calibration run)"},
      {"--save-ranges", "", "FILE", "write the calibration ranges to FILE"},
      {"--threads", "", "N", "ONNX Runtime intra-op threads (0 or absent: ONNX Runtime's choice)"},
      {"--quiet", "-q", "", "no progress output"},
  };
}

Result<void> apply_pipeline_options(const ParsedArgs& args, BuildRequest& req) {
  if (auto v = args.value("--onnx")) req.onnx = *v;
  req.force = args.has("--force");
  if (auto v = args.value("--ranges")) req.ranges_in = *v;
  if (auto v = args.value("--save-ranges")) req.ranges_out = *v;
  MODELKIT_TRY(req.threads, threads_option(args));
  return {};
}

void print_build_summary(const BuildResult& r, bool quiet, OutputFormat format) {
  if (format == OutputFormat::json) {
    // One object, like every command's --format json; the manifest holds the full record.
    std::fputs(build_summary_json(r).c_str(), stdout);
    return;
  }
  if (quiet) {
    std::printf("%s\n", r.output.string().c_str());
    return;
  }
  std::printf("wrote %s\n", r.output.string().c_str());
  std::printf("manifest %s\n", r.manifest_path.string().c_str());
  std::printf("min cosine similarity %.4f\n", r.min_cosine);
  for (const auto& t : r.timings) std::printf("  %-10s %.2fs\n", t.stage.c_str(), t.seconds);
  if (!r.evaluation_text.empty()) std::printf("evaluation (--eval-data)\n%s", r.evaluation_text.c_str());
}

}  // namespace modelkit::cli
