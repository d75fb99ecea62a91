// Graph indexes, element type inference, and the planner (which nodes and tensors get QDQ).
#include "quant/graph.hpp"
#include "util/name_pattern.hpp"

#include "onnx/model_proto.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <string_view>

namespace modelkit::quant {
namespace {

const ::onnx::AttributeProto* attribute(const ::onnx::NodeProto& n, std::string_view name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

std::int64_t int_attribute(const ::onnx::NodeProto& n, std::string_view name, std::int64_t fallback) {
  auto* a = attribute(n, name);
  return a && a->type() == ::onnx::AttributeProto::INT ? a->i() : fallback;
}

float float_attribute(const ::onnx::NodeProto& n, std::string_view name, float fallback) {
  auto* a = attribute(n, name);
  return a && a->type() == ::onnx::AttributeProto::FLOAT ? a->f() : fallback;
}

// Per-channel Q/DQ (the axis attribute) exists in the default domain from opset 13.
constexpr int kPerChannelQdqOpset = 13;


// Element type of a tensor-valued attribute/TensorProto.
std::optional<ElementType> proto_type(const ::onnx::TensorProto& t) {
  auto info = element_type_info(t.data_type());
  if (!info || t.data_type() == 0) return std::nullopt;
  return static_cast<ElementType>(t.data_type());
}

}  // namespace

// --- scopes --------------------------------------------------------------------------------------

::onnx::TensorProto* GraphScope::find_initializer(const std::string& name) const {
  for (const GraphScope* s = this; s; s = s->parent) {
    if (auto it = s->initializers.find(name); it != s->initializers.end()) return it->second;
    if (s->defines(name)) return nullptr;  // shadowed by a non-constant value
  }
  return nullptr;
}

std::optional<ElementType> GraphScope::type_of(const std::string& name) const {
  for (const GraphScope* s = this; s; s = s->parent)
    if (auto it = s->types.find(name); it != s->types.end()) return it->second;
  return std::nullopt;
}

bool GraphScope::defines(const std::string& name) const {
  return producer.count(name) || inputs.count(name) || initializers.count(name);
}

std::int64_t constants_to_initializers(::onnx::ModelProto& model) {
  std::int64_t converted = 0;
  std::function<void(::onnx::GraphProto&)> convert = [&](::onnx::GraphProto& g) {
    auto* nodes = g.mutable_node();
    ::google::protobuf::RepeatedPtrField<::onnx::NodeProto> kept;
    for (auto& n : *nodes) {
      for (auto& a : *n.mutable_attribute()) {
        if (a.has_g()) convert(*a.mutable_g());
        for (auto& sub : *a.mutable_graphs()) convert(sub);
      }
      if (n.op_type() == "Constant" && onnx::is_default_domain(n) && n.output_size() == 1 && n.attribute_size() == 1) {
        const auto& a = n.attribute(0);
        ::onnx::TensorProto t;
        bool ok = true;
        if (a.name() == "value" && a.has_t()) {
          t = a.t();
        } else if (a.name() == "value_float") {
          t.set_data_type(::onnx::TensorProto::FLOAT);
          t.add_float_data(a.f());
        } else if (a.name() == "value_floats") {
          t.set_data_type(::onnx::TensorProto::FLOAT);
          t.add_dims(a.floats_size());
          for (float f : a.floats()) t.add_float_data(f);
        } else if (a.name() == "value_int") {
          t.set_data_type(::onnx::TensorProto::INT64);
          t.add_int64_data(a.i());
        } else if (a.name() == "value_ints") {
          t.set_data_type(::onnx::TensorProto::INT64);
          t.add_dims(a.ints_size());
          for (auto i : a.ints()) t.add_int64_data(i);
        } else {
          ok = false;  // sparse_value, strings: left as nodes
        }
        if (ok && t.data_type() != ::onnx::TensorProto::STRING) {
          t.set_name(n.output(0));
          *g.add_initializer() = std::move(t);
          ++converted;
          continue;
        }
      }
      *kept.Add() = std::move(n);
    }
    nodes->Swap(&kept);
  };
  convert(*model.mutable_graph());
  if (converted && model.ir_version() < 4) {
    // Before IR 4 every initializer had to be a graph input too.
    auto& g = *model.mutable_graph();
    std::set<std::string> listed;
    for (const auto& v : g.input()) listed.insert(v.name());
    for (const auto& t : g.initializer())
      if (!listed.count(t.name())) {
        auto* v = g.add_input();
        v->set_name(t.name());
        v->mutable_type()->mutable_tensor_type()->set_elem_type(t.data_type());
        for (auto d : t.dims()) v->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(d);
      }
  }
  return converted;
}

namespace {

Result<std::int64_t> fold_batch_norms_in(::onnx::GraphProto& g, const std::filesystem::path& model_dir) {
  std::int64_t folded = 0;
  for (auto& n : *g.mutable_node())
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_g()) {
        auto r = fold_batch_norms_in(*a.mutable_g(), model_dir);
        if (!r) return r.take_error();
        folded += *r;
      }
    }
  std::map<std::string, ::onnx::TensorProto*> inits;
  for (auto& t : *g.mutable_initializer()) inits[t.name()] = &t;
  std::map<std::string, int> uses;
  for (const auto& n : g.node())
    for (const auto& i : n.input()) ++uses[i];
  for (const auto& o : g.output()) ++uses[o.name()];
  std::map<std::string, int> producer;
  for (int i = 0; i < g.node_size(); ++i)
    for (const auto& o : g.node(i).output()) producer[o] = i;

