#include <modelkit/safetensors.hpp>

#include "util/file.hpp"
#include "util/json_read.hpp"

#include <algorithm>
#include <map>

namespace modelkit {
namespace {

// Bytes per element of the safetensors dtypes.
struct DtypeSize {
  std::string_view name;
  std::uint64_t bytes;
};
constexpr DtypeSize kDtypeSizes[] = {
    {"BF16", 2}, {"BOOL", 1}, {"F16", 2}, {"F32", 4}, {"F64", 8}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
    {"F8_E8M0", 1}, {"I16", 2}, {"I32", 4}, {"I64", 8}, {"I8", 1}, {"U16", 2}, {"U32", 4}, {"U64", 8}, {"U8", 1},
};

std::optional<std::uint64_t> dtype_size(std::string_view name) {
  for (const auto& d : kDtypeSizes)
    if (d.name == name) return d.bytes;
  return std::nullopt;
}

void merge_into(WeightsSummary& into, const WeightsSummary& from) {
  into.tensors += from.tensors;
  into.parameters += from.parameters;
  into.bytes += from.bytes;
  for (const auto& d : from.dtypes) {
    auto it = std::find_if(into.dtypes.begin(), into.dtypes.end(), [&](const DtypeStats& x) { return x.dtype == d.dtype; });
    if (it == into.dtypes.end()) {
      into.dtypes.push_back(d);
    } else {
      it->tensors += d.tensors;
      it->parameters += d.parameters;
      it->bytes += d.bytes;
    }
  }
  std::sort(into.dtypes.begin(), into.dtypes.end(), [](const auto& a, const auto& b) { return a.dtype < b.dtype; });
  into.files.insert(into.files.end(), from.files.begin(), from.files.end());
}

bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t& out) { return __builtin_mul_overflow(a, b, &out); }

}  // namespace

Result<WeightsSummary> parse_safetensors_header(std::string_view header_json, std::uint64_t data_bytes) {
  simdjson::dom::parser parser;
  MODELKIT_TRY_CTX(auto doc, util::parse_json(parser, header_json), "header");
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS)
    return failure("header must be a JSON object, got " + std::string(util::json_type_name(doc)));

  struct Span {
    std::uint64_t begin, end;
    std::string_view name;
  };
  std::vector<Span> spans;
  std::map<std::string, DtypeStats, std::less<>> by_dtype;
  WeightsSummary summary;
  for (auto [name, value] : root) {
    if (name == "__metadata__") continue;
    auto ctx = "tensor '" + std::string(name) + "'";
    simdjson::dom::object t;
    if (value.get_object().get(t) != simdjson::SUCCESS)
      return failure(ctx + " must be an object, got " + std::string(util::json_type_name(value)));
    std::string_view dtype;
    if (t["dtype"].get_string().get(dtype) != simdjson::SUCCESS) return failure(ctx + ": missing string field 'dtype'");
    auto elem = dtype_size(dtype);
    if (!elem) return failure(ctx + ": unknown dtype '" + std::string(dtype) + "'");
    simdjson::dom::array shape;
    if (t["shape"].get_array().get(shape) != simdjson::SUCCESS) return failure(ctx + ": missing list field 'shape'");
    std::uint64_t count = 1;
    for (auto d : shape) {
      std::int64_t dim = 0;
      if (d.get_int64().get(dim) != simdjson::SUCCESS || dim < 0)
        return failure(ctx + ": shape must hold non-negative integers");
      if (mul_overflows(count, static_cast<std::uint64_t>(dim), count)) return failure(ctx + ": shape overflows");
    }
    simdjson::dom::array offsets;
    if (t["data_offsets"].get_array().get(offsets) != simdjson::SUCCESS || offsets.size() != 2)
      return failure(ctx + ": 'data_offsets' must be a list of two integers");
    std::uint64_t begin = 0, end = 0;
    if (offsets.at(0).get_uint64().get(begin) != simdjson::SUCCESS ||
        offsets.at(1).get_uint64().get(end) != simdjson::SUCCESS)
      return failure(ctx + ": 'data_offsets' must be non-negative integers");
    std::uint64_t bytes = 0;
    if (mul_overflows(count, *elem, bytes)) return failure(ctx + ": size overflows");
    if (end < begin || end - begin != bytes)
      return failure(ctx + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "] hold " +
                     std::to_string(end >= begin ? end - begin : 0) + " bytes, its dtype and shape need " +
                     std::to_string(bytes));
    if (end > data_bytes)
      return failure(ctx + ": data_offsets end " + std::to_string(end) + " is past the data (" +
                     std::to_string(data_bytes) + " bytes)");
    spans.push_back({begin, end, name});
    auto& stats = by_dtype[std::string(dtype)];
    stats.dtype = dtype;
    stats.tensors += 1;
    stats.parameters += count;
    stats.bytes += bytes;
    summary.tensors += 1;
    summary.parameters += count;
    summary.bytes += bytes;
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].begin < spans[i - 1].end)
      return failure("tensors '" + std::string(spans[i - 1].name) + "' and '" + std::string(spans[i].name) +
                     "' overlap");
  for (auto& [k, v] : by_dtype) summary.dtypes.push_back(std::move(v));
  return summary;
}

