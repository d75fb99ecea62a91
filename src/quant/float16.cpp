// fp16: float16 conversion keeping float32 graph inputs and outputs (precisions.hpp).
#include <modelkit/precisions.hpp>

#include "onnx/model_proto.hpp"
#include "quant/graph.hpp"
#include "quant/rewrite.hpp"

#include <onnxruntime_float16.h>

#include <cmath>
#include <cstring>

namespace modelkit::quant {
namespace fs = std::filesystem;

const std::vector<std::string>& float16_op_block_list() {
  // ONNX Runtime's float16 converter keeps these in float32: the ai.onnx.ml operators, and ops
  // whose float16 kernels are missing or lose too much (index-producing and range ops, Min/Max).
  static const std::vector<std::string> ops = {
      "ArrayFeatureExtractor", "Binarizer",       "CastMap",         "CategoryMapper",        "DictVectorizer",
      "FeatureVectorizer",     "Imputer",         "LabelEncoder",    "LinearClassifier",      "LinearRegressor",
      "Normalizer",            "OneHotEncoder",   "SVMClassifier",   "SVMRegressor",          "Scaler",
      "TreeEnsembleClassifier", "TreeEnsembleRegressor", "ZipMap",   "NonMaxSuppression",     "TopK",
      "RoiAlign",              "Resize",          "Range",           "CumSum",                "Min",
      "Max",                   "Upsample",
  };
  return ops;
}

namespace {

constexpr int kFloat = ::onnx::TensorProto::FLOAT;
constexpr int kFloat16 = ::onnx::TensorProto::FLOAT16;

// ONNX Runtime's own float -> float16 rounding (round to nearest even; its header-only
// Float16Impl), so the initializers we write are the ones the runtime would make, with any
// compiler (clang before 15 has no _Float16 on x86).
struct Float16Bits : onnxruntime_float16::Float16Impl<Float16Bits> {
  static std::uint16_t from_float(float v) noexcept { return ToUint16Impl(v); }
};

// float -> float16 bits, as ONNX Runtime's converter does: finite values beyond the range become
// +-65504, nonzero values below the smallest subnormal become +-2^-24 (keeping sign and
// nonzeroness); NaN, infinities and zero are kept. Rounding to nearest even.
struct Clamped {
  std::int64_t large = 0;  // beyond +-65504
  std::int64_t tiny = 0;   // nonzero, below 2^-24 in magnitude
};

std::uint16_t to_float16(float v, Clamped& clamped) {
  if (std::isfinite(v)) {
    if (v > kFloat16Max || v < -kFloat16Max) {
      v = v > 0 ? kFloat16Max : -kFloat16Max;
      ++clamped.large;
    } else if (v != 0 && std::fabs(v) < kFloat16MinPositive) {
      v = v > 0 ? kFloat16MinPositive : -kFloat16MinPositive;
      ++clamped.tiny;
    }
  }
  return Float16Bits::from_float(v);
}

// A float32 tensor proto rewritten as float16; `clamped` counts values moved into range.
Result<::onnx::TensorProto> tensor_to_float16(const ::onnx::TensorProto& proto, const fs::path& dir,
                                              Clamped& clamped) {
  MODELKIT_TRY(auto t, onnx::tensor_from_proto(proto, dir));
  std::string raw(t.element_count() * 2, '\0');
  std::size_t i = 0;
  for (float v : t.values<float>()) {
    const std::uint16_t bits = to_float16(v, clamped);
    std::memcpy(raw.data() + 2 * i++, &bits, 2);
  }
  ::onnx::TensorProto out;
  out.set_name(proto.name());
  for (auto d : proto.dims()) out.add_dims(d);
  out.set_data_type(kFloat16);
  out.set_raw_data(std::move(raw));
  if (proto.has_doc_string()) out.set_doc_string(proto.doc_string());
  return out;
}

::onnx::NodeProto cast_node(const std::string& name, const std::string& input, const std::string& output, int to) {
  ::onnx::NodeProto n;
  n.set_op_type("Cast");
  n.set_name(name);
  n.add_input(input);
  n.add_output(output);
  auto* a = n.add_attribute();
  a->set_name("to");
  a->set_type(::onnx::AttributeProto::INT);
  a->set_i(to);
  return n;
}

bool is_float(const GraphScope& s, const std::string& name) {
  if (name.empty()) return false;
  auto t = s.type_of(name);
  return t && *t == ElementType::float32;
}

class Float16Converter {
 public:
  Float16Converter(FloatModel& m, QuantizeReport& report) : m_(m), report_(report), names_(m.model) {}

