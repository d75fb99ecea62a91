// Checks a written QDQ model against the float model and the calibrated ranges, reading only
// the files (never the quantizer's own report), with the arithmetic recomputed here from the
// ONNX QuantizeLinear definition:
//   - every QuantizeLinear feeds a DequantizeLinear with the same scale/zero point, and its
//     scale/zero point are the asymmetric parameters of the tensor's calibrated range (widened to
//     include 0; the union over a Concat / data-movement group; [0, 1] for Softmax outputs);
//   - every weight is int8 (or the requested type), zero point 0, symmetric: some value of each
//     channel reaches +-127, the axis is the one its op expects, and it dequantizes to the float
//     weight within half a step;
//   - every int32 bias has scale = input scale * weight scale and dequantizes to the float bias;
//   - per op type, how many nodes read every input through a DequantizeLinear and write into a
//     QuantizeLinear ("QDQ around the op").
#pragma once

#include <modelkit/calib_stats.hpp>
#include <modelkit/quantize.hpp>

#include "onnx/model_proto.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace modelkit::testing {

struct QdqCheck {
  int quantize_linear = 0;        // QuantizeLinear nodes seen
  int activation_params_ok = 0;   // of those, scale/zero point equal to the recomputed ones
  int weights_ok = 0;             // offline weights that passed every weight check
  int weight_values_checked = 0;  // of those, compared value for value with the float weight
  int biases_ok = 0;
  int batch_norms = 0;            // BatchNormalization nodes left in the written model
  std::map<std::string, int> qdq_ops;  // op type -> nodes with QDQ around them
  std::vector<std::string> errors;     // every mismatch, one line each
};