  auto read = [&](const std::string& name) -> std::optional<Tensor> {
    auto it = inits.find(name);
    if (it == inits.end()) return std::nullopt;
    auto t = onnx::tensor_from_proto(*it->second, model_dir);
    if (!t || t->type != ElementType::float32) return std::nullopt;
    return std::move(*t);
  };
  std::set<int> removed;
  for (int i = 0; i < g.node_size(); ++i) {
    auto& bn = *g.mutable_node(i);
    if (bn.op_type() != "BatchNormalization" || !onnx::is_default_domain(bn) || bn.input_size() != 5 || bn.output_size() != 1)
      continue;
    if (int_attribute(bn, "training_mode", 0) != 0) continue;
    auto p = producer.find(bn.input(0));
    if (p == producer.end() || uses[bn.input(0)] != 1) continue;
    auto& conv = *g.mutable_node(p->second);
    if (conv.op_type() != "Conv" || !onnx::is_default_domain(conv) || conv.input_size() < 2) continue;
    auto w = read(conv.input(1));
    auto gamma = read(bn.input(1)), beta = read(bn.input(2)), mean = read(bn.input(3)), var = read(bn.input(4));
    if (!w || !gamma || !beta || !mean || !var || w->shape.empty()) continue;
    const auto channels = static_cast<std::size_t>(w->shape[0]);
    if (gamma->element_count() != channels || beta->element_count() != channels || mean->element_count() != channels ||
        var->element_count() != channels)
      continue;
    std::optional<Tensor> bias;
    const bool has_bias = conv.input_size() > 2 && !conv.input(2).empty();
    if (has_bias) {
      bias = read(conv.input(2));
      if (!bias || bias->element_count() != channels) continue;
    }
    // The weight and bias may be shared with other nodes: write new initializers.
    if (uses[conv.input(1)] != 1 || (has_bias && uses[conv.input(2)] != 1)) continue;
    const float eps = float_attribute(bn, "epsilon", 1e-5f);
    const std::size_t per_channel = w->element_count() / channels;
    auto wv = w->values<float>();
    std::vector<float> b(channels, 0.f);
    for (std::size_t c = 0; c < channels; ++c) {
      const double factor = static_cast<double>(gamma->values<float>()[c]) /
                            std::sqrt(static_cast<double>(var->values<float>()[c]) + eps);
      for (std::size_t k = 0; k < per_channel; ++k)
        wv[c * per_channel + k] = static_cast<float>(wv[c * per_channel + k] * factor);
      const double b0 = bias ? bias->values<float>()[c] : 0.0;
      b[c] = static_cast<float>((b0 - mean->values<float>()[c]) * factor + beta->values<float>()[c]);
    }
    auto w_proto = onnx::tensor_to_proto(*w);
    *inits[conv.input(1)] = std::move(w_proto);
    Tensor bias_tensor = Tensor::from_values<float>(has_bias ? conv.input(2) : bn.output(0) + "_folded_bias",
                                                     {static_cast<std::int64_t>(channels)}, b);
    if (has_bias) {
      *inits[conv.input(2)] = onnx::tensor_to_proto(bias_tensor);
    } else {
      *g.add_initializer() = onnx::tensor_to_proto(bias_tensor);
      while (conv.input_size() < 3) conv.add_input("");
      conv.set_input(2, bias_tensor.name);
    }
    conv.set_output(0, bn.output(0));
    removed.insert(i);
    ++folded;
  }
  if (!removed.empty()) {
    ::google::protobuf::RepeatedPtrField<::onnx::NodeProto> kept;
    for (int i = 0; i < g.node_size(); ++i)
      if (!removed.count(i)) *kept.Add() = std::move(*g.mutable_node(i));
    g.mutable_node()->Swap(&kept);
  }
  return folded;
}

void declare(GraphScope& s, const ::onnx::ValueInfoProto& v) {
  if (auto t = onnx::declared_element_type(v)) s.types[v.name()] = *t;
}

// Output element types of a node from its inputs' types and attributes.
void infer_node(GraphScope& s, const ::onnx::NodeProto& n, const std::vector<GraphScope*>& bodies) {
  auto in = [&](int i) -> std::optional<ElementType> {
    if (i >= n.input_size() || n.input(i).empty()) return std::nullopt;
    return s.type_of(n.input(i));
  };
  auto set = [&](int i, std::optional<ElementType> t) {
    if (i < n.output_size() && !n.output(i).empty() && t && !s.types.count(n.output(i))) s.types[n.output(i)] = *t;
  };
  const std::string& op = n.op_type();
  if (!onnx::is_default_domain(n)) {
    for (int i = 0; i < n.output_size(); ++i) set(i, in(0));
    return;
  }
  static const std::set<std::string, std::less<>> to_int64 = {"Shape", "Size", "NonZero", "ArgMax", "ArgMin"};
  static const std::set<std::string, std::less<>> to_bool = {
      "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Xor", "IsNaN", "IsInf"};
  if (to_int64.count(op)) return set(0, ElementType::int64);
  if (to_bool.count(op)) return set(0, ElementType::boolean);
  if (op == "Cast") return set(0, static_cast<ElementType>(int_attribute(n, "to", 0)));
  if (op == "CastLike") return set(0, in(1));
  if (op == "Where") return set(0, in(1));
  if (op == "ConstantOfShape") {
    auto* a = attribute(n, "value");
    return set(0, a && a->has_t() ? proto_type(a->t()) : std::optional<ElementType>(ElementType::float32));
  }
  if (op == "Constant") {
    auto* a = attribute(n, "value");
    if (a && a->has_t()) return set(0, proto_type(a->t()));
    return;
  }
  if (op == "TopK" || op == "MaxPool" || op == "Unique") {
    set(0, in(0));
    for (int i = 1; i < n.output_size(); ++i) set(i, ElementType::int64);
    return;
  }
  if (op == "Dropout") {
    set(0, in(0));
    return set(1, ElementType::boolean);
  }
  if (op == "OneHot") return set(0, in(2));
  if (op == "DequantizeLinear") return set(0, in(1));
  if (op == "QuantizeLinear") return set(0, in(2) ? in(2) : std::optional<ElementType>(ElementType::uint8));
  if (op == "MatMulInteger" || op == "ConvInteger") return set(0, ElementType::int32);
  if (op == "EyeLike" || op == "RandomNormalLike" || op == "RandomUniformLike" || op == "Bernoulli") {
    auto dt = int_attribute(n, "dtype", 0);
    return set(0, dt ? std::optional<ElementType>(static_cast<ElementType>(dt)) : in(0));
  }
  if (op == "RandomNormal" || op == "RandomUniform") return set(0, static_cast<ElementType>(int_attribute(n, "dtype", 1)));
  if (op == "Multinomial") return set(0, static_cast<ElementType>(int_attribute(n, "dtype", 6)));
  if (op == "LayerNormalization") {
    set(0, in(0));
    set(1, ElementType::float32);
    return set(2, ElementType::float32);
  }
  if (op == "If" || op == "Loop" || op == "Scan") {
    // Outputs take the body's output types: If directly; Loop/Scan bodies lead with the
    // condition (Loop) and the carried state, and the node's outputs follow the same order
    // after the condition.
    if (bodies.empty()) return;
    const GraphScope* body = bodies.front();
    const int skip = op == "Loop" ? 1 : 0;
    for (int i = 0; i < n.output_size(); ++i) {
      int bi = i + skip;
      if (bi < body->graph->output_size()) set(i, body->type_of(body->graph->output(bi).name()));
    }
    return;
  }
  // Everything else: the first typed input (element-wise math, data movement, pooling, ...).
  for (int i = 0; i < n.input_size(); ++i)
    if (auto t = in(i)) {
      for (int o = 0; o < n.output_size(); ++o) set(o, t);
      return;
    }
}

void index_graph(GraphScope& s, std::vector<std::unique_ptr<GraphScope>>& all) {
  auto& g = *s.graph;
  for (const auto& v : g.input()) {
    s.inputs.insert(v.name());
    declare(s, v);
  }
  for (auto& t : *g.mutable_initializer()) {
    s.initializers[t.name()] = &t;
    if (auto type = proto_type(t)) s.types[t.name()] = *type;
  }
  for (const auto& v : g.output()) {
    s.outputs.insert(v.name());
    declare(s, v);
  }
  for (const auto& v : g.value_info()) declare(s, v);
  for (int i = 0; i < g.node_size(); ++i) {
    auto& n = *g.mutable_node(i);
    for (int k = 0; k < n.input_size(); ++k)
      if (!n.input(k).empty()) s.consumers[n.input(k)].emplace_back(i, k);
    for (const auto& o : n.output())
      if (!o.empty()) s.producer[o] = i;
  }
  // Nodes in order; bodies are indexed (and typed) before their node's outputs are inferred.
  for (int i = 0; i < g.node_size(); ++i) {
    auto& n = *g.mutable_node(i);
    std::vector<GraphScope*> bodies;
    for (auto& a : *n.mutable_attribute()) {
      std::vector<std::pair<::onnx::GraphProto*, std::string>> graphs;
      if (a.has_g()) graphs.emplace_back(a.mutable_g(), a.name());
      for (auto& sub : *a.mutable_graphs()) graphs.emplace_back(&sub, a.name());
      for (auto& [body, attr_name] : graphs) {
        auto child = std::make_unique<GraphScope>();
        child->graph = body;
        child->parent = &s;
        child->path = (s.path.empty() ? "" : s.path + "/") + (n.name().empty() ? n.op_type() : n.name()) + "/" + attr_name;
        child->owner_op = n.op_type();
        GraphScope* raw = child.get();
        all.push_back(std::move(child));
        s.children.push_back(raw);
        bodies.push_back(raw);
        index_graph(*raw, all);
      }
    }
    infer_node(s, n, bodies);
  }
  // Names the bodies read from enclosing scopes.
  for (GraphScope* c : s.children) {
    for (const auto& [name, uses] : c->consumers)
      if (!c->defines(name)) s.used_by_bodies.insert(name);
    for (const auto& name : c->used_by_bodies)
      if (!c->defines(name)) s.used_by_bodies.insert(name);
    for (const auto& name : c->outputs)
      if (!c->defines(name)) s.used_by_bodies.insert(name);
  }
}

}  // namespace

