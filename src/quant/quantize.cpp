// quantize(): applies a plan with calibrated ranges — Q/DQ pairs for activations, offline
// weights/biases/constant operands with a DequantizeLinear, Relu/Clip folding — writes the
// model and checks that ONNX Runtime loads it.
#include <modelkit/quantize.hpp>
#include <modelkit/runtime.hpp>

#include "quant/report_json.hpp"
#include "onnx/deferred_data.hpp"
#include "onnx/model_proto.hpp"
#include "quant/graph.hpp"
#include "quant/rewrite.hpp"
#include "quant/params.hpp"
#include "quant/weight_quantizer.hpp"
#include "util/json_writer.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <set>

namespace modelkit::quant {
namespace fs = std::filesystem;
namespace {

// Planted bugs for the mutation check (scripts/mutation_check.sh builds the quant area with one
// MODELKIT_TEST_MUTATION_* defined; normal builds define none): the quant tests must fail under
// each. act_scale_x2: activation scales doubled; weight_scale_x2: weights quantized at twice
// their scale; skip_qdq: the first main-graph activation loses its Q/DQ pair; identity_model:
// the float model is written back unquantized.
#if defined(MODELKIT_TEST_MUTATION_ACT_SCALE_X2)
constexpr float kPlantedActivationScale = 2;
#else
constexpr float kPlantedActivationScale = 1;
#endif
#if defined(MODELKIT_TEST_MUTATION_WEIGHT_SCALE_X2)
constexpr float kPlantedWeightScale = 2;
#else
constexpr float kPlantedWeightScale = 1;
#endif
#if defined(MODELKIT_TEST_MUTATION_SKIP_QDQ)
constexpr bool kPlantedSkipQdq = true;
#else
constexpr bool kPlantedSkipQdq = false;
#endif
#if defined(MODELKIT_TEST_MUTATION_IDENTITY_MODEL)
constexpr bool kPlantedIdentityModel = true;
#else
constexpr bool kPlantedIdentityModel = false;
#endif

using Key = std::pair<GraphScope*, std::string>;

class Emitter {
 public:
  // With `deferred`, weights read from external data are streamed: quantized while the model is
  // written (their initializers hold placeholders registered there).
  Emitter(::onnx::ModelProto& model, Planned& planned, const calib::TensorRanges& ranges,
          const QuantizeOptions& options, std::string domain, fs::path model_dir, QuantizeReport& report,
          onnx::DeferredTensors* deferred)
      : model_(model), p_(planned), ranges_(ranges), options_(options), domain_(std::move(domain)),
        model_dir_(std::move(model_dir)), report_(report), deferred_(deferred) {}

  Result<void> run() {
    collect_names();
    MODELKIT_TRY_VOID(drop_unreached_bodies());
    MODELKIT_TRY_VOID(decide_folds());
    MODELKIT_TRY_VOID(compute_group_params());
    // Bodies first: rebuilding a parent's node list moves its nodes, not the bodies they own.
    for (auto it = p_.scopes.rbegin(); it != p_.scopes.rend(); ++it) MODELKIT_TRY_VOID(emit(**it));
    remove_unused_initializers();
    if (!domain_.empty()) {
      bool has = false;
      for (const auto& o : model_.opset_import()) has = has || o.domain() == domain_;
      if (!has) {
        auto* o = model_.add_opset_import();
        o->set_domain(domain_);
        o->set_version(1);
      }
    }
    return {};
  }

 private:
  // --- names -------------------------------------------------------------------------------------
  void collect_names() {
    for (const auto& s : p_.scopes) {
      const auto& g = *s->graph;
      for (const auto& v : g.input()) names_.insert(v.name());
      for (const auto& v : g.output()) names_.insert(v.name());
      for (const auto& t : g.initializer()) names_.insert(t.name());
      for (const auto& n : g.node()) {
        names_.insert(n.name());
        for (const auto& o : n.output()) names_.insert(o);
        for (const auto& i : n.input()) names_.insert(i);
      }
    }
  }
  std::string unique(const std::string& base) {
    std::string name = base;
    for (int k = 1; names_.count(name); ++k) name = base + "_" + std::to_string(k);
    names_.insert(name);
    return name;
  }

  NodeState& state(GraphScope* s, int node) { return p_.nodes[node_index_.at({s, node})]; }

  // --- ranges ------------------------------------------------------------------------------------
  std::optional<calib::Range> calibrated(const std::string& name) const {
    auto it = ranges_.tensors.find(name);
    if (it == ranges_.tensors.end()) return std::nullopt;
    return it->second;
  }

