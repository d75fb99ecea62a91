// collect_ranges: the float model, with the tensors to calibrate exposed as graph outputs, run in
// ONNX Runtime one sample at a time; each sample's activations feed fixed-size statistics and
// are dropped before the next sample.
//
// Values inside If branches are exposed by adding them as outputs of their branch (the other
// branch outputs an empty float tensor in their place) and of the If node, level by level up to
// the main graph. An empty tensor adds nothing to a statistic, so a branch that never runs
// leaves its tensors without a range.
#include <modelkit/calib_stats.hpp>
#include <modelkit/runtime.hpp>

#include "onnx/model_proto.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <set>

namespace modelkit::calib {
namespace fs = std::filesystem;
namespace {

// Where a value is defined: a graph and, for subgraphs, the node (in the parent graph) and
// attribute holding that graph.
struct Scope {
  ::onnx::GraphProto* graph = nullptr;
  Scope* parent = nullptr;
  ::onnx::NodeProto* owner = nullptr;  // node in parent->graph that holds `graph`
  std::string attribute;               // "then_branch", "else_branch", "body"
};

bool defines(const ::onnx::GraphProto& g, const std::string& name) {
  for (const auto& v : g.input())
    if (v.name() == name) return true;
  for (const auto& t : g.initializer())
    if (t.name() == name) return true;
  for (const auto& n : g.node())
    for (const auto& o : n.output())
      if (o == name) return true;
  return false;
}

void collect_scopes(Scope* scope, std::vector<std::unique_ptr<Scope>>& out) {
  for (auto& node : *scope->graph->mutable_node())
    for (auto& attr : *node.mutable_attribute()) {
      if (!attr.has_g()) continue;
      auto child = std::make_unique<Scope>();
      child->graph = attr.mutable_g();
      child->parent = scope;
      child->owner = &node;
      child->attribute = attr.name();
      Scope* raw = child.get();
      out.push_back(std::move(child));
      collect_scopes(raw, out);
    }
}

::onnx::GraphProto* sibling_branch(::onnx::NodeProto& if_node, const std::string& attribute) {
  const std::string other = attribute == "then_branch" ? "else_branch" : "then_branch";
  for (auto& attr : *if_node.mutable_attribute())
    if (attr.name() == other && attr.has_g()) return attr.mutable_g();
  return nullptr;
}

// Adds a graph output `name` (no declared shape; float32 when `typed`).
void add_output(::onnx::GraphProto& g, const std::string& name, bool float_typed) {
  auto* out = g.add_output();
  out->set_name(name);
  if (float_typed) out->mutable_type()->mutable_tensor_type()->set_elem_type(::onnx::TensorProto::FLOAT);
}

// What a graph output carries for a calibrated tensor.
enum class Carries { values, extremes };
struct Routed {
  std::string tensor;
  Carries carries = Carries::values;
  // For the one output concatenating the main graph's pairs: the tensor of each pair, in order.
  std::vector<std::string> pair_tensors;
};

// Makes the model output the listed values (or, with `reduce`, their {min, max} pairs, computed
// in the graph by the calibration op right after each tensor is produced, which spares copying
// whole activations out); returns graph output name -> what it carries.
Result<std::map<std::string, Routed>> expose(::onnx::ModelProto& model, std::span<const std::string> names,
                                             const std::set<std::string>& graph_inputs, bool reduce,
                                             std::string_view what) {
  auto root = std::make_unique<Scope>();
  root->graph = model.mutable_graph();
  std::vector<std::unique_ptr<Scope>> scopes;
  collect_scopes(root.get(), scopes);

  std::set<std::string> outputs;
  for (const auto& o : model.graph().output()) outputs.insert(o.name());
  std::map<std::string, Routed> routed;
  std::vector<std::pair<std::string, std::string>> main_pairs;  // (pair, tensor) in the main graph
  int counter = 0;

  // Routes `value`, defined in `scope`, out to a main-graph output; returns its name.
  auto route = [&](std::string value, Scope* scope) -> Result<std::string> {
    const std::string origin = value;
    while (scope->parent) {
      if (scope->owner->op_type() != "If")
        return failure("tensor " + quoted(origin) + " lives inside a " + scope->owner->op_type() +
                       " body; only values in If branches can be calibrated");
      std::string routed_name = origin + "__modelkit_calib_" + std::to_string(counter++);
      // A value the branch already outputs is copied: a graph may not list an output twice.
      bool listed = false;
      for (const auto& o : scope->graph->output()) listed = listed || o.name() == value;
      if (listed) {
        auto* copy = scope->graph->add_node();
        copy->set_op_type("Identity");
        copy->set_name(routed_name + "_copy");
        copy->add_input(value);
        copy->add_output(routed_name + "_copy");
        value = routed_name + "_copy";
      }
      add_output(*scope->graph, value, true);
      auto* other = sibling_branch(*scope->owner, scope->attribute);
      if (!other) return failure("If node " + quoted(scope->owner->name()) + " lacks its other branch");
      // The other branch answers with an empty float tensor.
      std::string empty_name = routed_name + "_empty";
      auto* constant = other->add_node();
      constant->set_op_type("Constant");
      constant->set_name(empty_name);
      constant->add_output(empty_name);
      auto* attr = constant->add_attribute();
      attr->set_name("value");
      attr->set_type(::onnx::AttributeProto::TENSOR);
      attr->mutable_t()->set_data_type(::onnx::TensorProto::FLOAT);
      attr->mutable_t()->add_dims(0);
      add_output(*other, empty_name, true);
      scope->owner->add_output(routed_name);
      value = routed_name;
      scope = scope->parent;
    }
    if (outputs.insert(value).second) add_output(*model.mutable_graph(), value, false);
    return value;
  };

  for (const auto& name : names) {
    if (graph_inputs.count(name)) continue;  // read from the sample itself
    Scope* scope = nullptr;
    if (defines(model.graph(), name)) {
      scope = root.get();
    } else {
      for (auto& s : scopes)
        if (defines(*s->graph, name)) {
          scope = s.get();
          break;
        }
    }
    if (!scope) return failure(std::string(what) + " has no tensor named " + quoted(name));
    if (!reduce) {
      auto out = route(name, scope);
      if (!out) return out.take_error();
      routed[*out] = Routed{name, Carries::values, {}};
      continue;
    }
    // One FiniteMinMax node: {min, max} of the finite values in a single pass.
    std::string reduced = name + "__modelkit_extremes_" + std::to_string(counter++);
    auto* node = scope->graph->add_node();
    node->set_op_type(runtime::kCalibrationExtremesOp);
    node->set_domain(runtime::kCalibrationDomain);
    node->set_name(reduced);
    node->add_input(name);
    node->add_output(reduced);
    if (scope == root.get()) {
      main_pairs.emplace_back(reduced, name);
      continue;
    }
    auto out = route(reduced, scope);
    if (!out) return out.take_error();
    routed[*out] = Routed{name, Carries::extremes, {}};
  }
  if (!main_pairs.empty()) {
    // The main graph's pairs leave as one output: one fetch instead of hundreds, and the pairs
    // themselves stay ordinary values ONNX Runtime plans in its arena.
    std::string all = "__modelkit_extremes_all_" + std::to_string(counter++);
    auto* concat = model.mutable_graph()->add_node();
    concat->set_op_type("Concat");
    concat->set_name(all);
    auto* axis = concat->add_attribute();
    axis->set_name("axis");
    axis->set_type(::onnx::AttributeProto::INT);
    axis->set_i(0);
    Routed r{"", Carries::extremes, {}};
    for (const auto& [pair, tensor] : main_pairs) {
      concat->add_input(pair);
      r.pair_tensors.push_back(tensor);
    }
    concat->add_output(all);
    add_output(*model.mutable_graph(), all, true);
    routed[all] = std::move(r);
  }
  return routed;
}

// minmax only: a tensor whose per-sample extremes follow from another calibrated tensor's need no
// calibration op of its own. Value-preserving ops (Identity, Reshape, Transpose, Squeeze,
// Unsqueeze, Flatten) keep the extremes; Relu and Clip are monotone, so the extremes of the output
// are those of the input passed through the op (exact in floating point: max/min only pick values).
// Fewer reductions, and the output stays free for ONNX Runtime to fuse with its producer.
struct Derivation {
  std::string source;
  bool clamps = false;  // Relu/Clip: extremes clamped to [low, high]; otherwise copied
  float low = 0, high = 0;
};

// A scalar float32 initializer of `g` (a Clip bound), if `name` is one.
std::optional<float> scalar_float_initializer(const ::onnx::GraphProto& g, const std::string& name) {
  for (const auto& t : g.initializer()) {
    if (t.name() != name) continue;
    if (t.data_type() != ::onnx::TensorProto::FLOAT || t.data_location() == ::onnx::TensorProto::EXTERNAL)
      return std::nullopt;
    std::int64_t count = 1;
    for (auto d : t.dims()) count *= d;
    if (count != 1) return std::nullopt;
    if (t.float_data_size() == 1) return t.float_data(0);
    if (t.raw_data().size() != sizeof(float)) return std::nullopt;
    float v;
    std::memcpy(&v, t.raw_data().data(), sizeof v);
    return v;
  }
  return std::nullopt;
}

void find_derivations(const ::onnx::GraphProto& g, const std::set<std::string>& wanted,
                      const std::set<std::string>& graph_inputs, std::map<std::string, Derivation>& out) {
  static const std::set<std::string> kValuePreserving = {"Identity", "Reshape", "Transpose", "Squeeze", "Unsqueeze",
                                                         "Flatten"};
  for (const auto& n : g.node()) {
    for (const auto& a : n.attribute())
      if (a.has_g()) find_derivations(a.g(), wanted, graph_inputs, out);
    if (!(n.domain().empty() || n.domain() == "ai.onnx") || n.input_size() < 1 || n.output_size() != 1) continue;
    const std::string& x = n.input(0);
    const std::string& y = n.output(0);
    if (!wanted.count(y) || !wanted.count(x) || graph_inputs.count(x) || x == y) continue;
    Derivation d;
    d.source = x;
    if (kValuePreserving.count(n.op_type())) {
      out[y] = d;
    } else if (n.op_type() == "Relu") {
      d.clamps = true;
      d.high = std::numeric_limits<float>::infinity();
      out[y] = d;
    } else if (n.op_type() == "Clip" && n.input_size() >= 1) {
      // Opset 11+: optional float32 bound inputs (the bounds share X's type, so X is float32).
      // The attribute form (opset 6) is left to its own reductions.
      bool attribute_form = false;
      for (const auto& a : n.attribute()) attribute_form = attribute_form || a.name() == "min" || a.name() == "max";
      if (attribute_form) continue;
      d.clamps = true;
      d.low = -std::numeric_limits<float>::infinity();
      d.high = std::numeric_limits<float>::infinity();
      bool ok = true;
      for (int slot : {1, 2}) {
        if (n.input_size() <= slot || n.input(slot).empty()) continue;
        auto v = scalar_float_initializer(g, n.input(slot));
        if (!v || std::isnan(*v)) ok = false;
        else (slot == 1 ? d.low : d.high) = *v;
      }
      if (ok) out[y] = d;
    }
  }
}

// The source's per-sample {min, max} pair passed through a derivation: the pair the derived
// tensor's own calibration op would have produced. Empty (nothing observed) when the source had
// no finite value or did not run (an If branch).
Tensor derive_pair(const Tensor* source, const Derivation& d, const std::string& name) {
  Tensor both{name, ElementType::float32, {0}, {}};
  if (!source || source->type != ElementType::float32 || source->bytes.size() != 2 * sizeof(float)) return both;
  float pair[2];
  std::memcpy(pair, source->bytes.data(), sizeof pair);
  if (!(pair[0] <= pair[1])) return both;
  if (d.clamps)
    for (float& v : pair) {
      // min(max(v, low), high), as ONNX Runtime's Relu and Clip compute each element.
      v = v < d.low ? d.low : v;
      v = v > d.high ? d.high : v;
    }
  both.shape = {2};
  both.bytes.resize(sizeof pair);
  std::memcpy(both.bytes.data(), pair, sizeof pair);
  return both;
}

// Whether every input of the session leads with a free dimension named like a batch: only then
// may samples be stacked along it without changing what the model computes for each.
bool leads_with_batch(const runtime::Session& session) {
  if (session.inputs().empty()) return false;
  for (const auto& spec : session.inputs()) {
    if (!spec.is_tensor || spec.shape.empty() || spec.shape[0] != -1 || spec.symbols.empty()) return false;
    std::string symbol = spec.symbols[0];
    std::transform(symbol.begin(), symbol.end(), symbol.begin(), [](unsigned char c) { return std::tolower(c); });
    if (symbol.find("batch") == std::string::npos) return false;
  }
  return true;
}

bool same_layout(const Sample& a, const Sample& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].name != b[i].name || a[i].type != b[i].type || a[i].shape != b[i].shape || a[i].shape.empty())
      return false;
  return true;
}