Result<std::int64_t> fold_batch_norms(::onnx::ModelProto& model, const std::filesystem::path& model_dir) {
  return fold_batch_norms_in(*model.mutable_graph(), model_dir);
}

namespace {
struct PrePass {
  std::string_view name;
  Result<std::int64_t> (*run)(::onnx::ModelProto&, const std::filesystem::path&);
};
constexpr PrePass kPrePasses[] = {
    {"constants-to-initializers",
     [](::onnx::ModelProto& m, const std::filesystem::path&) -> Result<std::int64_t> {
       return constants_to_initializers(m);
     }},
    {"fold-batch-norm", fold_batch_norms},
};
}  // namespace

Result<std::vector<PassRun>> run_pre_passes(::onnx::ModelProto& model, const std::filesystem::path& model_dir) {
  std::vector<PassRun> runs;
  for (const auto& pass : kPrePasses) {
    MODELKIT_TRY_CTX(std::int64_t changed, pass.run(model, model_dir), "pass " + std::string(pass.name));
    runs.push_back({pass.name, changed});
  }
  return runs;
}

std::vector<std::unique_ptr<GraphScope>> build_scopes(::onnx::ModelProto& model) {
  std::vector<std::unique_ptr<GraphScope>> all;
  auto root = std::make_unique<GraphScope>();
  root->graph = model.mutable_graph();
  GraphScope* raw = root.get();
  all.push_back(std::move(root));
  index_graph(*raw, all);
  return all;
}