  // Bodies whose tensors calibration never saw (an If branch no sample took) stay in float.
  Result<void> drop_unreached_bodies() {
    for (std::size_t i = 0; i < p_.nodes.size(); ++i) node_index_[{p_.nodes[i].scope, p_.nodes[i].node}] = i;
    std::set<GraphScope*> unreached;
    std::vector<std::string> missing_main;
    auto check = [&](GraphScope* s, const std::string& name) {
      if (calibrated(name)) return;
      if (s->parent == nullptr) missing_main.push_back(name);
      else unreached.insert(s);
    };
    for (const auto& [key, a] : p_.activations)
      if (!a.is_initializer && !a.fixed_unit_range && !a.derived) check(a.scope, a.name);
    for (const auto& f : p_.folds) check(f.scope, f.output);
    if (!missing_main.empty())
      return failure("the ranges lack " + std::to_string(missing_main.size()) + " tensor(s) this model needs, e.g. " +
                     quoted(missing_main.front()) + " (were they collected on this model with these options?)");
    // Descendants of an unreached body are unreached too.
    for (const auto& s : p_.scopes)
      for (GraphScope* a = s->parent; a; a = a->parent)
        if (unreached.count(a)) unreached.insert(s.get());
    if (unreached.empty()) return {};
    for (auto& ns : p_.nodes)
      if (unreached.count(ns.scope) && (ns.status == "quantized" || ns.status == "fold_candidate")) {
        ns.status = "skipped";
        ns.reason = "branch not reached by the calibration data";
        ns.activation_slots.clear();
      }
    std::erase_if(p_.activations, [&](const auto& kv) { return unreached.count(kv.first.first) > 0; });
    std::erase_if(p_.weights, [&](const WeightUse& w) { return unreached.count(w.scope) > 0; });
    std::erase_if(p_.folds, [&](const FoldCandidate& f) { return unreached.count(f.scope) > 0; });
    // One warning per outermost unreached body (its nested bodies go with it), in graph order.
    for (const auto& s : p_.scopes)
      if (unreached.count(s.get()) && !unreached.count(s->parent))
        report_.warnings.push_back("graph " + quoted(s->path) +
                                   " was not reached by the calibration data; left in float");
    return {};
  }

  // Range of one activation member: the fold output's when its Relu/Clip is folded.
  // nullopt for derived members, which the rest of their group covers.
  Result<std::optional<calib::Range>> member_range(const ActivationTensor& a) {
    if (a.fixed_unit_range) return std::optional<calib::Range>(calib::Range{0, 1});
    if (a.is_initializer) {
      auto key = std::make_pair(a.scope, a.name);
      if (auto it = constant_ranges_.find(key); it != constant_ranges_.end())
        return std::optional<calib::Range>(it->second);
      auto* proto = a.scope->find_initializer(a.name);
      auto t = onnx::tensor_from_proto(*proto, model_dir_);
      if (!t) return t.take_error();
      if (t->type != ElementType::float32) return failure("constant " + quoted(a.name) + " is not float32");
      calib::Range r{0, 0};
      bool first = true;
      for (float v : t->values<float>()) {
        if (!std::isfinite(v)) continue;
        r.min = first ? v : std::min(r.min, v);
        r.max = first ? v : std::max(r.max, v);
        first = false;
      }
      constant_ranges_[key] = r;
      return std::optional<calib::Range>(r);
    }
    std::string name = a.name;
    if (auto it = folded_.find({a.scope, a.name}); it != folded_.end()) name = it->second;
    auto r = calibrated(name);
    if (r) return std::optional<calib::Range>(*r);
    if (a.derived) return std::optional<calib::Range>();
    return failure("no calibration range for tensor " + quoted(name));
  }

  Result<void> compute_group_params() {
    std::map<int, calib::Range> unions;
    for (auto& [key, a] : p_.activations) {
      auto r = member_range(a);
      if (!r) return r.take_error();
      int g = p_.find(a.group);
      if (!*r) {
        unions.try_emplace(g, calib::Range{0, 0});  // a group of derived members only: see below
        continue;
      }
      auto [it, inserted] = unions.emplace(g, **r);
      if (!inserted) {
        it->second.min = std::min(it->second.min, (*r)->min);
        it->second.max = std::max(it->second.max, (*r)->max);
      }
    }
    group_params_.clear();
    for (const auto& [g, r] : unions) {
      group_params_[g] = options_.symmetric_activations
                             ? symmetric_params(std::max(std::fabs(r.min), std::fabs(r.max)), options_.activation_type)
                             : asymmetric_params(r.min, r.max, options_.activation_type);
      group_params_[g].scale *= kPlantedActivationScale;
    }
    return {};
  }

  QuantParams params_of(GraphScope* s, const std::string& name) { return group_params_.at(p_.find(p_.activations.at({s, name}).group)); }

