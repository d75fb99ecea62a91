// int4: weight-only MatMulNBits, and GatherBlockQuantized for embedding tables (precisions.hpp). Layout and rounding as ONNX Runtime's
// MatMulNBits kernel reads them (its block quantizer: range widened to include 0, scale over
// 15 steps, zero point rounded and clamped; symmetric: the block's largest-magnitude value maps
// to -8).
#include <modelkit/precisions.hpp>

#include "onnx/model_proto.hpp"
#include "quant/graph.hpp"
#include "quant/rewrite.hpp"
#include "util/name_pattern.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <optional>

namespace modelkit::quant {
namespace fs = std::filesystem;

Result<void> check_block_size(std::int64_t block_size) {
  const bool power_of_two = block_size > 0 && (block_size & (block_size - 1)) == 0;
  if (!power_of_two || block_size < kMinBlockSize || block_size > kMaxBlockSize)
    return usage_error("block size " + std::to_string(block_size) + " is not a power of two from " +
                       std::to_string(kMinBlockSize) + " to " + std::to_string(kMaxBlockSize) +
                       " (e.g. 32, 64, 128)");
  return {};
}

namespace {

constexpr int kBits = 4;
constexpr float kLevels = 15;  // 2^4 - 1
constexpr float kSymmetricZeroPoint = 8;

struct Blocks {
  std::vector<std::uint8_t> packed;       // [N, k_blocks, block_size / 2]
  std::vector<float> scales;              // [N * k_blocks]
  std::vector<std::uint8_t> zero_points;  // [N * ceil(k_blocks / 2)], asymmetric only
};

// B is [K, N] row-major; blocks run along K within one column.
Blocks quantize_blocks(std::span<const float> b, std::int64_t k_dim, std::int64_t n_dim, int block_size,
                       bool symmetric) {
  const std::int64_t k_blocks = k_dim / block_size;
  const std::int64_t zp_bytes = (k_blocks + 1) / 2;
  Blocks out;
  out.packed.assign(static_cast<std::size_t>(n_dim * k_blocks * block_size / 2), 0);
  out.scales.assign(static_cast<std::size_t>(n_dim * k_blocks), 0.f);
  if (!symmetric) out.zero_points.assign(static_cast<std::size_t>(n_dim * zp_bytes), 0);
  std::vector<float> block(static_cast<std::size_t>(block_size));
  for (std::int64_t n = 0; n < n_dim; ++n) {
    for (std::int64_t kb = 0; kb < k_blocks; ++kb) {
      float lo = 0, hi = 0;  // widened to include 0
      for (int i = 0; i < block_size; ++i) {
        const float v = b[static_cast<std::size_t>((kb * block_size + i) * n_dim + n)];
        block[static_cast<std::size_t>(i)] = v;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
      float scale = 0, zero_point = 0;
      if (symmetric) {
        const float extreme = std::fabs(hi) > std::fabs(lo) ? hi : lo;
        scale = extreme / -kSymmetricZeroPoint;
        zero_point = kSymmetricZeroPoint;
      } else {
        scale = (hi - lo) / kLevels;
        const float zp = scale != 0 ? -lo / scale : 0.f;
        zero_point = std::clamp(std::round(zp), 0.f, kLevels);
        auto& byte = out.zero_points[static_cast<std::size_t>(n * zp_bytes + kb / 2)];
        byte |= static_cast<std::uint8_t>(static_cast<int>(zero_point) << (kb % 2 ? 4 : 0));
      }
      out.scales[static_cast<std::size_t>(n * k_blocks + kb)] = scale;
      const float reciprocal = scale != 0 ? 1.f / scale : 0.f;
      auto* blob = &out.packed[static_cast<std::size_t>((n * k_blocks + kb) * block_size / 2)];
      for (int i = 0; i < block_size; ++i) {
        const float q = std::clamp(std::round(block[static_cast<std::size_t>(i)] * reciprocal + zero_point), 0.f, kLevels);
        blob[i / 2] |= static_cast<std::uint8_t>(static_cast<int>(q) << (i % 2 ? 4 : 0));
      }
    }
  }
  return out;
}

::onnx::TensorProto bytes_tensor(const std::string& name, int type, std::vector<std::int64_t> dims, const void* data,
                                 std::size_t bytes) {
  ::onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(type);
  for (auto d : dims) t.add_dims(d);
  t.set_raw_data(std::string(static_cast<const char*>(data), bytes));
  return t;
}

void set_int(::onnx::NodeProto& n, const std::string& name, std::int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::INT);
  a->set_i(v);
}

struct Quantized {
  std::string b, scales, zero_points;
};

// --int4-embeddings: a Gather reading rows of a constant 2-D float32 table becomes
// GatherBlockQuantized over the table in int4 blocks along each row. Replaces `n` and returns
// nothing, or returns why it stays float.
Result<std::optional<std::string>> quantize_gather_table(::onnx::NodeProto& n, const GraphScope& s,
                                                         const WeightOnlyOptions& options, const fs::path& dir,
                                                         NameSet& names, const std::vector<util::NamePattern>& excludes,
                                                         std::vector<bool>& exclude_used,
                                                         std::map<std::pair<const GraphScope*, std::string>, Quantized>& tables) {
  using Refusal = std::optional<std::string>;
  bool excluded = false;
  for (std::size_t p = 0; p < excludes.size() && !n.name().empty(); ++p)
    if (excludes[p].matches(n.name())) excluded = exclude_used[p] = true;
  if (excluded) return Refusal("excluded by --exclude-nodes");
  for (const auto& a : n.attribute())
    if (a.name() == "axis" && a.i() != 0) return Refusal("gathers along axis " + std::to_string(a.i()) + ", not rows");
  const auto* table = s.find_initializer(n.input(0));
  if (!table) return Refusal("table is not a constant");
  if (table->data_type() != ::onnx::TensorProto::FLOAT || table->dims_size() != 2)
    return Refusal("table is not a 2-D float32 tensor");
  auto index_type = s.type_of(n.input(1));
  if (index_type && *index_type != ElementType::int64 && *index_type != ElementType::int32)
    return Refusal("indices are not int32 or int64");
  const std::int64_t rows = table->dims(0), width = table->dims(1);
  if (rows <= 0 || width <= 0 || width % options.block_size != 0)
    return Refusal("row width " + std::to_string(width) + " is not a multiple of the block size " +
                   std::to_string(options.block_size));
  const std::int64_t k_blocks = width / options.block_size;
  auto key = std::make_pair(&s, n.input(0));
  auto it = tables.find(key);
  if (it == tables.end()) {
    MODELKIT_TRY(auto t, onnx::tensor_from_proto(*table, dir));
    // The table [V, D] read as MatMul's B^T: blocks along D within each row.
    auto values = t.values<float>();
    std::vector<float> transposed(values.size());
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < width; ++c)
        transposed[static_cast<std::size_t>(c * rows + r)] = values[static_cast<std::size_t>(r * width + c)];
    auto blocks = quantize_blocks(transposed, width, rows, options.block_size, options.symmetric);
    Quantized q;
    q.b = names.unique(n.input(0) + "_Q4");
    q.scales = names.unique(n.input(0) + "_scales");
    auto& g = *s.graph;
    *g.add_initializer() = bytes_tensor(q.b, ::onnx::TensorProto::UINT8, {rows, width / 2}, blocks.packed.data(),
                                        blocks.packed.size());
    *g.add_initializer() = bytes_tensor(q.scales, ::onnx::TensorProto::FLOAT, {rows, k_blocks}, blocks.scales.data(),
                                        blocks.scales.size() * sizeof(float));
    if (!options.symmetric) {
      q.zero_points = names.unique(n.input(0) + "_zero_points");
      *g.add_initializer() = bytes_tensor(q.zero_points, ::onnx::TensorProto::UINT8, {rows, (k_blocks + 1) / 2},
                                          blocks.zero_points.data(), blocks.zero_points.size());
    }
    it = tables.emplace(key, std::move(q)).first;
  }
  ::onnx::NodeProto q;
  q.set_op_type("GatherBlockQuantized");
  q.set_domain("com.microsoft");
  q.set_name(names.unique((n.name().empty() ? n.output(0) : n.name()) + "_Q4"));
  q.add_input(it->second.b);
  q.add_input(n.input(1));
  q.add_input(it->second.scales);
  if (!options.symmetric) q.add_input(it->second.zero_points);
  q.add_output(n.output(0));
  set_int(q, "gather_axis", 0);
  set_int(q, "quantize_axis", 1);
  set_int(q, "block_size", options.block_size);
  set_int(q, "bits", kBits);
  n = std::move(q);  // a Gather owns no body
  return Refusal();
}

}  // namespace