namespace qdq_detail {

struct Limits {
  std::int64_t qmin, qmax;
};
inline Limits limits(quant::QuantType t) {
  switch (t) {
    case quant::QuantType::uint8: return {0, 255};
    case quant::QuantType::int8: return {-128, 127};
    case quant::QuantType::uint16: return {0, 65535};
    case quant::QuantType::int16: return {-32768, 32767};
  }
  return {0, 255};
}

// ONNX's asymmetric parameters: the range widened to include 0, scale = (max - min) / (qmax - qmin),
// zero point = round-half-even(qmin - min / scale) saturated.
inline std::pair<float, std::int64_t> expected_params(double lo, double hi, quant::QuantType t) {
  auto l = limits(t);
  lo = std::min(lo, 0.0);
  hi = std::max(hi, 0.0);
  if (hi == lo) return {1.f, std::clamp<std::int64_t>(0, l.qmin, l.qmax)};
  float scale = static_cast<float>((hi - lo) / static_cast<double>(l.qmax - l.qmin));
  auto zp = static_cast<std::int64_t>(std::nearbyint(static_cast<double>(l.qmin) - lo / scale));
  return {scale, std::clamp(zp, l.qmin, l.qmax)};
}

inline int onnx_type(quant::QuantType t) {
  switch (t) {
    case quant::QuantType::uint8: return ::onnx::TensorProto::UINT8;
    case quant::QuantType::int8: return ::onnx::TensorProto::INT8;
    case quant::QuantType::uint16: return ::onnx::TensorProto::UINT16;
    case quant::QuantType::int16: return ::onnx::TensorProto::INT16;
  }
  return 0;
}

inline std::vector<double> as_doubles(const Tensor& t) {
  std::vector<double> v;
  switch (t.type) {
    case ElementType::float32: for (float x : t.values<float>()) v.push_back(x); break;
    case ElementType::int8: for (auto x : t.values<std::int8_t>()) v.push_back(x); break;
    case ElementType::uint8: for (auto x : t.values<std::uint8_t>()) v.push_back(x); break;
    case ElementType::int16: for (auto x : t.values<std::int16_t>()) v.push_back(x); break;
    case ElementType::uint16: for (auto x : t.values<std::uint16_t>()) v.push_back(x); break;
    case ElementType::int32: for (auto x : t.values<std::int32_t>()) v.push_back(x); break;
    default: break;
  }
  return v;
}

// Tensors by name over a model's graphs (initializers and Constant node values), and the ops
// that matter for the expected ranges.
struct FloatModel {
  std::map<std::string, Tensor> constants;
  std::map<std::string, std::string> producer_op;  // tensor -> op type
  std::set<std::string> conv_followed_by_bn;       // Conv outputs read by a BatchNormalization
  std::map<std::string, std::string> weight_of_conv_output;
  std::set<std::string> bn_folded_weights;          // weights/biases of Convs a BatchNormalization follows
  std::map<std::string, std::string> parent;        // union-find over shared-scale groups
  std::string find(const std::string& x) {
    auto it = parent.find(x);
    if (it == parent.end() || it->second == x) return x;
    return it->second = find(it->second);
  }
  void unite(const std::string& a, const std::string& b) {
    auto ra = find(a), rb = find(b);
    if (ra != rb) parent[ra] = rb;
  }
};

inline bool is_data_movement(const std::string& op) {
  static const std::set<std::string> ops = {"Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Gather",
                                            "Split", "Slice", "Expand", "Tile", "DepthToSpace", "SpaceToDepth",
                                            "MaxPool", "Resize", "Concat"};
  return ops.count(op) > 0;
}

inline void scan_float(const ::onnx::GraphProto& g, const std::filesystem::path& dir, FloatModel& m) {
  for (const auto& t : g.initializer()) {
    auto v = onnx::tensor_from_proto(t, dir);
    if (v) m.constants[t.name()] = std::move(*v);
  }
  std::map<std::string, const ::onnx::NodeProto*> producer;
  for (const auto& n : g.node())
    for (const auto& o : n.output()) producer[o] = &n;
  for (const auto& n : g.node()) {
    for (const auto& o : n.output()) m.producer_op[o] = n.op_type();
    if (n.op_type() == "Constant")
      for (const auto& a : n.attribute())
        if (a.name() == "value") {
          auto v = onnx::tensor_from_proto(a.t(), dir);
          if (v) m.constants[n.output(0)] = std::move(*v);
        }
    if (n.op_type() == "BatchNormalization" && producer.count(n.input(0)) &&
        producer[n.input(0)]->op_type() == "Conv") {
      const auto& conv = *producer[n.input(0)];
      for (int i = 1; i < conv.input_size(); ++i) m.bn_folded_weights.insert(conv.input(i));
    }
    // Data movement and Concat outputs share their (first / every) input's quantization.
    if (n.op_type() == "Concat")
      for (const auto& i : n.input()) m.unite(i, n.output(0));
    else if (is_data_movement(n.op_type()) && n.input_size() > 0)
      for (const auto& o : n.output()) m.unite(n.input(0), o);
    for (const auto& a : n.attribute())
      if (a.has_g()) scan_float(a.g(), dir, m);
  }
}

struct Scope {
  const ::onnx::GraphProto* graph;
  std::map<std::string, const ::onnx::TensorProto*> inits;
  const Scope* parent = nullptr;
  const ::onnx::TensorProto* find(const std::string& name) const {
    for (const Scope* s = this; s; s = s->parent)
      if (auto it = s->inits.find(name); it != s->inits.end()) return it->second;
    return nullptr;
  }
};

inline std::int64_t int_attribute(const ::onnx::NodeProto& n, const std::string& name, std::int64_t fallback) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return a.i();
  return fallback;
}

}  // namespace qdq_detail