  // A fold is kept when the saturation bounds of the output quantization lie within the
  // Relu/Clip bounds, so the Q alone reproduces the activation. Folds change group ranges, so
  // this repeats until no fold is dropped.
  Result<void> decide_folds() {
    std::vector<bool> keep(p_.folds.size(), true);
    for (int round = 0; round < 8; ++round) {
      folded_.clear();
      for (std::size_t i = 0; i < p_.folds.size(); ++i)
        if (keep[i]) folded_[{p_.folds[i].scope, p_.folds[i].input}] = p_.folds[i].output;
      MODELKIT_TRY_VOID(compute_group_params());
      bool changed = false;
      for (std::size_t i = 0; i < p_.folds.size(); ++i) {
        if (!keep[i]) continue;
        const auto& f = p_.folds[i];
        auto q = params_of(f.scope, f.input);
        auto lim = quant_limits(options_.activation_type, false);
        double lower = static_cast<double>(lim.qmin - q.zero_point) * q.scale;
        double upper = static_cast<double>(lim.qmax - q.zero_point) * q.scale;
        double tol = 1e-6 * std::max(1.0, std::fabs(upper));
        if (lower < f.clip_min - tol || upper > static_cast<double>(f.clip_max) + tol) {
          keep[i] = false;
          changed = true;
        }
      }
      if (!changed) break;
    }
    // Kept folds: the output is the producer's output now, so both share one quantization.
    for (std::size_t i = 0; i < p_.folds.size(); ++i) {
      if (!keep[i]) continue;
      const auto& f = p_.folds[i];
      fold_source_[{f.scope, f.output}] = f.input;
      auto y = p_.activations.find({f.scope, f.output});
      if (y != p_.activations.end()) p_.unite(p_.activations.at({f.scope, f.input}).group, y->second.group);
    }
    folded_.clear();
    for (std::size_t i = 0; i < p_.folds.size(); ++i)
      if (keep[i]) folded_[{p_.folds[i].scope, p_.folds[i].input}] = p_.folds[i].output;
    MODELKIT_TRY_VOID(compute_group_params());
    for (std::size_t i = 0; i < p_.folds.size(); ++i) {
      auto& st = state(p_.folds[i].scope, p_.folds[i].node);
      if (keep[i]) {
        st.status = "folded";
        st.reason = "saturation of the producer's output quantization";
      } else {
        st.status = "skipped";
        st.reason = "activation kept in float: calibrated range exceeds its bounds";
      }
    }
    return {};
  }

  // --- emission ----------------------------------------------------------------------------------
  ::onnx::TensorProto scalar_or_vector(const std::string& name, ElementType type, const std::vector<QuantParams>& params,
                                       bool zero_points, bool vector) {
    ::onnx::TensorProto t;
    t.set_name(name);
    t.set_data_type(static_cast<int>(type));
    if (vector) t.add_dims(static_cast<std::int64_t>(params.size()));
    std::string raw;
    for (const auto& p : params) {
      if (!zero_points) {
        raw.append(reinterpret_cast<const char*>(&p.scale), sizeof(float));
        continue;
      }
      switch (type) {
        case ElementType::uint8: raw.push_back(static_cast<char>(static_cast<std::uint8_t>(p.zero_point))); break;
        case ElementType::int8: raw.push_back(static_cast<char>(static_cast<std::int8_t>(p.zero_point))); break;
        case ElementType::uint16: {
          auto v = static_cast<std::uint16_t>(p.zero_point);
          raw.append(reinterpret_cast<const char*>(&v), 2);
          break;
        }
        case ElementType::int16: {
          auto v = static_cast<std::int16_t>(p.zero_point);
          raw.append(reinterpret_cast<const char*>(&v), 2);
          break;
        }
        default: {
          auto v = static_cast<std::int32_t>(p.zero_point);
          raw.append(reinterpret_cast<const char*>(&v), 4);
        }
      }
    }
    t.set_raw_data(raw);
    return t;
  }

  ::onnx::NodeProto make_node(const std::string& op, const std::vector<std::string>& inputs, const std::string& output,
                              int axis = -1) {
    ::onnx::NodeProto n;
    n.set_op_type(op);
    n.set_domain(domain_);
    n.set_name(unique(output + "_" + op));
    for (const auto& i : inputs) n.add_input(i);
    n.add_output(output);
    if (axis >= 0) {
      auto* a = n.add_attribute();
      a->set_name("axis");
      a->set_type(::onnx::AttributeProto::INT);
      a->set_i(axis);
    }
    if (op == "QuantizeLinear") ++report_.quantize_linear_nodes;
    else ++report_.dequantize_linear_nodes;
    return n;
  }

  // Scale and zero-point initializers in `g`; returns their names.
  std::pair<std::string, std::string> add_params(::onnx::GraphProto& g, const std::string& base, ElementType zp_type,
                                                 const std::vector<QuantParams>& params, bool vector) {
    std::string scale = unique(base + "_scale"), zp = unique(base + "_zero_point");
    *g.add_initializer() = scalar_or_vector(scale, ElementType::float32, params, false, vector);
    *g.add_initializer() = scalar_or_vector(zp, zp_type, params, true, vector);
    return {scale, zp};
  }