Result<QuantizeReport> quantize_matmul_nbits(const fs::path& model_path, const WeightOnlyOptions& options,
                                             const fs::path& output_path) {
  MODELKIT_TRY_VOID(check_block_size(options.block_size));
  if (options.accuracy_level < 0 || options.accuracy_level > kMaxAccuracyLevel)
    return usage_error("accuracy level " + std::to_string(options.accuracy_level) + " is not one of 0 to " +
                       std::to_string(kMaxAccuracyLevel));
  MODELKIT_TRY(auto m, load_model_for(model_path, "int4"));
  auto report = start_report(m, model_path, output_path, "int4");
  report.weight_type = "int4 blocks";
  report.block_size = options.block_size;
  report.symmetric = options.symmetric;
  report.accuracy_level = options.accuracy_level;
  report.int4_embeddings = options.embeddings;
  std::vector<util::NamePattern> excludes;
  std::vector<bool> exclude_used(options.exclude_nodes.size(), false);
  for (const auto& text : options.exclude_nodes) excludes.emplace_back(text);

  constants_to_initializers(m.model);
  auto scopes = build_scopes(m.model);
  NameSet names(m.model);
  std::vector<NodeOutcome> outcomes;
  std::map<std::pair<GraphScope*, std::string>, Quantized> done;  // by weight (shared weights once)
  std::map<std::pair<const GraphScope*, std::string>, Quantized> tables;  // embedding tables, likewise
  std::int64_t matmuls = 0, not_multiple = 0;
  std::string not_multiple_example;
  for (const auto& scope : scopes) {
    auto& s = *scope;
    auto& g = *s.graph;
    for (int i = 0; i < g.node_size(); ++i) {
      auto& n = *g.mutable_node(i);
      NodeOutcome o{n.name(), onnx::op_key(n), s.path, "skipped", ""};
      auto record = [&](std::string reason) {
        o.reason = std::move(reason);
        outcomes.push_back(o);
      };
      if (options.embeddings && n.op_type() == "Gather" && onnx::is_default_domain(n) && n.input_size() == 2) {
        MODELKIT_TRY(auto refusal, quantize_gather_table(n, s, options, m.dir, names, excludes, exclude_used, tables));
        if (refusal) {
          record(*refusal);
        } else {
          ++report.weights_quantized;
          o.status = "quantized";
          outcomes.push_back(o);
        }
        continue;
      }
      if (n.op_type() != "MatMul" || !onnx::is_default_domain(n) || n.input_size() != 2) {
        record(options.embeddings ? "not a MatMul or Gather (int4 quantizes their weights)"
                                  : "not a MatMul (int4 quantizes MatMul weights)");
        continue;
      }
      ++matmuls;
      const ::onnx::TensorProto* b_proto = nullptr;
      if (auto refusal = matmul_weight_refusal(n, s, excludes, exclude_used, b_proto)) {
        record(*refusal);
        continue;
      }
      const std::int64_t k_dim = b_proto->dims(0), n_dim = b_proto->dims(1);
      if (k_dim <= 0 || n_dim <= 0 || k_dim % options.block_size != 0) {
        ++not_multiple;
        if (not_multiple_example.empty())
          not_multiple_example = quoted(n.name()) + " (K = " + std::to_string(k_dim) + ")";
        record("K is not a multiple of the block size " + std::to_string(options.block_size));
        continue;
      }
      const std::int64_t k_blocks = k_dim / options.block_size;
      auto key = std::make_pair(&s, n.input(1));
      auto it = done.find(key);
      if (it == done.end()) {
        MODELKIT_TRY(auto b, onnx::tensor_from_proto(*b_proto, m.dir));
        auto blocks = quantize_blocks(b.values<float>(), k_dim, n_dim, options.block_size, options.symmetric);
        Quantized q;
        q.b = names.unique(n.input(1) + "_Q4");
        q.scales = names.unique(n.input(1) + "_scales");
        *g.add_initializer() = bytes_tensor(q.b, ::onnx::TensorProto::UINT8, {n_dim, k_blocks, options.block_size / 2},
                                            blocks.packed.data(), blocks.packed.size());
        *g.add_initializer() = bytes_tensor(q.scales, ::onnx::TensorProto::FLOAT, {n_dim * k_blocks},
                                            blocks.scales.data(), blocks.scales.size() * sizeof(float));
        if (!options.symmetric) {
          q.zero_points = names.unique(n.input(1) + "_zero_points");
          *g.add_initializer() = bytes_tensor(q.zero_points, ::onnx::TensorProto::UINT8,
                                              {static_cast<std::int64_t>(blocks.zero_points.size())},
                                              blocks.zero_points.data(), blocks.zero_points.size());
        }
        ++report.weights_quantized;
        it = done.emplace(key, std::move(q)).first;
      }
      const std::string a = n.input(0);
      ::onnx::NodeProto q;
      q.set_op_type("MatMulNBits");
      q.set_domain("com.microsoft");
      q.set_name(n.name().empty() ? names.unique("MatMulNBits") : names.unique(n.name() + "_Q4"));
      q.add_input(a);
      q.add_input(it->second.b);
      q.add_input(it->second.scales);
      if (!options.symmetric) q.add_input(it->second.zero_points);
      q.add_output(n.output(0));
      set_int(q, "K", k_dim);
      set_int(q, "N", n_dim);
      set_int(q, "bits", kBits);
      set_int(q, "block_size", options.block_size);
      if (options.accuracy_level > 0) set_int(q, "accuracy_level", options.accuracy_level);
      n = std::move(q);  // the body pointers of other nodes stay: a MatMul owns no body
      o.status = "quantized";
      outcomes.push_back(o);
    }
  }
  for (std::size_t p = 0; p < excludes.size(); ++p)
    if (!exclude_used[p]) report.warnings.push_back("exclude pattern " + quoted(options.exclude_nodes[p]) + " matches no node");
  const std::int64_t quantized = static_cast<std::int64_t>(std::count_if(
      outcomes.begin(), outcomes.end(), [](const NodeOutcome& o) { return o.status == "quantized"; }));
  if (not_multiple > 0)
    report.warnings.push_back(std::to_string(not_multiple) + " MatMul(s) left in float: K is not a multiple of the block size " +
                              std::to_string(options.block_size) + ", e.g. " + not_multiple_example);
  if (options.embeddings && tables.empty())
    report.warnings.push_back("--int4-embeddings: no Gather reads rows of a constant 2-D float32 table whose width is a "
                              "multiple of the block size " + std::to_string(options.block_size) + "; none converted");
  if (quantized == 0) {
    std::map<std::string, int> reasons;
    for (const auto& o : outcomes)
      if (o.op_type == "MatMul") ++reasons[o.reason];
    std::string why;
    for (const auto& [r, c] : reasons) why += (why.empty() ? "" : "; ") + std::to_string(c) + " " + r;
    return failure("nothing to quantize to int4 in " + quoted(model_path.string()) + ": int4 quantizes MatMuls with a "
                   "constant 2-D float32 weight whose K is a multiple of the block size; of its " +
                   std::to_string(matmuls) + " MatMul(s)" + (why.empty() ? "" : ": " + why));
  }
  // The float weights no node reads any more.
  for (const auto& scope : scopes) drop_initializers_not_in(*scope->graph, names_read(*scope->graph));
  ensure_opset(m.model, "com.microsoft", 1);
  summarize(report, std::move(outcomes));
  MODELKIT_TRY_VOID(save_and_check(m.model, m.dir, output_path, report));
  return report;
}

}  // namespace modelkit::quant
