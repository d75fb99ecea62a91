// Error messages stay one line whatever bytes the quoted values hold (found by the fuzzers:
// tensor names, JSON keys and strings with "\n" escapes broke messages over several lines).
#include <modelkit/result.hpp>

#include <gtest/gtest.h>

namespace modelkit {
namespace {

TEST(ErrorMessage, ControlCharactersAreEscaped) {
  EXPECT_EQ(failure("tensor 'a\nb'").message, "tensor 'a\\nb'");
  EXPECT_EQ(failure("x\r\ty").message, "x\\r\\ty");
  EXPECT_EQ(failure(std::string("nul \0 esc \x1b[31m del \x7f", 21)).message, "nul \\x00 esc \\x1b[31m del \\x7f");
  EXPECT_EQ(usage_error("option '--a\nb'").message, "option '--a\\nb'");
  EXPECT_EQ(usage_error("x").kind, ErrorKind::usage);
}

TEST(ErrorMessage, PrintableTextAndUtf8AreUnchanged) {
  const std::string text = "config.json: field 'model_type' got 'caf\xC3\xA9 \xE6\x97\xA5' (\\n stays two characters)";
  EXPECT_EQ(failure(text).message, text);
  EXPECT_EQ(escape_control_characters(""), "");
}

TEST(ErrorMessage, ContextIsEscapedToo) {
  auto e = failure("bad value").with_context("'dir\n/config.json'");
  EXPECT_EQ(e.message, "'dir\\n/config.json': bad value");
  EXPECT_EQ(e.kind, ErrorKind::failure);
}

}  // namespace
}  // namespace modelkit
