// NumPy's .npy format: "\x93NUMPY", version, a little-endian header length (2 bytes in 1.0,
// 4 in 2.0/3.0), a Python dict literal {'descr': ..., 'fortran_order': ..., 'shape': (...)}
// padded with spaces to a multiple of 64 bytes and a newline, then the data. Every field is
// checked: a .npy a user hands us may be hostile.
#include <modelkit/run.hpp>

#include "util/file.hpp"

#include <array>
#include <charconv>
#include <cstring>
#include <limits>

namespace modelkit::infer {
namespace {

struct Descr {
  std::string_view text;
  ElementType type;
};
// '<' little-endian, '|' not applicable (one byte), '=' native (little-endian on our targets).
constexpr std::array<Descr, 12> kDescrs = {{
    {"b1", ElementType::boolean}, {"i1", ElementType::int8},     {"u1", ElementType::uint8},
    {"i2", ElementType::int16},   {"u2", ElementType::uint16},   {"i4", ElementType::int32},
    {"u4", ElementType::uint32},  {"i8", ElementType::int64},    {"u8", ElementType::uint64},
    {"f2", ElementType::float16}, {"f4", ElementType::float32},  {"f8", ElementType::float64},
}};

std::string_view skip_space(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

// The header dict, parsed for exactly the three keys NumPy writes.
struct Header {
  std::optional<ElementType> type;
  std::optional<bool> fortran;
  std::optional<std::vector<std::int64_t>> shape;
};

Result<std::string_view> quoted_string(std::string_view& s) {
  if (s.empty() || (s.front() != '\'' && s.front() != '"')) return failure("expected a quoted string");
  char q = s.front();
  auto end = s.find(q, 1);
  if (end == std::string_view::npos) return failure("unterminated string");
  auto out = s.substr(1, end - 1);
  s.remove_prefix(end + 1);
  return out;
}

Result<Header> parse_header(std::string_view h) {
  Header out;
  h = skip_space(h);
  while (!h.empty() && (h.back() == ' ' || h.back() == '\n' || h.back() == '\0')) h.remove_suffix(1);
  if (h.size() < 2 || h.front() != '{' || h.back() != '}') return failure("header is not a dict");
  h = h.substr(1, h.size() - 2);
  while (true) {
    h = skip_space(h);
    if (h.empty()) break;
    MODELKIT_TRY(auto key, quoted_string(h));
    h = skip_space(h);
    if (h.empty() || h.front() != ':') return failure("expected ':' after '" + std::string(key) + "'");
    h = skip_space(h.substr(1));
    if (key == "descr") {
      MODELKIT_TRY(auto d, quoted_string(h));
      if (d.size() != 3 || (d[0] != '<' && d[0] != '|' && d[0] != '='))
        return failure("descr '" + std::string(d) + "': only little-endian numeric types are read");
      for (const auto& e : kDescrs)
        if (d.substr(1) == e.text) out.type = e.type;
      if (!out.type) return failure("descr '" + std::string(d) + "' is not a numeric type modelkit reads");
    } else if (key == "fortran_order") {
      if (h.starts_with("False")) out.fortran = false, h.remove_prefix(5);
      else if (h.starts_with("True")) out.fortran = true, h.remove_prefix(4);
      else return failure("fortran_order must be True or False");
    } else if (key == "shape") {
      if (h.empty() || h.front() != '(') return failure("shape must be a tuple");
      auto close = h.find(')');
      if (close == std::string_view::npos) return failure("shape tuple is not closed");
      auto body = h.substr(1, close - 1);
      h.remove_prefix(close + 1);
      std::vector<std::int64_t> dims;
      while (true) {
        body = skip_space(body);
        if (body.empty()) break;
        std::int64_t v = 0;
        auto [ptr, ec] = std::from_chars(body.data(), body.data() + body.size(), v);
        if (ec != std::errc() || v < 0) return failure("shape holds a value that is not a non-negative integer");
        dims.push_back(v);
        if (dims.size() > kMaxNpyRank) return failure("shape has more than " + std::to_string(kMaxNpyRank) + " dims");
        body.remove_prefix(static_cast<std::size_t>(ptr - body.data()));
        body = skip_space(body);
        if (!body.empty()) {
          if (body.front() != ',') return failure("shape tuple is malformed");
          body.remove_prefix(1);
        }
      }
      out.shape = std::move(dims);
    } else {
      return failure("unexpected key '" + std::string(key) + "'");
    }
    h = skip_space(h);
    if (h.empty()) break;
    if (h.front() != ',') return failure("expected ',' between entries");
    h.remove_prefix(1);
  }
  if (!out.type || !out.fortran || !out.shape) return failure("header lacks descr, fortran_order or shape");
  return out;
}

}  // namespace

Result<Tensor> parse_npy(std::string_view bytes, std::string name, std::string_view what) {
  auto fail = [&](const std::string& m) { return failure(quoted(what) + ": " + m); };
  static constexpr std::string_view kMagic = "\x93NUMPY";
  if (bytes.size() < 10 || bytes.substr(0, 6) != kMagic) return fail("not a .npy file (no \\x93NUMPY magic)");
  const auto major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len = 0, prefix = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return fail("truncated header");
    for (int i = 3; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[8 + i]);
    prefix = 12;
  } else {
    return fail(".npy version " + std::to_string(major) + " is not 1, 2 or 3");
  }
  if (header_len > bytes.size() - prefix) return fail("header length " + std::to_string(header_len) + " is past the end of the file");
  auto parsed = parse_header(bytes.substr(prefix, header_len));
  if (!parsed) return fail("header: " + parsed.error().message);
  if (*parsed->fortran) return fail("Fortran-order arrays are not read; save it with np.ascontiguousarray");
  // Element count without overflow.
  std::uint64_t count = 1;
  for (auto d : *parsed->shape) {
    if (d != 0 && count > std::numeric_limits<std::uint64_t>::max() / static_cast<std::uint64_t>(d))
      return fail("shape's element count overflows");
    count *= static_cast<std::uint64_t>(d);
  }
  const auto bits = static_cast<std::uint64_t>(element_bits(*parsed->type));
  if (count > std::numeric_limits<std::uint64_t>::max() / bits) return fail("shape's size overflows");
  const std::uint64_t data_bytes = count * bits / 8;
  const std::uint64_t have = bytes.size() - prefix - header_len;
  if (data_bytes != have)
    return fail("shape (" + format_shape(*parsed->shape) + ") of " + element_type_name(*parsed->type) + " needs " +
                std::to_string(data_bytes) + " data bytes, the file holds " + std::to_string(have));
  Tensor t{std::move(name), *parsed->type, std::move(*parsed->shape), {}};
  t.bytes.resize(data_bytes);
  if (data_bytes) std::memcpy(t.bytes.data(), bytes.data() + prefix + header_len, data_bytes);
  return t;
}

Result<Tensor> read_npy(const std::filesystem::path& path, std::string name) {
  MODELKIT_TRY(auto bytes, util::read_file(path, kMaxNpyBytes));
  return parse_npy(bytes, std::move(name), path.string());
}

Result<std::string> npy_bytes(const Tensor& tensor) {
  std::string_view descr;
  for (const auto& e : kDescrs)
    if (e.type == tensor.type) descr = e.text;
  if (descr.empty()) return failure("tensor '" + tensor.name + "': " + element_type_name(tensor.type) + " cannot be written as .npy");
  std::string shape = "(";
  for (auto d : tensor.shape) shape += std::to_string(d) + ", ";
  if (tensor.shape.size() > 1) shape.resize(shape.size() - 1), shape.back() = ')';
  else if (tensor.shape.size() == 1) shape.pop_back(), shape += ')';  // "(n,)"
  else shape += ')';
  const char order = (descr == "b1" || descr == "i1" || descr == "u1") ? '|' : '<';
  std::string header = "{'descr': '" + std::string(1, order) + std::string(descr) +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  out.append(reinterpret_cast<const char*>(tensor.bytes.data()), tensor.bytes.size());
  return out;
}

}  // namespace modelkit::infer