std::optional<Role> role_of(const ::onnx::NodeProto& node, std::int64_t opset) {
  const auto* rule = find_op_rule(node, opset);
  if (!rule) return std::nullopt;
  return rule->role;
}

std::int64_t default_opset(const ::onnx::ModelProto& model) {
  for (const auto& o : model.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") return o.version();
  return 0;
}

const std::vector<std::string>& supported_op_types() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& r : op_rules()) v.emplace_back(r.op);
    return v;
  }();
  return names;
}

std::string qdq_domain(std::int64_t opset, const QuantizeOptions& o) {
  // The default domain when its Q/DQ accept both types (the type table's min_opset) and,
  // per-channel, the axis attribute (opset 13).
  const int needed = std::max({setting_info(o.activation_type).min_opset, setting_info(o.weight_type).min_opset,
                               o.per_channel ? kPerChannelQdqOpset : 0});
  return opset >= needed ? "" : "com.microsoft";
}

// --- planning ------------------------------------------------------------------------------------

int Planned::find(int g) {
  while (group_parent[static_cast<std::size_t>(g)] != g) {
    group_parent[static_cast<std::size_t>(g)] = group_parent[static_cast<std::size_t>(group_parent[static_cast<std::size_t>(g)])];
    g = group_parent[static_cast<std::size_t>(g)];
  }
  return g;
}