// `check_values`: compare offline weights with the float model's (off for tests that edit ranges only).
inline QdqCheck check_qdq(const std::filesystem::path& quantized, const std::filesystem::path& float_model,
                          const calib::TensorRanges& ranges, const quant::QuantizeOptions& options) {
  using namespace qdq_detail;
  QdqCheck out;
  auto err = [&](std::string e) {
    if (out.errors.size() < 50) out.errors.push_back(std::move(e));
  };
  auto qm = onnx::read_model_proto(quantized);
  auto fm = onnx::read_model_proto(float_model);
  if (!qm || !fm) {
    err("cannot read the models");
    return out;
  }
  FloatModel f;
  scan_float(fm->graph(), float_model.parent_path(), f);
  // Expected range of every shared-scale group: the union of its calibrated members.
  std::map<std::string, std::pair<double, double>> group_range;
  for (const auto& [name, r] : ranges.tensors) {
    auto g = f.find(name);
    auto [it, inserted] = group_range.emplace(g, std::make_pair<double, double>(r.min, r.max));
    if (!inserted) {
      it->second.first = std::min<double>(it->second.first, r.min);
      it->second.second = std::max<double>(it->second.second, r.max);
    }
  }
  // Constant members (a Gather's table) count with their own values.
  for (const auto& [name, t] : f.constants) {
    if (t.type != ElementType::float32 || (f.find(name) == name && !f.parent.count(name))) continue;
    double lo = 0, hi = 0;
    bool first = true;
    for (float v : t.values<float>()) {
      if (!std::isfinite(v)) continue;
      lo = first ? v : std::min<double>(lo, v);
      hi = first ? v : std::max<double>(hi, v);
      first = false;
    }
    auto [it, inserted] = group_range.emplace(f.find(name), std::make_pair(lo, hi));
    if (!inserted) {
      it->second.first = std::min(it->second.first, lo);
      it->second.second = std::max(it->second.second, hi);
    }
  }
  const auto dir = quantized.parent_path();
  auto values_of = [&](const ::onnx::TensorProto* t) -> std::vector<double> {
    if (!t) return {};
    auto v = onnx::tensor_from_proto(*t, dir);
    return v ? as_doubles(*v) : std::vector<double>{};
  };

  std::function<void(const ::onnx::GraphProto&, const Scope*)> walk = [&](const ::onnx::GraphProto& g,
                                                                          const Scope* parent) {
    Scope scope{&g, {}, parent};
    for (const auto& t : g.initializer()) scope.inits[t.name()] = &t;
    std::map<std::string, const ::onnx::NodeProto*> producer;
    std::map<std::string, std::vector<const ::onnx::NodeProto*>> consumers;
    for (const auto& n : g.node()) {
      for (const auto& o : n.output()) producer[o] = &n;
      for (const auto& i : n.input()) consumers[i].push_back(&n);
    }
    auto produced_by = [&](const std::string& name, const char* op) {
      auto it = producer.find(name);
      return it != producer.end() && it->second->op_type() == op;
    };
    for (const auto& n : g.node()) {
      if (n.op_type() == "BatchNormalization") ++out.batch_norms;
      for (const auto& a : n.attribute())
        if (a.has_g()) walk(a.g(), &scope);
      if (n.op_type() == "QuantizeLinear") {
        ++out.quantize_linear;
        const ::onnx::NodeProto* dq = nullptr;
        for (auto* c : consumers[n.output(0)])
          if (c->op_type() == "DequantizeLinear") dq = c;
        if (!dq || dq->input(1) != n.input(1) || dq->input(2) != n.input(2)) {
          err("QuantizeLinear " + n.name() + " is not followed by a DequantizeLinear with its scale and zero point");
          continue;
        }
        // The tensor being quantized: its producer now writes "<name>_QuantizeLinear_Input" and
        // the DequantizeLinear restores <name>; otherwise the Q reads <name> itself.
        const bool renamed = n.input(0).find("_QuantizeLinear_Input") != std::string::npos;
        const std::string tensor = renamed ? dq->output(0) : n.input(0);
        std::pair<double, double> range;
        if (f.producer_op.count(tensor) && f.producer_op[tensor] == "Softmax") {
          range = {0, 1};
        } else if (auto it = group_range.find(f.find(tensor)); it != group_range.end()) {
          range = it->second;
        } else {
          err("QuantizeLinear of '" + tensor + "': no calibrated range covers it");
          continue;
        }
        auto scale = values_of(scope.find(n.input(1)));
        auto zp = values_of(scope.find(n.input(2)));
        auto [es, ez] = expected_params(range.first, range.second, options.activation_type);
        if (scale.size() != 1 || zp.size() != 1) {
          err("QuantizeLinear of '" + tensor + "': scale/zero point are not scalars");
          continue;
        }
        if (std::fabs(scale[0] - es) > 1e-6 * es || static_cast<std::int64_t>(zp[0]) != ez) {
          err("QuantizeLinear of '" + tensor + "': scale " + std::to_string(scale[0]) + " zero point " +
              std::to_string(zp[0]) + ", expected " + std::to_string(es) + " and " + std::to_string(ez) +
              " from the range [" + std::to_string(range.first) + ", " + std::to_string(range.second) + "]");
          continue;
        }
        ++out.activation_params_ok;
        continue;
      }
      if (n.op_type() == "DequantizeLinear") {
        const auto* values = scope.find(n.input(0));
        if (!values) continue;  // an activation's DQ
        const bool weight_like = values->data_type() == ::onnx::TensorProto::INT8 ||
                                 values->data_type() == ::onnx::TensorProto::INT16 ||
                                 values->data_type() == ::onnx::TensorProto::UINT8 ||
                                 values->data_type() == ::onnx::TensorProto::UINT16;
        const bool bias = values->data_type() == ::onnx::TensorProto::INT32;
        // Which node and slot read it.
        const ::onnx::NodeProto* user = nullptr;
        int slot = -1;
        for (auto* c : consumers[n.output(0)])
          for (int i = 0; i < c->input_size(); ++i)
            if (c->input(i) == n.output(0)) {
              user = c;
              slot = i;
            }
        if (!user) continue;
        const std::string& op = user->op_type();
        const bool weighted_op = op == "Conv" || op == "ConvTranspose" || op == "MatMul" || op == "Gemm";
        auto q = values_of(values);
        auto scale = values_of(scope.find(n.input(1)));
        auto zp = values_of(scope.find(n.input(2)));
        const std::int64_t axis_attr = int_attribute(n, "axis", -1000);
        std::string original = n.input(0);
        if (auto k = original.rfind("_quantized"); k != std::string::npos) original = original.substr(0, k);
        if (weight_like && weighted_op && slot == 1) {
          if (values->data_type() != onnx_type(options.weight_type)) {
            err("weight '" + original + "' is not of the weight type");
            continue;
          }
          std::int64_t rank = values->dims_size();
          std::int64_t axis = -1;
          if (options.per_channel) {
            if (op == "Conv") axis = 0;
            else if (op == "ConvTranspose") axis = 1;
            else if (op == "MatMul") axis = rank - 1;
            else axis = int_attribute(*user, "transB", 0) ? 0 : 1;
          }
          const std::size_t channels = axis < 0 ? 1 : static_cast<std::size_t>(values->dims(static_cast<int>(axis)));
          std::int64_t written_axis = axis_attr == -1000 ? 1 : (axis_attr < 0 ? axis_attr + rank : axis_attr);
          const bool layout_ok = axis < 0 ? scale.size() == 1 : scale.size() == channels && written_axis == axis;
          if (!layout_ok) {
            err("weight '" + original + "' of " + op + ": " + std::to_string(scale.size()) + " scales, axis " +
                std::to_string(written_axis) + "; expected " + std::to_string(channels) + " along axis " +
                std::to_string(axis));
            continue;
          }
          bool ok = true;
          for (double z : zp) ok = ok && z == 0;
          if (!ok) {
            err("weight '" + original + "' has a non-zero zero point");
            continue;
          }
          // Layout [outer, channels, inner].
          std::size_t inner = 1, outer = 1;
          for (int d = 0; d < rank; ++d) {
            if (axis < 0) inner *= static_cast<std::size_t>(values->dims(d));
            else if (d < axis) outer *= static_cast<std::size_t>(values->dims(d));
            else if (d > axis) inner *= static_cast<std::size_t>(values->dims(d));
          }
          std::vector<double> absmax(channels, 0);
          for (std::size_t o = 0; o < outer; ++o)
            for (std::size_t c = 0; c < channels; ++c)
              for (std::size_t i = 0; i < inner; ++i)
                absmax[c] = std::max(absmax[c], std::fabs(q[(o * channels + c) * inner + i]));
          // A channel may stop short of full scale only where its int32 bias needed a wider
          // weight scale: that bias value then sits at the 2^30 limit.
          std::vector<double> bias_q;
          if (user->input_size() > 2)
            if (auto it = producer.find(user->input(2));
                it != producer.end() && it->second->op_type() == "DequantizeLinear")
              bias_q = values_of(scope.find(it->second->input(0)));
          auto widened_for_bias = [&](std::size_t c) {
            constexpr double limit = double(1 << 30);
            return c < bias_q.size() && std::fabs(bias_q[c]) > limit * (1 - 1e-4) && std::fabs(bias_q[c]) <= limit;
          };
          const double full = static_cast<double>(limits(options.weight_type).qmax);
          for (std::size_t c = 0; c < channels; ++c)
            if (absmax[c] != 0 && absmax[c] != full && !widened_for_bias(c)) {
              err("weight '" + original + "' channel " + std::to_string(c) + " reaches only " +
                  std::to_string(absmax[c]) + " of " + std::to_string(full) + ": its scale is too wide");
              ok = false;
              break;
            }
          if (!ok) continue;
          if (f.constants.count(original) && !f.bn_folded_weights.count(original)) {
            auto w = as_doubles(f.constants.at(original));
            if (w.size() != q.size()) {
              err("weight '" + original + "' changed size");
              continue;
            }
            for (std::size_t o = 0; o < outer && ok; ++o)
              for (std::size_t c = 0; c < channels && ok; ++c)
                for (std::size_t i = 0; i < inner && ok; ++i) {
                  std::size_t k = (o * channels + c) * inner + i;
                  if (std::fabs(q[k] * scale[c] - w[k]) > scale[c] * 0.5 * (1 + 1e-5)) {
                    err("weight '" + original + "' value " + std::to_string(k) + " dequantizes to " +
                        std::to_string(q[k] * scale[c]) + ", float " + std::to_string(w[k]));
                    ok = false;
                  }
                }
            if (!ok) continue;
            ++out.weight_values_checked;
          }
          ++out.weights_ok;
        } else if (bias && weighted_op && slot == 2) {
          // scale = input scale * weight scale, per channel.
          auto dq_scale = [&](int input) -> std::vector<double> {
            auto it = producer.find(user->input(input));
            if (it == producer.end() || it->second->op_type() != "DequantizeLinear") return {};
            return values_of(scope.find(it->second->input(1)));
          };
          auto in_scale = dq_scale(0), w_scale = dq_scale(1);
          if (in_scale.size() != 1 || w_scale.empty() || scale.size() != w_scale.size()) {
            err("bias '" + original + "': its node's input and weight do not come from DequantizeLinear");
            continue;
          }
          bool ok = true;
          for (std::size_t c = 0; c < scale.size(); ++c) {
            double e = static_cast<double>(static_cast<float>(in_scale[0] * w_scale[c]));
            ok = ok && std::fabs(scale[c] - e) <= 1e-6 * e && zp[c] == 0;
          }
          if (!ok) {
            err("bias '" + original + "': scale is not input scale * weight scale");
            continue;
          }
          if (f.constants.count(original) && !f.bn_folded_weights.count(original)) {
            auto b = as_doubles(f.constants.at(original));
            for (std::size_t c = 0; c < b.size() && ok; ++c) {
              double s = scale.size() == 1 ? scale[0] : scale[c];
              ok = std::fabs(q[c] * s - b[c]) <= s * 0.5 * (1 + 1e-5) + 1e-12;
            }
            if (!ok) {
              err("bias '" + original + "' does not dequantize to the float bias");
              continue;
            }
          }
          ++out.biases_ok;
        }
        continue;
      }
      // QDQ around an op: every non-empty input from a DequantizeLinear (or, inside an If
      // branch, from an outer-scope tensor a DequantizeLinear made), every output into a QuantizeLinear.
      if (n.op_type() == "If" || n.op_type() == "Loop" || n.op_type() == "Scan") continue;
      // Data movement reads its data on input 0; the rest (shapes, indices, scales) stay as they are.
      const bool data_only = is_data_movement(n.op_type()) && n.op_type() != "Concat";
      bool inputs = n.input_size() > 0, outputs = n.output_size() > 0;
      for (int k = 0; k < (data_only ? std::min(1, n.input_size()) : n.input_size()); ++k)
        if (!n.input(k).empty() && !produced_by(n.input(k), "DequantizeLinear")) inputs = false;
      for (const auto& o : n.output()) {
        bool to_q = false;
        for (auto* c : consumers[o]) to_q = to_q || c->op_type() == "QuantizeLinear";
        outputs = outputs && to_q;
      }
      if (inputs && outputs) ++out.qdq_ops[n.op_type()];
    }
  };
  walk(qm->graph(), nullptr);
  return out;
}