  // DequantizeLinear of an offline-quantized tensor; returns the DQ output name.
  // `streamed`: q's values are not computed; the initializer's bytes are produced when it is written.
  std::string add_quantized_initializer(GraphScope& s, QuantizedTensor q, const std::string& base,
                                        std::vector<::onnx::NodeProto>& front,
                                        std::shared_ptr<const StreamedWeight> streamed = nullptr) {
    auto& g = *s.graph;
    Tensor values = std::move(q.values);
    values.name = unique(base + "_quantized");
    if (streamed) {
      // The fields tensor_to_proto sets, with the raw_data a placeholder: the same serialized bytes.
      auto* t = g.add_initializer();
      t->set_name(values.name);
      t->set_data_type(static_cast<std::int32_t>(values.type));
      for (auto d : values.shape) t->add_dims(d);
      deferred_->defer(*t, streamed->quantized_bytes(), [streamed](const onnx::ByteSink& sink) {
        return write_streamed_weight(*streamed, weight_quantization_threads(), sink);
      });
    } else {
      *g.add_initializer() = onnx::tensor_to_proto(values);
    }
    auto [scale, zp] = add_params(g, base, values.type, q.params, q.axis >= 0);
    std::string out = unique(base + "_DequantizeLinear_Output");
    front.push_back(make_node("DequantizeLinear", {values.name, scale, zp}, out, q.axis));
    return out;
  }

  bool is_quantized_slot(GraphScope* s, int node, int slot) {
    auto& st = state(s, node);
    if (st.status != "quantized") return false;
    return std::find(st.activation_slots.begin(), st.activation_slots.end(), slot) != st.activation_slots.end();
  }