void Planned::unite(int a, int b) {
  a = find(a);
  b = find(b);
  if (a != b) group_parent[static_cast<std::size_t>(std::max(a, b))] = std::min(a, b);
}

std::vector<std::string> Planned::tensors_to_calibrate() const {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& scope : scopes)
    for (int i = 0; i < scope->graph->node_size(); ++i) {
      // In graph order: a node's inputs, then its outputs.
      const auto& n = scope->graph->node(i);
      auto add = [&](const std::string& name) {
        auto it = activations.find({scope.get(), name});
        if (it == activations.end() || it->second.is_initializer || it->second.fixed_unit_range ||
            it->second.derived)
          return;
        if (seen.insert(name).second) out.push_back(name);
      };
      for (const auto& in : n.input()) add(in);
      for (const auto& o : n.output()) add(o);
    }
  for (const auto& f : folds)
    if (seen.insert(f.output).second) out.push_back(f.output);
  return out;
}

namespace {

struct Matcher {
  struct Pattern {
    util::NamePattern pattern;
    std::string text;
    bool used = false;
  };
  std::vector<Pattern> patterns;

  // The pattern that excludes `name`, if any.
  const Pattern* match(const std::string& name) {
    if (name.empty()) return nullptr;
    for (auto& p : patterns) {
      if (p.pattern.matches(name)) {
        p.used = true;
        return &p;
      }
    }
    return nullptr;
  }
};

class Planner {
 public:
  Planner(Planned& out, const QuantizeOptions& options, Matcher& matcher)
      : out_(out), options_(options), matcher_(matcher) {}

