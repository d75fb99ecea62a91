// `modelkit eval --per-tensor --html` rendered once in headless Chromium (Debian `chromium`,
// scripts/setup.d/infer.packages): the screenshot is not blank, and the chart's bars, found on
// screen by their fill, match the JSON report in number, order, height and which are named
// (scripts/check_chart_screenshot.py).
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

namespace modelkit::test {
namespace {

const fs::path kModels = fs::path(MODELKIT_DEPS_DIR) / "models";

std::string chromium_binary() {
  for (const char* path : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (fs::exists(path)) return path;
  return {};
}

TEST(EvalHtml, ChartScreenshotMatchesTheJson) {
  const auto chromium = chromium_binary();
  ASSERT_FALSE(chromium.empty()) << "Chromium is not installed: run scripts/setup.sh (setup.d/infer.packages)";
  TempDir tmp;
  const auto float_model = kModels / "cnn-tiny" / "model.onnx";
  auto q = run_cli({"quantize", "-m", float_model.string(), "-o", (tmp / "q.onnx").string(), "--samples", "4"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  const auto page = tmp / "report.html";
  auto r = run_cli({"eval", "-m", (tmp / "q.onnx").string(), "--task", "image-classification", "--compare",
                    float_model.string(), "--per-tensor", "--samples", "2", "--format", "json", "-o",
                    (tmp / "report.json").string(), "--html", page.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto shot = tmp / "shot.png";
  // A tall window holds the tables and the whole chart; scale 1 keeps SVG pixels screen pixels.
  const std::string cmd = "timeout 60 '" + chromium + "' --headless --no-sandbox --disable-gpu --hide-scrollbars "
                          "--force-device-scale-factor=1 --window-size=1400,1600 --user-data-dir='" +
                          (tmp / "profile").string() + "' --screenshot='" + shot.string() + "' 'file://" +
                          page.string() + "' > '" + (tmp / "chromium.log").string() + "' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << read_text(tmp / "chromium.log");
  ASSERT_TRUE(fs::exists(shot)) << read_text(tmp / "chromium.log");
  const std::string check = "/usr/bin/python3 '" +
                            (fs::path(MODELKIT_SOURCE_DIR) / "scripts" / "check_chart_screenshot.py").string() + "' '" +
                            shot.string() + "' '" + (tmp / "report.json").string() + "' > '" +
                            (tmp / "check.log").string() + "' 2>&1";
  EXPECT_EQ(std::system(check.c_str()), 0) << read_text(tmp / "check.log");
}

}  // namespace
}  // namespace modelkit::test