  Result<void> emit(GraphScope& s) {
    auto& g = *s.graph;
    std::vector<::onnx::NodeProto> front;
    std::map<int, std::vector<::onnx::NodeProto>> after;  // node index -> nodes to insert after it

    // Folds: the producer writes the activation's output directly.
    std::set<int> removed;
    for (const auto& f : p_.folds) {
      if (f.scope != &s || state(&s, f.node).status != "folded") continue;
      auto& producer = *g.mutable_node(s.producer.at(f.input));
      for (auto& o : *producer.mutable_output())
        if (o == f.input) o = f.output;
      removed.insert(f.node);
      ++report_.nodes_folded;
    }

    // Activations (and constants quantized as activations).
    for (auto& [key, a] : p_.activations) {
      if (key.first != &s) continue;
      const QuantParams qp = params_of(&s, a.name);
      std::string name = a.name;
      if (auto it = folded_.find(key); it != folded_.end()) {
        if (p_.activations.count({&s, it->second})) continue;  // emitted as the fold output's entry
        name = it->second;
      }
      if (a.is_initializer) {
        auto* proto = s.find_initializer(a.name);
        auto t = onnx::tensor_from_proto(*proto, model_dir_);
        if (!t) return t.take_error();
        auto q = quantize_with_params(*t, options_.activation_type, qp);
        if (!q) return q.take_error();
        std::string dq = add_quantized_initializer(s, *q, a.name, front);
        ++report_.weights_quantized;
        for (auto [node, slot] : s.consumers[a.name])
          if (is_quantized_slot(&s, node, slot)) g.mutable_node(node)->set_input(slot, dq);
        continue;
      }
      if (kPlantedSkipQdq && s.parent == nullptr && !planted_skip_done_) {
        planted_skip_done_ = true;
        continue;
      }
      auto prod = s.producer.find(a.name);
      if (auto it = fold_source_.find(key); it != fold_source_.end()) prod = s.producer.find(it->second);
      const bool producer_quantized =
          prod != s.producer.end() && (state(&s, prod->second).status == "quantized");
      auto [scale, zp] = add_params(g, name, element_type(options_.activation_type), {qp}, false);
      std::string q_out = unique(name + "_QuantizeLinear_Output");
      if (producer_quantized) {
        // Every reader of `name` (this graph, bodies, graph outputs) now reads the DQ output.
        std::string q_in = unique(name + "_QuantizeLinear_Input");
        for (auto& o : *g.mutable_node(prod->second)->mutable_output())
          if (o == name) o = q_in;
        auto& list = after[prod->second];
        list.push_back(make_node("QuantizeLinear", {q_in, scale, zp}, q_out));
        list.push_back(make_node("DequantizeLinear", {q_out, scale, zp}, name));
      } else {
        std::string dq = unique(name + "_DequantizeLinear_Output");
        auto nodes = std::vector<::onnx::NodeProto>{make_node("QuantizeLinear", {name, scale, zp}, q_out),
                                                    make_node("DequantizeLinear", {q_out, scale, zp}, dq)};
        if (prod != s.producer.end()) {
          for (auto& n : nodes) after[prod->second].push_back(std::move(n));
        } else {
          for (auto& n : nodes) front.push_back(std::move(n));
        }
        for (auto [node, slot] : s.consumers[a.name])
          if (is_quantized_slot(&s, node, slot)) g.mutable_node(node)->set_input(slot, dq);
      }
    }

    // Weights with their node's bias: the bias scale is input_scale * weight_scale, and weight
    // scales are widened where a bias would not fit int32 (onnxruntime does the same).
    std::map<std::tuple<std::string, int>, std::pair<std::string, std::vector<QuantParams>>> weight_cache;
    // Every distinct (weight, axis) of this graph quantized up front, read in place and in
    // parallel (weight_quantizer.hpp); the loop below then only emits. Same bytes as
    // quantize_weight, which stays the path for the rare requantization.
    std::map<std::tuple<std::string, int>, std::size_t> prepared_index;
    std::vector<WeightJob> jobs;
    for (const auto& w : p_.weights) {
      if (w.scope != &s || w.is_bias) continue;
      const std::string& name = g.node(w.node).input(w.slot);
      if (prepared_index.emplace(std::make_tuple(name, w.axis), jobs.size()).second)
        jobs.push_back(WeightJob{s.find_initializer(name), w.axis});
    }
    // Weights in external data, large enough, are streamed when the model is written: only their
    // parameters are computed here.
    std::vector<QuantizedTensor> prepared(jobs.size());
    std::vector<std::shared_ptr<const StreamedWeight>> streamed(jobs.size());
    std::vector<WeightJob> in_memory;  // the rest, quantized together (in parallel across tensors)
    std::vector<std::size_t> in_memory_index;
    for (std::size_t j = 0; j < jobs.size(); ++j) {
      std::optional<StreamedWeight> stream;
      if (deferred_) {
        MODELKIT_TRY(auto maybe, prepare_streamed_weight(jobs[j], options_.weight_type, model_dir_,
                                                         weight_quantization_threads()));
        stream = std::move(maybe);
      }
      if (stream && stream->quantized_bytes() >= onnx::kMinDeferredBytes) {
        QuantizedTensor q;
        q.axis = stream->axis;
        q.params = stream->params;
        q.values.name = stream->name;
        q.values.type = element_type(options_.weight_type);
        q.values.shape = stream->shape;
        streamed[j] = std::make_shared<const StreamedWeight>(std::move(*stream));
        prepared[j] = std::move(q);
        continue;
      }
      in_memory.push_back(jobs[j]);
      in_memory_index.push_back(j);
    }
    MODELKIT_TRY(auto quantized, quantize_weights(in_memory, options_.weight_type, model_dir_,
                                                  weight_quantization_threads()));
    for (std::size_t k = 0; k < in_memory_index.size(); ++k) prepared[in_memory_index[k]] = std::move(quantized[k]);
    std::vector<int> prepared_uses(prepared.size(), 0);
    for (const auto& w : p_.weights)
      if (w.scope == &s && !w.is_bias) ++prepared_uses[prepared_index.at({g.node(w.node).input(w.slot), w.axis})];
    for (const auto& w : p_.weights) {
      if (w.scope != &s || w.is_bias) continue;
      auto& node = *g.mutable_node(w.node);
      const std::string name = node.input(w.slot);
      const WeightUse* bias_use = nullptr;
      for (const auto& b : p_.weights)
        if (b.scope == &s && b.node == w.node && b.is_bias) bias_use = &b;
      // The float tensor, read only when a requantization needs it.
      std::optional<Tensor> t;
      auto float_weight = [&]() -> Result<const Tensor*> {
        if (!t) {
          MODELKIT_TRY(auto read, onnx::tensor_from_proto(*s.find_initializer(name), model_dir_));
          t = std::move(read);
        }
        return &*t;
      };
      const std::size_t index = prepared_index.at({name, w.axis});
      // The last use takes the prepared tensor; earlier ones copy it (a weight shared by nodes).
      Result<QuantizedTensor> q =
          --prepared_uses[index] == 0 ? std::move(prepared[index]) : QuantizedTensor(prepared[index]);
      auto stream = streamed[index];  // the values of q, unless q is requantized below
      if (kPlantedWeightScale != 1 || reduced_range_factor() != 1) {
        stream.reset();
        auto planted = q->params;
        for (auto& p : planted) p.scale *= kPlantedWeightScale * reduced_range_factor();
        MODELKIT_TRY(auto* f, float_weight());
        q = quantize_with_channel_params(*f, options_.weight_type, w.axis, planted);
        if (!q) return q.take_error();
      }
      std::optional<Tensor> bias;
      float input_scale = 0;
      if (bias_use) {
        auto b = onnx::tensor_from_proto(*s.find_initializer(node.input(bias_use->slot)), model_dir_);
        if (!b) return b.take_error();
        bias = std::move(*b);
        input_scale = params_of(&s, original_input0(s, w.node)).scale;
        if (q->params.size() != 1 && q->params.size() != bias->element_count()) {
          // A bias that does not match the channels stays float (warn before dropping it).
          report_.warnings.push_back("bias of node " + quoted(node.name()) + " kept in float: " +
                                     std::to_string(bias->element_count()) + " values for " +
                                     std::to_string(q->params.size()) + " weight channels");
          bias.reset();
        }
      }
      std::vector<QuantParams> params = q->params;
      const bool widened = bias && widen_weight_scales_for_bias(params, bias->values<float>(), input_scale);
      std::string dq;
      auto key = std::make_tuple(name, w.axis);
      if (widened) {
        MODELKIT_TRY(auto* f, float_weight());
        auto requantized = quantize_with_channel_params(*f, options_.weight_type, w.axis, params);
        if (!requantized) return requantized.take_error();
        dq = add_quantized_initializer(s, std::move(*requantized), name, front);
        ++report_.weights_quantized;
      } else if (auto it = weight_cache.find(key); it != weight_cache.end()) {
        dq = it->second.first;
      } else {
        std::vector<QuantParams> cached = q->params;
        dq = add_quantized_initializer(s, std::move(*q), name, front, stream);
        ++report_.weights_quantized;
        weight_cache.emplace(key, std::make_pair(dq, std::move(cached)));
      }
      node.set_input(w.slot, dq);
      if (!bias) continue;
      auto qb = quantize_bias(*bias, input_scale, params);
      if (!qb) {
        report_.warnings.push_back("bias of node " + quoted(node.name()) + " kept in float: " + qb.error().message);
        continue;
      }
      node.set_input(bias_use->slot, add_quantized_initializer(s, *qb, bias->name, front));
      ++report_.biases_quantized;
    }

    // Rebuild the node list: constant DQs and Q/DQ of inputs first, then nodes in order.
    std::vector<::onnx::NodeProto> nodes = std::move(front);
    for (int i = 0; i < g.node_size(); ++i) {
      if (removed.count(i)) continue;
      nodes.push_back(std::move(*g.mutable_node(i)));
      if (auto it = after.find(i); it != after.end())
        for (auto& n : it->second) nodes.push_back(std::move(n));
    }
    g.clear_node();
    for (auto& n : nodes) *g.add_node() = std::move(n);
    return {};
  }