  Result<void> run() {
    constants_to_initializers(m_.model);
    scopes_ = build_scopes(m_.model);
    std::int64_t float_values = 0;
    for (const auto& s : scopes_)
      for (const auto& [name, type] : s->types) float_values += type == ElementType::float32 ? 1 : 0;
    if (float_values == 0)
      return failure(quoted(report_.model) + " has no float32 values to convert to float16 (is it float16 already?)");
    for (const auto& op : float16_op_block_list()) blocked_ops_.insert(op);
    // Bodies first: rebuilding a parent's node list moves its nodes, not the bodies they own.
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) MODELKIT_TRY_VOID(convert(**it));
    for (const auto& s : scopes_) drop_float_value_info(*s->graph);
    warn_clamped();
    summarize(report_, std::move(outcomes_));
    return {};
  }

 private:
  bool blocked(const ::onnx::NodeProto& n) const {
    return onnx::is_default_domain(n) && blocked_ops_.count(n.op_type()) > 0;
  }

  Result<void> convert(GraphScope& s) {
    auto& g = *s.graph;
    const bool main = s.parent == nullptr;

    // Initializers: float16 unless only blocked nodes of this graph read them (or, in the main
    // graph, they are a graph output, which stays float32).
    std::set<std::string> kept_float32;
    for (auto& t : *g.mutable_initializer()) {
      if (t.data_type() != kFloat) continue;
      bool convert = s.used_by_bodies.count(t.name()) > 0 || (!main && s.outputs.count(t.name()));
      if (auto it = s.consumers.find(t.name()); it != s.consumers.end())
        for (auto [node, slot] : it->second) convert = convert || !blocked(g.node(node));
      if (main && s.outputs.count(t.name())) convert = false;
      if (!convert) {
        kept_float32.insert(t.name());
        continue;
      }
      Clamped clamped;
      MODELKIT_TRY(t, tensor_to_float16(t, m_.dir, clamped));
      ++report_.weights_quantized;
      note_clamped(t.name(), clamped);
    }

    // Graph inputs: the main graph's float32 ones are cast once at the front; bodies' are retyped.
    std::vector<::onnx::NodeProto> front;
    std::map<std::string, std::string> input_of_cast;  // cast output -> the float32 input
    for (auto& v : *g.mutable_input()) {
      if (!onnx::declared_element_type(v) || *onnx::declared_element_type(v) != ElementType::float32) continue;
      if (s.initializers.count(v.name())) {  // an initializer listed as input (IR < 4): its own type
        if (!kept_float32.count(v.name())) v.mutable_type()->mutable_tensor_type()->set_elem_type(kFloat16);
        continue;
      }
      if (!main) {
        v.mutable_type()->mutable_tensor_type()->set_elem_type(kFloat16);
        continue;
      }
      const std::string cast_out = names_.unique(v.name() + "_float16");
      rename_uses(g, v.name(), cast_out);
      front.push_back(cast_node(names_.unique(v.name() + "_Cast_float16"), v.name(), cast_out, kFloat16));
      input_of_cast[cast_out] = v.name();
      ++report_.casts_inserted;
    }

    // Nodes: blocked ones read float32 through Casts and their float outputs are cast back;
    // converted ones produce float16 where they produced float32.
    std::map<int, std::vector<::onnx::NodeProto>> before, after;
    std::map<std::string, std::string> float32_copy;  // float16 value -> its float32 Cast output
    for (int i = 0; i < g.node_size(); ++i) {
      auto& n = *g.mutable_node(i);
      NodeOutcome outcome{n.name(), onnx::op_key(n), s.path, "converted", ""};
      if (!blocked(n)) {
        retype_attributes(n);
        outcomes_.push_back(std::move(outcome));
        continue;
      }
      outcome.status = "skipped";
      outcome.reason = "kept in float32 (ONNX Runtime's float16 converter blocks this op)";
      outcomes_.push_back(std::move(outcome));
      for (int k = 0; k < n.input_size(); ++k) {
        const std::string in = n.input(k);
        if (auto it = input_of_cast.find(in); it != input_of_cast.end()) {
          n.set_input(k, it->second);  // the graph's own float32 input
          continue;
        }
        if (!is_float(s, in) || kept_float32.count(in)) continue;
        auto [it, inserted] = float32_copy.try_emplace(in, "");
        if (inserted) {
          it->second = names_.unique(in + "_float32");
          before[i].push_back(cast_node(names_.unique(in + "_Cast_float32"), in, it->second, kFloat));
          ++report_.casts_inserted;
        }
        n.set_input(k, it->second);
      }
      for (int k = 0; k < n.output_size(); ++k) {
        const std::string out = n.output(k);
        if (!is_float(s, out)) continue;
        const std::string raw = names_.unique(out + "_float32");
        n.set_output(k, raw);
        after[i].push_back(cast_node(names_.unique(out + "_Cast_float16"), raw, out, kFloat16));
        ++report_.casts_inserted;
      }
    }

    // Graph outputs: the main graph's float32 ones get a Cast back; bodies' are retyped.
    std::vector<::onnx::NodeProto> back;
    for (auto& v : *g.mutable_output()) {
      if (!onnx::declared_element_type(v) || *onnx::declared_element_type(v) != ElementType::float32) continue;
      if (!main) {
        v.mutable_type()->mutable_tensor_type()->set_elem_type(kFloat16);
        continue;
      }
      const std::string name = v.name();
      if (s.inputs.count(name) || kept_float32.count(name)) continue;  // float32 already
      const std::string half = names_.unique(name + "_float16");
      rename_uses(g, name, half);
      bool produced = false;
      for (auto& n : *g.mutable_node())
        for (auto& o : *n.mutable_output())
          if (o == name) {
            o = half;
            produced = true;
          }
      for (auto& [i, list] : after)
        for (auto& n : list)
          for (auto& o : *n.mutable_output())
            if (o == name) {
              o = half;
              produced = true;
            }
      if (!produced) continue;
      back.push_back(cast_node(names_.unique(name + "_Cast_float32"), half, name, kFloat));
      ++report_.casts_inserted;
    }

    std::vector<::onnx::NodeProto> nodes = std::move(front);
    for (int i = 0; i < g.node_size(); ++i) {
      if (auto it = before.find(i); it != before.end())
        for (auto& n : it->second) nodes.push_back(std::move(n));
      nodes.push_back(std::move(*g.mutable_node(i)));
      if (auto it = after.find(i); it != after.end())
        for (auto& n : it->second) nodes.push_back(std::move(n));
    }
    for (auto& n : back) nodes.push_back(std::move(n));
    g.clear_node();
    for (auto& n : nodes) *g.add_node() = std::move(n);
    return {};
  }