Result<WeightsSummary> read_safetensors(const std::filesystem::path& file) {
  auto ctx = "'" + file.string() + "'";
  std::error_code ec;
  auto size = std::filesystem::file_size(file, ec);
  if (ec) return failure("cannot read " + ctx + ": " + ec.message());
  if (size < 8) return failure(ctx + ": " + std::to_string(size) + " bytes, too short for a safetensors header");
  MODELKIT_TRY(auto prefix, util::read_file_range(file, 0, 8));
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>((prefix)[static_cast<size_t>(i)]);
  if (n > size - 8)
    return failure(ctx + ": header length " + std::to_string(n) + " is larger than the file (" +
                   std::to_string(size) + " bytes)");
  if (n > kMaxSafetensorsHeader)
    return failure(ctx + ": header length " + std::to_string(n) + " exceeds the 100 MB safetensors limit");
  MODELKIT_TRY(auto header, util::read_file_range(file, 8, n));
  MODELKIT_TRY_CTX(auto summary, parse_safetensors_header(header, size - 8 - n), ctx);
  summary.files.push_back(file.filename().string());
  return summary;
}

Result<WeightsSummary> summarize_weights(const std::filesystem::path& folder) {
  WeightsSummary total;
  auto index = folder / "model.safetensors.index.json";
  std::error_code ec;
  if (std::filesystem::is_regular_file(index, ec)) {
    MODELKIT_TRY(auto text, util::read_file(index, 64u << 20));
    auto ctx = "'" + index.string() + "'";
    simdjson::dom::parser parser;
    MODELKIT_TRY_CTX(auto doc, util::parse_json(parser, text), ctx);
    simdjson::dom::object weight_map;
    if ((doc)["weight_map"].get_object().get(weight_map) != simdjson::SUCCESS)
      return failure(ctx + ": missing object field 'weight_map'");
    std::vector<std::string> shards;
    for (auto [tensor, file] : weight_map) {
      std::string_view name;
      if (file.get_string().get(name) != simdjson::SUCCESS)
        return failure(ctx + ": weight_map['" + std::string(tensor) + "'] must be a file name");
      if (name.empty() || name.find('/') != std::string_view::npos || name.find('\\') != std::string_view::npos ||
          name == "." || name == "..")
        return failure(ctx + ": shard '" + std::string(name) + "' is not a file name inside the folder");
      if (std::find(shards.begin(), shards.end(), name) == shards.end()) shards.emplace_back(name);
    }
    std::sort(shards.begin(), shards.end());
    for (const auto& shard : shards) {
      MODELKIT_TRY(auto s, read_safetensors(folder / shard));
      merge_into(total, s);
    }
    return total;
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec))
    if (entry.path().extension() == ".safetensors" && entry.is_regular_file(ec)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    MODELKIT_TRY(auto s, read_safetensors(f));
    merge_into(total, s);
  }
  return total;
}

}  // namespace modelkit