  void plan_graph(GraphScope& s) {
    // Phase 1: compute ops (anchors). Phase 2: Relu/Clip folding candidates (their outputs are
    // quantized like the anchor's). Phase 3: data movement following quantized inputs.
    std::vector<std::size_t> states(static_cast<std::size_t>(s.graph->node_size()));
    for (int i = 0; i < s.graph->node_size(); ++i) {
      NodeState st;
      st.scope = &s;
      st.node = i;
      states[static_cast<std::size_t>(i)] = out_.nodes.size();
      out_.nodes.push_back(std::move(st));
    }
    auto state = [&](int i) -> NodeState& { return out_.nodes[states[static_cast<std::size_t>(i)]]; };
    states_ = &states;
    for (int phase = 1; phase <= 3; ++phase)
      for (int i = 0; i < s.graph->node_size(); ++i) {
        const auto& n = s.graph->node(i);
        auto role = role_of(n, out_.opset);
        NodeState& st = state(i);
        if (phase == 1) {
          if (!role) {
            st.status = "skipped";
            st.reason = "op type not quantizable";
            continue;
          }
          if (!options_.op_types.empty() &&
              std::find(options_.op_types.begin(), options_.op_types.end(), n.op_type()) == options_.op_types.end()) {
            st.status = "skipped";
            st.reason = "not in op_types";
            continue;
          }
          if (auto* p = matcher_.match(n.name())) {
            st.status = "skipped";
            st.reason = "excluded by pattern " + quoted(p->text);
            continue;
          }
        }
        if (!st.status.empty()) continue;
        if (phase == 1 && *role != Role::data_movement && *role != Role::activation) decide_anchor(s, i, *role, st);
        if (phase == 2 && *role == Role::activation) decide_fold(s, i, st);
        if (phase == 3 && *role == Role::data_movement) decide_data_movement(s, i, st);
      }
    // If branches are quantized in place (calibration routes their values out through the If).
    // Loop/Scan bodies run per iteration and their values cannot leave as plain outputs: their
    // nodes stay float.
    for (GraphScope* c : s.children) {
      if (c->owner_op == "If") {
        plan_graph(*c);
        continue;
      }
      skip_body(*c, "inside a " + c->owner_op + " body");
    }
  }

  void skip_body(GraphScope& s, const std::string& reason) {
    for (int i = 0; i < s.graph->node_size(); ++i) {
      NodeState st;
      st.scope = &s;
      st.node = i;
      st.status = "skipped";
      st.reason = reason;
      out_.nodes.push_back(std::move(st));
    }
    for (GraphScope* c : s.children) skip_body(*c, reason);
  }

 private:
  // Checks the element type of input `slot`: float32 passes; returns the skip reason otherwise.
  std::optional<std::string> float_check(GraphScope& s, const ::onnx::NodeProto& n, int slot) {
    auto t = s.type_of(n.input(slot));
    if (!t) return "element type of an input unknown";
    if (*t != ElementType::float32) return "non-float32 input (" + element_type_name(*t) + ")";
    return std::nullopt;
  }

  int new_group() {
    out_.group_parent.push_back(static_cast<int>(out_.group_parent.size()));
    return static_cast<int>(out_.group_parent.size()) - 1;
  }

  ActivationTensor& mark(GraphScope& s, const std::string& name) {
    auto key = std::make_pair(&s, name);
    auto it = out_.activations.find(key);
    if (it != out_.activations.end()) return it->second;
    ActivationTensor a;
    a.scope = &s;
    a.name = name;
    a.is_initializer = s.find_initializer(name) != nullptr;
    a.group = new_group();
    return out_.activations.emplace(key, std::move(a)).first->second;
  }

  bool is_marked(GraphScope& s, const std::string& name) const { return out_.activations.count({&s, name}) > 0; }

  void skip(NodeState& st, std::string reason) {
    st.status = "skipped";
    st.reason = std::move(reason);
  }

