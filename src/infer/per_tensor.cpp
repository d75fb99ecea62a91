// --per-tensor: quantized activations against their float tensors (run.hpp, TensorError).
#include "infer/model_io.hpp"

#include "onnx/model_proto.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>
#include <map>
#include <set>

namespace modelkit::infer {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kQuantizeInputSuffix = "_QuantizeLinear_Input";

bool is_op(const ::onnx::NodeProto& n, std::string_view op) {
  return n.op_type() == op && (n.domain().empty() || n.domain() == "ai.onnx" || n.domain() == "com.microsoft");
}

struct Pair {
  std::string pre, post, float_name;
  // The quantizer folds a Relu or Clip into the range of its input's QuantizeLinear (the QDQ
  // model has no such node): the float op is applied to the QuantizeLinear input before it is
  // compared, so the op's own clipping does not count as quantization error.
  float low = -std::numeric_limits<float>::infinity(), high = std::numeric_limits<float>::infinity();
};

// The bounds of the Relu/Clip that writes `name` in the float graph, when the QDQ model folded it.
std::pair<float, float> folded_bounds(const ::onnx::ModelProto& flt, const fs::path& dir, const std::string& name) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  auto scalar = [&](const std::string& input, float fallback) {
    for (const auto& t : flt.graph().initializer())
      if (t.name() == input) {
        auto v = onnx::tensor_from_proto(t, dir);
        if (v && v->type == ElementType::float32 && v->element_count() == 1) return v->values<float>()[0];
      }
    return fallback;
  };
  for (const auto& n : flt.graph().node()) {
    if (n.output_size() == 0 || n.output(0) != name) continue;
    if (n.op_type() == "Relu") return {0.0F, kInf};
    if (n.op_type() == "Clip") {
      float lo = -kInf, hi = kInf;
      for (const auto& a : n.attribute()) {  // opset < 11
        if (a.name() == "min") lo = a.f();
        if (a.name() == "max") hi = a.f();
      }
      if (n.input_size() > 1 && !n.input(1).empty()) lo = scalar(n.input(1), lo);
      if (n.input_size() > 2 && !n.input(2).empty()) hi = scalar(n.input(2), hi);
      return {lo, hi};
    }
  }
  return {-kInf, kInf};
}

struct Sums {
  double signal = 0, qdq_noise = 0, float_signal = 0, xmodel_noise = 0;
};

double sqnr_db(double signal, double noise) {
  constexpr double kNoiseFloor = 1e-30;  // an exact match: a large finite figure, not infinity
  if (signal <= 0) return 0.0;
  return 10.0 * std::log10(signal / std::max(noise, kNoiseFloor));
}

}  // namespace

