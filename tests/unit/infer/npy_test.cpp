// .npy reading and writing: round trips, and hostile files refused with one clear line.
#include <modelkit/run.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace modelkit::infer {
namespace {

// A .npy file as NumPy lays it out, with a header the test chooses.
std::string npy_with_header(std::string header, std::string_view data, char version = 1) {
  std::size_t prefix = version == 1 ? 10 : 12;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += version;
  out += '\0';
  const auto len = header.size();
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>((len >> 8) & 0xff);
  if (version != 1) out += std::string(2, '\0');
  return out + header + std::string(data);
}

TEST(Npy, RoundTripsFloatAndIntTensors) {
  std::vector<float> values{1.5F, -2.0F, 3.25F, 0.0F, 7.0F, 8.5F};
  auto t = Tensor::from_values<float>("x", {2, 3}, values);
  auto bytes = npy_bytes(t);
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  EXPECT_EQ(bytes->size() % 64, (6 * 4) % 64) << "the header pads the data start to 64 bytes";
  auto back = parse_npy(*bytes, "y");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->name, "y");
  EXPECT_EQ(back->type, ElementType::float32);
  EXPECT_EQ(back->shape, (std::vector<std::int64_t>{2, 3}));
  auto v = back->values<float>();
  EXPECT_EQ(std::vector<float>(v.begin(), v.end()), values);

  std::vector<std::int64_t> ids{101, 7, 102};
  auto one_d = Tensor::from_values<std::int64_t>("ids", {3}, ids);
  auto b2 = npy_bytes(one_d);
  ASSERT_TRUE(b2.ok());
  EXPECT_NE(b2->find("'shape': (3,)"), std::string::npos) << "a 1-D shape is written as NumPy writes it";
  auto back2 = parse_npy(*b2, "ids");
  ASSERT_TRUE(back2.ok());
  EXPECT_EQ(back2->type, ElementType::int64);
  EXPECT_EQ(back2->values<std::int64_t>()[2], 102);
}

TEST(Npy, ReadsWhatNumpyWrites) {
  auto dir = std::filesystem::temp_directory_path() / ("modelkit-npy-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto f = dir / "a.npy";
  auto v2 = dir / "b.npy";
  std::string cmd = "/usr/bin/python3 -c \"import numpy as np; np.save('" + f.string() +
                    "', np.arange(12, dtype=np.float32).reshape(3,4) * 0.5); "
                    "np.lib.format.write_array(open('" + v2.string() + "','wb'), np.array([[1,2],[3,4]], dtype=np.int32), version=(2,0))\"";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto t = read_npy(f, "a");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->shape, (std::vector<std::int64_t>{3, 4}));
  EXPECT_FLOAT_EQ(t->values<float>()[11], 5.5F);
  auto t2 = read_npy(v2, "b");
  ASSERT_TRUE(t2.ok()) << t2.error().message;
  EXPECT_EQ(t2->type, ElementType::int32);
  EXPECT_EQ(t2->values<std::int32_t>()[3], 4);
  // And NumPy reads what we write.
  auto ours = dir / "ours.npy";
  {
    std::ofstream out(ours, std::ios::binary);
    out << *npy_bytes(*t);
  }
  std::string check = "/usr/bin/python3 -c \"import numpy as np, sys; a=np.load('" + ours.string() +
                      "'); sys.exit(0 if a.shape==(3,4) and a.dtype==np.float32 and a[2,3]==5.5 else 1)\"";
  EXPECT_EQ(std::system(check.c_str()), 0);
  std::filesystem::remove_all(dir);
}

TEST(Npy, RefusesHostileFiles) {
  const std::string four_floats(16, '\0');
  struct Case {
    std::string name;
    std::string bytes;
    std::string expect;
  };
  std::vector<Case> cases = {
      {"no magic", "PK\x03\x04 not numpy at all", "no \\x93NUMPY magic"},
      {"short", "\x93NUM", "no \\x93NUMPY magic"},
      {"version", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", four_floats, 9), "version 9"},
      {"big endian", npy_with_header("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", four_floats), "little-endian"},
      {"object dtype", npy_with_header("{'descr': '|O', 'fortran_order': False, 'shape': (4,), }", four_floats), "descr"},
      {"fortran", npy_with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", four_floats), "Fortran"},
      {"too little data", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", four_floats), "needs 20 data bytes, the file holds 16"},
      {"too much data", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", four_floats), "needs 12 data bytes"},
      {"overflow", npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", four_floats), "overflows"},
      {"negative", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }", four_floats), "non-negative"},
      {"not a dict", npy_with_header("[1, 2, 3]", four_floats), "not a dict"},
      {"missing shape", npy_with_header("{'descr': '<f4', 'fortran_order': False, }", four_floats), "lacks"},
      {"extra key", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'evil': 1}", four_floats), "unexpected key"},
      {"unterminated", npy_with_header("{'descr': '<f4, 'fortran_order': False, 'shape': (4,), }", four_floats), "header"},
      {"rank 33", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (" + [] {
         std::string s;
         for (int i = 0; i < 33; ++i) s += "1, ";
         return s;
       }() + "), }", std::string(4, '\0')), "more than 32 dims"},
  };
  // A header length pointing past the end of the file.
  std::string past = npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", four_floats);
  past[8] = '\xff';
  past[9] = '\x7f';
  cases.push_back({"header past end", past, "past the end"});
  for (const auto& c : cases) {
    auto t = parse_npy(c.bytes, "x", "hostile.npy");
    ASSERT_FALSE(t.ok()) << c.name;
    EXPECT_NE(t.error().message.find("'hostile.npy'"), std::string::npos) << c.name << ": " << t.error().message;
    EXPECT_NE(t.error().message.find(c.expect), std::string::npos) << c.name << ": " << t.error().message;
  }
}

}  // namespace
}  // namespace modelkit::infer
