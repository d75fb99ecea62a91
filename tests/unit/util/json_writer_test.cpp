// Doubles JsonWriter writes read back through util::parse_json (simdjson) to the same value.
// calib_ranges_fuzz found a ranges file whose percentile, 9.922337203685478e20, was written as
// the integer literal 992233720368547800000, which simdjson refuses (past 64 bits).
#include "util/json_read.hpp"
#include "util/json_writer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace modelkit::util {
namespace {

double round_trip(double v) {
  JsonWriter json;
  json.begin_array().value(v).end_array();
  simdjson::dom::parser parser;
  auto doc = parse_json(parser, json.str());
  EXPECT_TRUE(doc.ok()) << json.str() << ": " << doc.error().message;
  if (!doc) return std::nan("");
  double back = 0;
  EXPECT_EQ(doc->at(0).get(back), simdjson::SUCCESS) << json.str();
  return back;
}

TEST(JsonWriter, DoublesReadBackExactly) {
  for (double v : {0.0, 1.0, -2.5, 100.0, 99.999, 1e15, 123456789012345.0, 9.922337203685478e20, -3e30, 1e300,
                   std::numeric_limits<double>::max(), std::numeric_limits<double>::denorm_min(), 0.1})
    EXPECT_EQ(round_trip(v), v) << v;
  // calib_ranges_fuzz: a percentile of -0.0 was written as "-0" and read back as +0.
  EXPECT_TRUE(std::signbit(round_trip(-0.0)));
}

TEST(JsonWriter, SmallWholeNumbersStayPlain) {
  JsonWriter json;
  json.begin_array().value(100.0).value(-7.0).value(1e14).end_array();
  std::string compact;
  for (char c : json.str())
    if (c != ' ' && c != '\n') compact += c;
  EXPECT_EQ(compact, "[100,-7,1e+14]");  // to_chars' shortest forms, unchanged below 1e15
}

}  // namespace
}  // namespace modelkit::util