  void decide_anchor(GraphScope& s, int i, Role role, NodeState& st) {
    const auto& n = s.graph->node(i);
    std::vector<int> activation_slots;
    std::vector<WeightUse> weights;
    if (role == Role::weighted) {
      const std::string& op = n.op_type();
      if (n.input_size() < 2) return skip(st, "missing inputs");
      for (int slot : {0, 1})
        if (auto r = float_check(s, n, slot)) return skip(st, *r);
      activation_slots.push_back(0);
      auto* w = s.find_initializer(n.input(1));
      const OpRule* rule = find_op_rule(n, out_.opset);
      if (!w && rule->constant_weight_required) return skip(st, "weight is not a constant");
      if (w) {
        int rank = w->dims_size();
        int axis = options_.per_channel && rule->weight_axis ? rule->weight_axis(n, rank) : -1;
        weights.push_back(WeightUse{&s, i, 1, false, axis});
        bool has_bias = (op != "MatMul") && n.input_size() > 2 && !n.input(2).empty();
        if (has_bias) {
          auto* b = s.find_initializer(n.input(2));
          bool bias_ok = b && b->data_type() == ::onnx::TensorProto::FLOAT && b->dims_size() == 1;
          if (op == "Gemm")
            bias_ok = bias_ok && float_attribute(n, "alpha", 1.f) == 1.f && float_attribute(n, "beta", 1.f) == 1.f &&
                      rank == 2 && b->dims(0) == w->dims(int_attribute(n, "transB", 0) ? 0 : 1);
          if (bias_ok) weights.push_back(WeightUse{&s, i, 2, true, axis >= 0 ? 0 : -1});
        }
      } else {
        activation_slots.push_back(1);
      }
    } else if (role == Role::binary) {
      if (n.input_size() != 2) return skip(st, "missing inputs");
      for (int slot : {0, 1})
        if (auto r = float_check(s, n, slot)) return skip(st, *r);
      if (s.find_initializer(n.input(0)) && s.find_initializer(n.input(1))) return skip(st, "all inputs constant");
      activation_slots = {0, 1};
    } else if (role == Role::concat) {
      for (int slot = 0; slot < n.input_size(); ++slot)
        if (auto r = float_check(s, n, slot)) return skip(st, *r);
      bool all_constant = true;
      for (int slot = 0; slot < n.input_size(); ++slot) {
        activation_slots.push_back(slot);
        all_constant = all_constant && s.find_initializer(n.input(slot));
      }
      if (all_constant) return skip(st, "all inputs constant");
    } else {  // own_scale, softmax
      if (n.input_size() < 1) return skip(st, "missing inputs");
      if (auto r = float_check(s, n, 0)) return skip(st, *r);
      if (s.find_initializer(n.input(0))) return skip(st, "all inputs constant");
      activation_slots = {0};
    }
    if (n.output_size() < 1 || n.output(0).empty()) return skip(st, "no output");
    if (n.output_size() > 1) return skip(st, "more than one output");

    st.status = "quantized";
    st.activation_slots = activation_slots;
    std::vector<int> groups;
    for (int slot : activation_slots) groups.push_back(mark(s, n.input(slot)).group);
    auto& out = mark(s, n.output(0));
    if (role == Role::softmax) out.fixed_unit_range = true;
    if (role == Role::concat) {
      for (int g : groups) out_.unite(g, out.group);
      out.derived = true;
    }
    for (auto& w : weights) out_.weights.push_back(w);
  }

  void decide_data_movement(GraphScope& s, int i, NodeState& st) {
    const auto& n = s.graph->node(i);
    if (n.input_size() < 1 || n.input(0).empty()) return skip(st, "missing inputs");
    if (auto r = float_check(s, n, 0)) return skip(st, *r);
    const bool constant_table = n.op_type() == "Gather" && s.find_initializer(n.input(0));
    if (!is_marked(s, n.input(0)) && !constant_table) return skip(st, "input not quantized (follows its input)");
    if (n.op_type() == "MaxPool" && n.output_size() > 1 && !n.output(1).empty())
      return skip(st, "indices output requested");
    st.status = "quantized";
    st.activation_slots = {0};
    int group = mark(s, n.input(0)).group;
    // Cubic Resize can overshoot its input's range; every other op here only moves or
    // (linearly) interpolates values.
    bool within_input_range = true;
    if (n.op_type() == "Resize")
      for (const auto& a : n.attribute())
        if (a.name() == "mode" && a.s() == "cubic") within_input_range = false;
    for (const auto& o : n.output())
      if (!o.empty()) {
        auto& out = mark(s, o);
        out_.unite(group, out.group);
        out.derived = out.derived || within_input_range;
      }
  }

