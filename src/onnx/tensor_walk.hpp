// Visits every TensorProto of a model: initializers, sparse initializers, tensor-valued node
// attributes (Constant), recursively through subgraphs (If/Loop/Scan) and model-local functions.
#pragma once

#include <onnx/onnx_pb.h>

namespace modelkit::onnx {

template <class Graph, class Fn>
void for_each_graph_tensor(Graph& graph, Fn&& fn);

template <class Attribute, class Fn>
void for_each_attribute_tensor(Attribute& a, Fn&& fn) {
  if (a.has_t()) fn(*a.mutable_t());
  for (auto& t : *a.mutable_tensors()) fn(t);
  if (a.has_sparse_tensor()) {
    fn(*a.mutable_sparse_tensor()->mutable_values());
    fn(*a.mutable_sparse_tensor()->mutable_indices());
  }
  for (auto& s : *a.mutable_sparse_tensors()) {
    fn(*s.mutable_values());
    fn(*s.mutable_indices());
  }
  if (a.has_g()) for_each_graph_tensor(*a.mutable_g(), fn);
  for (auto& g : *a.mutable_graphs()) for_each_graph_tensor(g, fn);
}

template <class Graph, class Fn>
void for_each_graph_tensor(Graph& graph, Fn&& fn) {
  for (auto& t : *graph.mutable_initializer()) fn(t);
  for (auto& s : *graph.mutable_sparse_initializer()) {
    fn(*s.mutable_values());
    fn(*s.mutable_indices());
  }
  for (auto& node : *graph.mutable_node())
    for (auto& a : *node.mutable_attribute()) for_each_attribute_tensor(a, fn);
}

// fn(::onnx::TensorProto&) for each tensor of a mutable model.
template <class Fn>
void for_each_tensor(::onnx::ModelProto& model, Fn&& fn) {
  if (model.has_graph()) for_each_graph_tensor(*model.mutable_graph(), fn);
  for (auto& f : *model.mutable_functions())
    for (auto& node : *f.mutable_node())
      for (auto& a : *node.mutable_attribute()) for_each_attribute_tensor(a, fn);
}

}  // namespace modelkit::onnx