  // A converted node that makes float32 by attribute makes float16 instead.
  void retype_attributes(::onnx::NodeProto& n) {
    for (auto& a : *n.mutable_attribute()) {
      if (a.type() == ::onnx::AttributeProto::INT && a.i() == kFloat &&
          ((n.op_type() == "Cast" && a.name() == "to") || a.name() == "dtype"))
        a.set_i(kFloat16);
      if (a.has_t() && a.t().data_type() == kFloat) {
        Clamped clamped;
        auto t = tensor_to_float16(a.t(), m_.dir, clamped);
        if (t) *a.mutable_t() = std::move(*t);
        note_clamped(n.name() + "." + a.name(), clamped);
      }
    }
  }

  void note_clamped(const std::string& name, const Clamped& c) {
    if (c.large == 0 && c.tiny == 0) return;
    report_.values_clamped += c.large + c.tiny;
    large_ += c.large;
    tiny_ += c.tiny;
    clamped_names_.push_back(name);
  }

  // One warning for the whole model: how many values of how many initializers moved, and where.
  void warn_clamped() {
    if (clamped_names_.empty()) return;
    std::string where;
    for (std::size_t i = 0; i < clamped_names_.size() && i < 3; ++i) where += (i ? ", " : "") + quoted(clamped_names_[i]);
    if (clamped_names_.size() > 3) where += ", ...";
    std::string what;
    if (large_ > 0) what = std::to_string(large_) + " value(s) beyond +-65504 clamped to +-65504";
    if (tiny_ > 0)
      what += (what.empty() ? "" : " and ") + std::to_string(tiny_) +
              " nonzero value(s) below 2^-24 in magnitude raised to +-2^-24";
    report_.warnings.push_back("float16 range: " + what + ", in " + std::to_string(clamped_names_.size()) +
                               " tensor(s): " + where);
  }

  // Declared float32 intermediate types are stale now; ONNX Runtime infers them again.
  static void drop_float_value_info(::onnx::GraphProto& g) {
    ::google::protobuf::RepeatedPtrField<::onnx::ValueInfoProto> kept;
    for (auto& v : *g.mutable_value_info()) {
      auto t = onnx::declared_element_type(v);
      if (!t || *t != ElementType::float32) *kept.Add() = std::move(v);
    }
    g.mutable_value_info()->Swap(&kept);
  }

  FloatModel& m_;
  QuantizeReport& report_;
  NameSet names_;
  std::vector<std::unique_ptr<GraphScope>> scopes_;
  std::set<std::string> blocked_ops_;
  std::vector<NodeOutcome> outcomes_;
  std::int64_t large_ = 0, tiny_ = 0;
  std::vector<std::string> clamped_names_;
};

}  // namespace

Result<QuantizeReport> convert_float16(const fs::path& model_path, const fs::path& output_path) {
  MODELKIT_TRY(auto m, load_model_for(model_path, "fp16"));
  auto report = start_report(m, model_path, output_path, "fp16");
  report.activation_type = "float16";
  report.weight_type = "float16";
  Float16Converter converter(m, report);
  MODELKIT_TRY_VOID(converter.run());
  MODELKIT_TRY_VOID(save_and_check(m.model, m.dir, output_path, report));
  return report;
}

}  // namespace modelkit::quant