// Scale and zero point of every QuantizeLinear in the main graph, by the tensor it quantizes.
inline std::map<std::string, std::pair<float, std::int64_t>> quantize_params(const std::filesystem::path& path) {
  std::map<std::string, std::pair<float, std::int64_t>> out;
  auto m = onnx::read_model_proto(path);
  if (!m) return out;
  const auto& g = m->graph();
  std::map<std::string, const ::onnx::TensorProto*> inits;
  for (const auto& t : g.initializer()) inits[t.name()] = &t;
  std::map<std::string, const ::onnx::NodeProto*> dq_of;  // Q output -> its DQ
  for (const auto& n : g.node())
    if (n.op_type() == "DequantizeLinear") dq_of[n.input(0)] = &n;
  for (const auto& n : g.node()) {
    if (n.op_type() != "QuantizeLinear" || !dq_of.count(n.output(0))) continue;
    const bool renamed = n.input(0).find("_QuantizeLinear_Input") != std::string::npos;
    const std::string tensor = renamed ? dq_of[n.output(0)]->output(0) : n.input(0);
    auto scale = onnx::tensor_from_proto(*inits.at(n.input(1)), path.parent_path());
    auto zp = onnx::tensor_from_proto(*inits.at(n.input(2)), path.parent_path());
    if (!scale || !zp) continue;
    out[tensor] = {scale->values<float>()[0], static_cast<std::int64_t>(qdq_detail::as_doubles(*zp).at(0))};
  }
  return out;
}

// Asserts a clean check and that every QuantizeLinear was verified.
inline void expect_clean(const QdqCheck& c) {
  EXPECT_TRUE(c.errors.empty()) << c.errors.size() << " mismatch(es), first: " << (c.errors.empty() ? "" : c.errors[0]);
  for (std::size_t i = 1; i < c.errors.size() && i < 6; ++i) ADD_FAILURE() << c.errors[i];
  EXPECT_GT(c.quantize_linear, 0);
  EXPECT_EQ(c.activation_params_ok, c.quantize_linear) << "every QuantizeLinear's scale and zero point recomputed";
}

}  // namespace modelkit::testing