Result<std::vector<TensorError>> per_tensor_errors(const fs::path& float_model, const fs::path& qdq_model,
                                                   const std::vector<std::vector<Tensor>>& samples, int threads) {
  MODELKIT_TRY(auto qdq, onnx::read_model_proto(qdq_model));
  MODELKIT_TRY(auto flt, onnx::read_model_proto(float_model));
  std::set<std::string> initializers;
  for (const auto& t : qdq.graph().initializer()) initializers.insert(t.name());
  // QuantizeLinear(x) -> DequantizeLinear pairs on activations (weights have no QuantizeLinear).
  std::map<std::string, std::string> q_input_of_output;
  for (const auto& n : qdq.graph().node())
    if (is_op(n, "QuantizeLinear") && n.input_size() > 0 && n.output_size() > 0 && !initializers.count(n.input(0)))
      q_input_of_output[n.output(0)] = n.input(0);
  // The float graph: producers (with their position), consumers, graph inputs.
  std::map<std::string, std::pair<std::string, std::size_t>> producer;
  std::map<std::string, std::vector<std::string>> consumers;
  for (int i = 0; i < flt.graph().node_size(); ++i) {
    const auto& n = flt.graph().node(i);
    const std::string name = n.name().empty() ? n.op_type() + "_" + std::to_string(i) : n.name();
    for (const auto& o : n.output()) producer[o] = {name, static_cast<std::size_t>(i) + 1};
    for (const auto& in : n.input())
      if (!in.empty()) consumers[in].push_back(name);
  }
  std::set<std::string> float_inputs;
  for (const auto& in : flt.graph().input()) float_inputs.insert(in.name());
  std::vector<Pair> pairs;
  std::set<std::string> seen;
  for (const auto& n : qdq.graph().node()) {
    if (!is_op(n, "DequantizeLinear") || n.input_size() == 0 || n.output_size() == 0) continue;
    auto it = q_input_of_output.find(n.input(0));
    if (it == q_input_of_output.end()) continue;
    std::string float_name = it->second;
    if (float_name.ends_with(kQuantizeInputSuffix)) float_name.resize(float_name.size() - kQuantizeInputSuffix.size());
    if (!producer.count(float_name) && !float_inputs.count(float_name)) continue;
    if (!seen.insert(float_name).second) continue;
    Pair pair{it->second, n.output(0), float_name};
    if (pair.pre != float_name) {
      // The float producer's output is renamed in the QDQ model: folded when that producer is missing there.
      bool present = false;
      for (const auto& qn : qdq.graph().node())
        for (const auto& o : qn.output()) present |= o == pair.pre && qn.op_type() != "Relu" && qn.op_type() != "Clip";
      if (present) std::tie(pair.low, pair.high) = folded_bounds(flt, float_model.parent_path(), float_name);
    }
    pairs.push_back(std::move(pair));
  }
  if (pairs.empty())
    return failure(quoted(qdq_model) + " has no QuantizeLinear/DequantizeLinear pair on an activation of " +
                   quoted(float_model) + "; --per-tensor needs -m QDQ_MODEL --compare ITS_FLOAT_MODEL");
  std::vector<std::string> qdq_names, float_names;
  for (const auto& p : pairs) {
    qdq_names.push_back(p.pre);
    qdq_names.push_back(p.post);
    float_names.push_back(p.float_name);
  }
  runtime::SessionOptions so;
  so.intra_op_threads = threads;
  MODELKIT_TRY(auto qdq_session, runtime::open_with_extra_outputs(qdq_model, qdq_names, so));
  MODELKIT_TRY(auto float_session, runtime::open_with_extra_outputs(float_model, float_names, so));
  std::vector<Sums> sums(pairs.size());
  for (const auto& sample : samples) {
    auto feed = [&](const runtime::Session& s) {
      std::vector<Tensor> in;
      for (const auto& spec : s.inputs())
        for (const auto& t : sample)
          if (t.name == spec.name) in.push_back(t);
      return in;
    };
    auto qin = feed(qdq_session), fin = feed(float_session);
    MODELKIT_TRY(auto q_out, qdq_session.run(qin, qdq_names));
    MODELKIT_TRY(auto f_out, float_session.run(fin, float_names));
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      auto pre = as_floats(q_out[2 * i]), post = as_floats(q_out[2 * i + 1]), ref = as_floats(f_out[i]);
      if (!pre || !post || !ref || pre->size() != post->size() || ref->size() != post->size()) continue;
      auto& s = sums[i];
      for (std::size_t k = 0; k < post->size(); ++k) {
        const double x = std::clamp((*pre)[k], pairs[i].low, pairs[i].high), y = (*post)[k], f = (*ref)[k];
        s.signal += x * x;
        s.qdq_noise += (x - y) * (x - y);
        s.float_signal += f * f;
        s.xmodel_noise += (f - y) * (f - y);
      }
    }
  }
  std::vector<TensorError> out;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    TensorError e;
    e.tensor = pairs[i].float_name;
    if (auto p = producer.find(e.tensor); p != producer.end()) e.producer = p->second.first, e.graph_index = p->second.second;
    if (auto c = consumers.find(e.tensor); c != consumers.end()) e.consumers = c->second;
    e.qdq_sqnr = sqnr_db(sums[i].signal, sums[i].qdq_noise);
    e.xmodel_sqnr = sqnr_db(sums[i].float_signal, sums[i].xmodel_noise);
    out.push_back(std::move(e));
  }
  std::stable_sort(out.begin(), out.end(), [](const TensorError& a, const TensorError& b) { return a.qdq_sqnr < b.qdq_sqnr; });
  return out;
}

std::string exclude_nodes_line(const std::vector<TensorError>& ranked, std::size_t worst) {
  std::string line;
  std::set<std::string> named;
  for (std::size_t i = 0; i < std::min(worst, ranked.size()); ++i)
    for (const auto& c : ranked[i].consumers)
      if (named.insert(c).second) {
        std::string quoted_name;  // for a POSIX shell: ' closes, \' is a quote, ' reopens
        for (char ch : c) quoted_name += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
        line += (line.empty() ? "" : " ") + std::string("--exclude-nodes '") + quoted_name + "'";
      }
  return line;
}

}  // namespace modelkit::infer