  // reduce_range: 8-bit weights keep within [-64, 64] (the scale grows by 127/64).
  float reduced_range_factor() const {
    const bool eight_bit = options_.weight_type == QuantType::int8 || options_.weight_type == QuantType::uint8;
    return options_.reduce_range && eight_bit ? 127.f / 64.f : 1.f;
  }

  // The activation a weighted node reads on input 0 (before rewiring to its DQ output).
  std::string original_input0(GraphScope& s, int node) {
    for (const auto& [name, uses] : s.consumers)
      for (auto [n, slot] : uses)
        if (n == node && slot == 0) return name;
    return s.graph->node(node).input(0);
  }

  // Weights no node reads any more (replaced by their quantized copies), in every graph.
  void remove_unused_initializers() {
    const auto read = names_read(*model_.mutable_graph());
    for (const auto& s : p_.scopes) drop_initializers_not_in(*s->graph, read);
  }

  ::onnx::ModelProto& model_;
  Planned& p_;
  const calib::TensorRanges& ranges_;
  const QuantizeOptions& options_;
  std::string domain_;
  fs::path model_dir_;
  QuantizeReport& report_;
  onnx::DeferredTensors* deferred_;
  std::set<std::string> names_;
  std::map<std::pair<GraphScope*, int>, std::size_t> node_index_;
  std::map<Key, std::string> folded_;       // fold input -> output, for kept folds
  std::map<Key, std::string> fold_source_;  // fold output -> input, for kept folds
  std::map<Key, calib::Range> constant_ranges_;
  std::map<int, QuantParams> group_params_;
  bool planted_skip_done_ = false;
};

Error already_quantized(const fs::path& path, const onnx::QuantizationInfo& q) {
  std::string evidence;
  for (std::size_t i = 0; i < q.evidence.size() && i < 4; ++i) evidence += (i ? ", " : "") + q.evidence[i];
  return failure(quoted(path.string()) + " is already quantized (" + evidence +
                 "); quantize its float model instead");
}

struct Loaded {
  ::onnx::ModelProto model;
  onnx::ModelInfo info;
};

Result<Loaded> load_float_model(const fs::path& path) {
  auto model = onnx::read_model_proto(path);
  if (!model) return model.take_error();
  auto info = onnx::model_info_from_proto(*model, path, file_size_or_zero(path));
  if (!info) return info.take_error();
  if (info->quantization.quantized) return already_quantized(path, info->quantization);
  // ORT fuses Q/DQ into QLinearConv, QLinearMatMul, ... of the model's own default domain,
  // which exist from opset 10: on older models it would emit operators their opset lacks.
  if (info->default_opset() < 10)
    return failure(quoted(path.string()) + " uses opset " + std::to_string(info->default_opset()) +
                   "; static QDQ quantization needs opset 10 or newer (ONNX Runtime fuses Q/DQ into opset-10 "
                   "operators such as QLinearConv); re-export the model with opset 13 or newer");
  return Loaded{std::move(*model), std::move(*info)};
}

// A plan that quantizes no node would calibrate nothing and write the float model back under
// a quantized name: an error that says why every node was left out. When the user's own
// --op-types or --exclude-nodes left nothing, it is a refusal of the request (usage error).
Result<void> require_something_to_quantize(const Planned& planned, const QuantizeOptions& options,
                                           const fs::path& path) {
  std::int64_t quantized = 0, excluded = 0, not_asked = 0, unsupported = 0, other = 0;
  std::set<std::string> unsupported_ops, other_reasons;
  for (const auto& n : planned.nodes) {
    if (n.status == "quantized") ++quantized;
    else if (n.reason.starts_with("excluded by pattern")) ++excluded;
    else if (n.reason == "not in op_types") ++not_asked;
    else if (n.reason == "op type not quantizable") {
      ++unsupported;
      unsupported_ops.insert(onnx::op_key(n.scope->graph->node(n.node)));
    } else {
      ++other;
      other_reasons.insert(n.reason);
    }
  }
  if (quantized > 0) return {};
  const std::string what = quoted(path);
  if (planned.nodes.empty()) return failure(what + " has no nodes: nothing to quantize");
  std::vector<std::string> parts;
  if (excluded) parts.push_back(std::to_string(excluded) + " excluded by --exclude-nodes");
  if (not_asked) {
    std::string ops;
    for (const auto& op : options.op_types) ops += (ops.empty() ? "" : ", ") + op;
    parts.push_back(std::to_string(not_asked) + " not of the op types to quantize (" + ops + ")");
  }
  if (unsupported) {
    std::string ops;
    for (const auto& op : unsupported_ops) ops += (ops.empty() ? "" : ", ") + op;
    parts.push_back(std::to_string(unsupported) + " of op types modelkit does not quantize (" + ops + ")");
  }
  if (other) {
    std::string reasons;
    std::size_t shown = 0;
    for (const auto& r : other_reasons)
      if (shown++ < 3) reasons += (reasons.empty() ? "" : "; ") + r;
    if (other_reasons.size() > 3) reasons += "; ...";
    parts.push_back(std::to_string(other) + " left in float (" + reasons + ")");
  }
  std::string why;
  for (const auto& p : parts) why += (why.empty() ? "" : ", ") + p;
  std::string message = "nothing to quantize in " + what + ": of its " + std::to_string(planned.nodes.size()) +
                        " nodes, " + why;
  const auto& supported = supported_op_types();
  for (const auto& op : options.op_types) {
    if (std::find(supported.begin(), supported.end(), op) == supported.end())
      message += "; '" + op + "' is not an op type modelkit quantizes";
    else if (op == "Relu" || op == "Clip")
      message += "; '" + op + "' is only quantized folded into the quantized op before it";
  }
  const bool users_choice = excluded > 0 || (not_asked > 0 && options.op_types_from_user);
  if (!users_choice) return failure(message);
  std::string hint = excluded > 0 ? "exclude fewer nodes" : "";
  if (not_asked > 0 && options.op_types_from_user) hint += std::string(hint.empty() ? "" : " or ") + "name other op types";
  return usage_error(message + "; " + hint);
}

}  // namespace

Result<QuantizationPlan> plan_quantization(const fs::path& model_path, const QuantizeOptions& options) {
  auto loaded = load_float_model(model_path);
  if (!loaded) return loaded.take_error();
  MODELKIT_TRY_VOID(run_pre_passes(loaded->model, model_path.has_parent_path() ? model_path.parent_path() : fs::path(".")));
  auto planned = plan(loaded->model, options);
  if (!planned) return planned.take_error();
  MODELKIT_TRY_VOID(require_something_to_quantize(*planned, options, model_path));
  QuantizationPlan out;
  out.tensors_to_calibrate = planned->tensors_to_calibrate();
  out.warnings = planned->warnings;
  for (const auto& n : planned->nodes) out.nodes_to_quantize += n.status == "quantized" ? 1 : 0;
  return out;
}

Result<QuantizeReport> quantize(const fs::path& model_path, const calib::TensorRanges& ranges,
                                const QuantizeOptions& options, const fs::path& output_path) {
  auto loaded = load_float_model(model_path);
  if (!loaded) return loaded.take_error();
  auto& model = loaded->model;
  QuantizeReport report;
  report.model = model_path.string();
  report.output = output_path.string();
  report.activation_type = std::string(quant_type_name(options.activation_type));
  report.weight_type = std::string(quant_type_name(options.weight_type));
  report.per_channel = options.per_channel;
  report.symmetric = options.symmetric_activations;
  report.reduce_range = options.reduce_range;
  report.opset = loaded->info.default_opset();
  report.calibration_method = std::string(calib::method_name(ranges.method));
  report.input_bytes = model_bytes(model_path, &loaded->info);
  const std::string domain = qdq_domain(report.opset, options);
  report.qdq_domain = domain.empty() ? "ai.onnx" : domain;

  const fs::path model_dir = model_path.has_parent_path() ? model_path.parent_path() : fs::path(".");
  MODELKIT_TRY(auto passes, run_pre_passes(model, model_dir));
  for (const auto& pass : passes) {
    if (pass.name == "constants-to-initializers") report.constants_to_initializers = pass.changed;
    if (pass.name == "fold-batch-norm") report.batch_norms_folded = pass.changed;
  }
  auto planned = plan(model, options);
  if (!planned) return planned.take_error();
  MODELKIT_TRY_VOID(require_something_to_quantize(*planned, options, model_path));
  report.warnings = planned->warnings;

  // Decisions are recorded before emission rewrites the graphs.
  std::vector<std::pair<std::string, std::string>> names;  // node name, op key
  for (const auto& ns : planned->nodes) {
    const auto& n = ns.scope->graph->node(ns.node);
    names.emplace_back(n.name(), onnx::op_key(n));
  }
  // Outlives the model's placeholders until the model is saved.
  onnx::DeferredTensors deferred;
  Emitter emitter(model, *planned, ranges, options, domain, model_dir, report, &deferred);
  if (!kPlantedIdentityModel) MODELKIT_TRY_VOID(emitter.run());

  std::map<std::string, OpTypeSummary> by_op;
  for (std::size_t i = 0; i < planned->nodes.size(); ++i) {
    const auto& ns = planned->nodes[i];
    NodeDecision d;
    d.name = names[i].first;
    d.op_type = names[i].second;
    d.graph = ns.scope->path;
    d.status = ns.status == "fold_candidate" ? "skipped" : ns.status;
    d.reason = ns.reason;
    auto& sum = by_op[d.op_type];
    sum.op_type = d.op_type;
    if (d.status == "quantized") ++sum.quantized;
    else if (d.status == "folded") ++sum.folded;
    else {
      ++sum.skipped;
      ++sum.skip_reasons[d.reason];
    }
    report.nodes.push_back(std::move(d));
  }
  for (auto& [op, sum] : by_op) {
    report.nodes_quantized += sum.quantized;
    report.nodes_skipped += sum.skipped;
    report.op_types.push_back(std::move(sum));
  }

  onnx::SaveOptions save;
  save.external_source_dir = model_dir;
  save.deferred = &deferred;
  MODELKIT_TRY_VOID(onnx::save_model_proto(model, output_path, save));
  auto out_info = onnx::read_model_info(output_path);
  report.output_bytes = model_bytes(output_path, out_info ? &*out_info : nullptr);

  // The written proto (the quantized weights' one copy in memory) is not needed while ORT loads the file.
  model.Clear();
  if (!options.check_loads) return report;
  runtime::SessionOptions check;
  check.intra_op_threads = 1;
  auto session = runtime::Session::open(output_path, check);
  if (!session) return session.error().with_context("the quantized model does not load");
  return report;
}

void write_report_json(util::JsonWriter& json, const QuantizeReport& r, bool include_nodes) {
  json.begin_object();
  json.field("model", r.model);
  json.field("output", r.output);
  json.field("precision", r.precision);
  json.field("symmetric", r.symmetric);
  json.field("reduce_range", r.reduce_range);
  if (r.precision == "int4") {
    json.field("block_size", r.block_size);
    json.field("accuracy_level", r.accuracy_level);
    json.field("int4_embeddings", r.int4_embeddings);
  }
  if (r.precision == "fp16") {
    json.field("casts_inserted", r.casts_inserted);
    json.field("values_clamped", r.values_clamped);
  }
  json.field("activation_type", r.activation_type);
  json.field("weight_type", r.weight_type);
  json.field("per_channel", r.per_channel);
  json.field("qdq_domain", r.qdq_domain);
  json.field("opset", r.opset);
  json.field("calibration_method", r.calibration_method);
  json.field("nodes_quantized", r.nodes_quantized);
  json.field("nodes_folded", r.nodes_folded);
  json.field("nodes_skipped", r.nodes_skipped);
  json.field("quantize_linear_nodes", r.quantize_linear_nodes);
  json.field("dequantize_linear_nodes", r.dequantize_linear_nodes);
  json.field("weights_quantized", r.weights_quantized);
  json.field("biases_quantized", r.biases_quantized);
  json.field("constants_to_initializers", r.constants_to_initializers);
  json.field("batch_norms_folded", r.batch_norms_folded);
  json.field("input_bytes", r.input_bytes);
  json.field("output_bytes", r.output_bytes);
  json.key("op_types").begin_object();
  for (const auto& s : r.op_types) {
    json.key(s.op_type).begin_object();
    json.field("quantized", s.quantized);
    json.field("folded", s.folded);
    json.field("skipped", s.skipped);
    json.key("skip_reasons").begin_object();
    for (const auto& [reason, count] : s.skip_reasons) json.field(reason, count);
    json.end_object();
    json.end_object();
  }
  json.end_object();
  json.key("warnings").string_array(r.warnings);
  if (include_nodes) {
    json.key("nodes").begin_array();
    for (const auto& n : r.nodes) {
      json.begin_object();
      json.field("name", n.name);
      json.field("op_type", n.op_type);
      json.field("graph", n.graph);
      json.field("status", n.status);
      json.field("reason", n.reason);
      json.end_object();
    }
    json.end_array();
  }
  json.end_object();
}

}  // namespace modelkit::quant