  void decide_fold(GraphScope& s, int i, NodeState& st) {
    const auto& n = s.graph->node(i);
    if (n.input_size() < 1 || n.output_size() != 1) return skip(st, "activation kept in float: unexpected arity");
    if (auto r = float_check(s, n, 0)) return skip(st, *r);
    const std::string& x = n.input(0);
    auto prod = s.producer.find(x);
    if (prod == s.producer.end()) return skip(st, "activation kept in float: input not produced by a quantized op");
    const auto& p = s.graph->node(prod->second);
    auto prole = role_of(p, out_.opset);
    const bool producer_quantized =
        out_.nodes[(*states_)[static_cast<std::size_t>(prod->second)]].status == "quantized";
    if (!producer_quantized || !prole || *prole == Role::data_movement || *prole == Role::softmax ||
        *prole == Role::activation || !is_marked(s, x))
      return skip(st, "activation kept in float: input not produced by a quantized op");
    if (s.consumers[x].size() != 1 || s.outputs.count(x) || s.used_by_bodies.count(x))
      return skip(st, "activation kept in float: its input has other consumers");
    FoldCandidate f;
    f.scope = &s;
    f.node = i;
    f.input = x;
    f.output = n.output(0);
    if (n.op_type() == "Relu") {
      f.clip_min = 0;
      f.clip_max = std::numeric_limits<float>::infinity();
    } else {  // Clip: attributes before opset 11, optional constant inputs after
      f.clip_min = float_attribute(n, "min", -std::numeric_limits<float>::infinity());
      f.clip_max = float_attribute(n, "max", std::numeric_limits<float>::infinity());
      for (int slot : {1, 2}) {
        if (slot >= n.input_size() || n.input(slot).empty()) continue;
        auto* c = s.find_initializer(n.input(slot));
        if (!c) return skip(st, "activation kept in float: clip bounds are not constant");
        auto value = onnx::tensor_from_proto(*c);
        if (!value || value->type != ElementType::float32 || value->element_count() != 1)
          return skip(st, "activation kept in float: clip bounds are not float32 scalars");
        (slot == 1 ? f.clip_min : f.clip_max) = value->values<float>()[0];
      }
    }
    st.status = "fold_candidate";
    out_.folds.push_back(f);
    mark(s, f.output);
  }

  Planned& out_;
  const QuantizeOptions& options_;
  Matcher& matcher_;
  const std::vector<std::size_t>* states_ = nullptr;  // node index -> out_.nodes index, current graph
};

}  // namespace

Result<Planned> plan(::onnx::ModelProto& model, const QuantizeOptions& options) {
  Matcher matcher;
  // A text that is not a valid regular expression is still usable as an exact name; it is
  // refused below if it names no node.
  for (const auto& text : options.exclude_nodes) matcher.patterns.push_back({util::NamePattern(text), text, false});
  Planned out;
  out.opset = default_opset(model);
  out.scopes = build_scopes(model);
  // Patterns that are neither a valid regex nor an exact node name are errors.
  std::set<std::string> node_names;
  for (const auto& s : out.scopes)
    for (const auto& n : s->graph->node()) node_names.insert(n.name());
  for (const auto& p : matcher.patterns)
    if (!p.pattern.is_regex() && !node_names.count(p.text))
      return usage_error("exclude pattern " + quoted(p.text) + " is neither a node name nor a valid regular expression (" +
                         p.pattern.regex_error() + ")");

  Planner planner(out, options, matcher);
  planner.plan_graph(*out.scopes.front());

  for (const auto& p : matcher.patterns)
    if (!p.used) out.warnings.push_back("exclude pattern " + quoted(p.text) + " matches no node");
  std::set<std::string> present;
  for (const auto& s : out.scopes)
    for (const auto& n : s->graph->node()) present.insert(onnx::op_key(n));
  const auto& supported = supported_op_types();
  for (const auto& op : options.op_types) {
    if (!options.op_types_from_user) break;  // a default list is not the user's to hear about
    if (std::find(supported.begin(), supported.end(), op) == supported.end())
      out.warnings.push_back("op type " + quoted(op) + " is not quantizable");
    else if (!present.count(op))
      out.warnings.push_back("op type " + quoted(op) + " matches no node");
  }
  return out;
}

}  // namespace modelkit::quant