std::size_t sample_bytes(const Sample& s) {
  std::size_t n = 0;
  for (const auto& t : s) n += t.bytes.size();
  return n;
}

// The samples stacked along their first dimension (all have the same layout).
Sample stack(std::vector<Sample>& samples) {
  if (samples.size() == 1) return std::move(samples.front());
  Sample out;
  for (std::size_t i = 0; i < samples.front().size(); ++i) {
    Tensor t = std::move(samples.front()[i]);
    t.shape[0] *= static_cast<std::int64_t>(samples.size());
    t.bytes.reserve(t.bytes.size() * samples.size());
    for (std::size_t k = 1; k < samples.size(); ++k)
      t.bytes.insert(t.bytes.end(), samples[k][i].bytes.begin(), samples[k][i].bytes.end());
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

Result<TensorRanges> collect_ranges(const fs::path& model_path, std::span<const std::string> tensor_names,
                                    SampleSource& source, const CollectOptions& options) {
  MODELKIT_TRY_VOID(options.validate());
  const std::string what = quoted(model_path.string());
  auto model = onnx::read_model_proto(model_path);
  if (!model) return model.take_error();

  std::set<std::string> graph_inputs;
  {
    std::set<std::string> initializers;
    for (const auto& t : model->graph().initializer()) initializers.insert(t.name());
    for (const auto& v : model->graph().input())
      if (!initializers.count(v.name())) graph_inputs.insert(v.name());
  }
  std::vector<std::string> unique_names;
  {
    std::set<std::string> seen;
    for (const auto& n : tensor_names)
      if (seen.insert(n).second) unique_names.push_back(n);
  }
  // No tensor asked for would run the model for outputs nobody reads (and ONNX Runtime answers an
  // empty output list with every graph output): the caller planned nothing to quantize.
  if (unique_names.empty()) return failure("no tensor of " + what + " to calibrate");
  // minmax needs only each tensor's extremes: reduce in the graph. The histograms need values.
  const bool reduce = options.method == CalibrationMethod::minmax;
  std::vector<std::string> model_outputs;  // the model's own outputs, before calibration adds any
  for (const auto& o : model->graph().output()) model_outputs.push_back(o.name());
  std::map<std::string, Derivation> derived;
  std::vector<std::string> reduced_names = unique_names;
  if (reduce) {
    find_derivations(model->graph(), std::set<std::string>(unique_names.begin(), unique_names.end()), graph_inputs,
                     derived);
    // Chains (Relu of a Reshape of X) lead back to a tensor that is reduced itself; a clamp of a
    // clamp keeps its own reductions.
    std::map<std::string, Derivation> resolved;
    for (const auto& [name, first] : derived) {
      Derivation d = first;
      bool ok = true;
      for (int hops = 0; ok; ++hops) {
        auto up = derived.find(d.source);
        if (up == derived.end()) break;
        if (hops > 64 || (up->second.clamps && d.clamps)) ok = false;
        else if (up->second.clamps) d = Derivation{up->second.source, true, up->second.low, up->second.high};
        else d.source = up->second.source;
      }
      if (ok) resolved.emplace(name, d);
    }
    derived = std::move(resolved);
    std::erase_if(reduced_names, [&](const std::string& n) { return derived.count(n) > 0; });
  }
  auto routed = expose(*model, reduced_names, graph_inputs, reduce, what);
  if (!routed) return routed.take_error();
  const bool imported = std::any_of(model->opset_import().begin(), model->opset_import().end(),
                                    [](const auto& o) { return o.domain() == runtime::kCalibrationDomain; });
  if (reduce && !imported) {
    auto* import = model->add_opset_import();
    import->set_domain(runtime::kCalibrationDomain);
    import->set_version(1);
  }

  std::uint64_t weight_bytes = 0;  // initializers of the main graph, inline or external
  for (const auto& t : model->graph().initializer()) {
    weight_bytes += t.raw_data().size();
    // A malformed reference is ONNX Runtime's to report when it loads the model.
    if (auto ref = onnx::external_ref(t); ref.ok() && *ref && (*ref)->length) weight_bytes += *(*ref)->length;
  }
  std::string bytes;
  if (!model->SerializeToString(&bytes)) return failure("cannot serialize " + what + " with calibration outputs");
  runtime::SessionOptions session_options;
  session_options.intra_op_threads = options.intra_op_threads;
  session_options.calibration_ops = reduce;
  // Big weights: a few batched runs do not repay ONNX Runtime's prepacked copy of every weight
  // (measured on 2.25 GiB of MatMuls: 2 s of the 3.5 s stage, and 0.25 GiB of peak memory).
  session_options.prepack_weights = weight_bytes < kCalibrationBatchWeightBytes;
  session_options.external_data_dir = model_path.has_parent_path() ? model_path.parent_path() : fs::path(".");
  auto session = runtime::Session::from_bytes(bytes, session_options, what + " (with calibration outputs)");
  if (!session) return session.take_error();
  bytes.clear();
  bytes.shrink_to_fit();
  model->Clear();

  std::vector<std::string> output_names;
  for (const auto& [output, value] : *routed) output_names.push_back(output);
  std::set<std::string> requested_inputs;
  for (const auto& n : unique_names)
    if (graph_inputs.count(n)) requested_inputs.insert(n);

  StatisticsSet stats(unique_names, options);
  MODELKIT_TRY_VOID(source.rewind());
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t done = 0;
  std::map<std::string, Tensor> extremes;  // tensor -> its {min, max} pair of this run
  // Batching changes nothing for min/max over all samples; a moving average is per sample.
  const bool big_weights = weight_bytes >= kCalibrationBatchWeightBytes;
  const std::size_t max_batch = options.max_batch == 0 ? (big_weights ? kAutomaticCalibrationBatch : 1) : options.max_batch;
  const std::size_t max_sample_bytes = options.max_batch == 0 ? kCalibrationBatchSampleBytes : kCalibrationBatchInputBytes;
  const bool batching = reduce && !options.moving_average && max_batch > 1 && leads_with_batch(*session);
  std::optional<Sample> pending;  // read but left for the next batch (another layout)
  bool exhausted = false;
  while ((options.max_samples == 0 || done < options.max_samples) && !(exhausted && !pending)) {
    if (options.cancel && options.cancel->load())
      return failure("calibration cancelled after " + std::to_string(done) + " samples");
    std::vector<Sample> batch;
    std::size_t batch_bytes = 0;
    const std::uint64_t room =
        options.max_samples == 0 ? max_batch : std::min<std::uint64_t>(max_batch, options.max_samples - done);
    const std::size_t limit = batching ? static_cast<std::size_t>(room) : 1;
    while (batch.size() < limit) {
      std::optional<Sample> next;
      if (pending) {
        next = std::move(pending);
        pending.reset();
      } else if (!exhausted) {
        auto sample = source.next();
        if (!sample) return sample.error().with_context("calibration data");
        if (!*sample) exhausted = true;
        else next = std::move(**sample);
      }
      if (!next) break;
      const std::size_t bytes = sample_bytes(*next);
      if (!batch.empty() && (!same_layout(batch.front(), *next) || bytes > max_sample_bytes ||
                             batch_bytes + bytes > kCalibrationBatchInputBytes)) {
        pending = std::move(next);
        break;
      }
      batch_bytes += bytes;
      batch.push_back(std::move(*next));
    }
    if (batch.empty()) break;
    const std::uint64_t count = batch.size();
    const std::string which = count == 1 ? "calibration sample " + std::to_string(done + 1)
                                         : "calibration samples " + std::to_string(done + 1) + "-" + std::to_string(done + count);
    Sample inputs = stack(batch);
    // Nothing to read from the graph (every calibrated tensor is a model input): no run, since
    // an empty name list would make the session return the model's own outputs.
    auto outputs = output_names.empty() ? Result<std::vector<Tensor>>(std::vector<Tensor>{})
                                        : session->run(inputs, output_names);
    if (!outputs) return outputs.error().with_context(which);
    extremes.clear();
    for (auto& t : *outputs) {
      auto found = routed->find(t.name);
      if (found == routed->end())
        return failure(what + ": ONNX Runtime returned output " + quoted(t.name) + ", which calibration did not ask for");
      const Routed& r = found->second;
      // A pair observes as a two-value tensor: the same min/max (and moving average) as the whole
      // tensor. An empty one (an If branch that did not run) observes nothing.
      if (!r.pair_tensors.empty()) {
        if (t.type != ElementType::float32 || t.bytes.size() != r.pair_tensors.size() * 2 * sizeof(float))
          return failure(what + ": the calibration output holds " + std::to_string(t.bytes.size()) +
                         " bytes, expected " + std::to_string(r.pair_tensors.size()) + " float32 pairs");
        for (std::size_t i = 0; i < r.pair_tensors.size(); ++i) {
          Tensor pair{r.pair_tensors[i], ElementType::float32, {2}, {}};
          const auto* at = t.bytes.data() + i * 2 * sizeof(float);
          pair.bytes.assign(at, at + 2 * sizeof(float));
          MODELKIT_TRY_VOID(stats.observe(pair));
          extremes.insert_or_assign(pair.name, std::move(pair));
        }
        continue;
      }
      t.name = r.tensor;
      MODELKIT_TRY_VOID(stats.observe(t));
      if (r.carries == Carries::extremes) extremes.insert_or_assign(r.tensor, std::move(t));
    }
    for (const auto& [name, d] : derived) {
      auto source_pair = extremes.find(d.source);
      MODELKIT_TRY_VOID(
          stats.observe(derive_pair(source_pair == extremes.end() ? nullptr : &source_pair->second, d, name)));
    }
    for (const auto& t : inputs)
      if (requested_inputs.count(t.name)) MODELKIT_TRY_VOID(stats.observe(t));
    for (std::uint64_t k = 0; k < count; ++k) stats.finish_sample();
    done += count;
    if (options.progress) {
      CollectProgress p;
      p.samples_done = done;
      p.samples_total = options.max_samples;
      p.elapsed_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      options.progress(p);
    }
  }
  if (done == 0) return failure("calibration data " + quoted(source.describe()) + " yielded no sample");
  if (options.reference_source && options.reference_outputs && !model_outputs.empty()) {
    // The float outputs validation compares against, from the session already loaded.
    auto& reference = *options.reference_outputs;
    reference.names = model_outputs;
    reference.samples.clear();
    MODELKIT_TRY_VOID(options.reference_source->rewind());
    for (;;) {
      if (options.cancel && options.cancel->load()) return failure("calibration cancelled");
      auto sample = options.reference_source->next();
      if (!sample) return sample.error().with_context("validation data");
      if (!*sample) break;
      auto outputs = session->run(**sample, model_outputs);
      if (!outputs) return outputs.error().with_context("float outputs of validation sample " +
                                                        std::to_string(reference.samples.size() + 1));
      reference.samples.push_back(std::move(*outputs));
    }
  }
  TensorRanges ranges = stats.ranges();
  ranges.model = model_path.filename().string();
  ranges.source = source.describe();
  return ranges;
}

}  // namespace modelkit::calib
