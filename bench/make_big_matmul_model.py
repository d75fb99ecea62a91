#!/usr/bin/env python3
"""Writes a float ONNX model of LAYERS chained MatMuls of SIZE x SIZE random weights, every
weight in one external data file (model.onnx_data): the large-model case of bench/scale_build.sh.
usage: make_big_matmul_model.py OUT_DIR [LAYERS=9] [SIZE=8192]   (9 x 8192^2 floats = 2.25 GiB)"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

out_dir = sys.argv[1]
layers = int(sys.argv[2]) if len(sys.argv) > 2 else 9
size = int(sys.argv[3]) if len(sys.argv) > 3 else 8192
os.makedirs(out_dir, exist_ok=True)
data_name = "model.onnx_data"
rng = np.random.default_rng(0)
nodes, inits = [], []
offset = 0
with open(os.path.join(out_dir, data_name), "wb") as data:
    for i in range(layers):
        # std 1/sqrt(size) keeps activations of the chain at unit scale
        w = (rng.standard_normal((size, size), dtype=np.float32) / np.float32(np.sqrt(size))).astype(np.float32)
        raw = w.tobytes()
        data.write(raw)
        t = TensorProto()
        t.name = f"w{i}"
        t.data_type = TensorProto.FLOAT
        t.dims.extend([size, size])
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", data_name), ("offset", str(offset)), ("length", str(len(raw)))):
            e = t.external_data.add()
            e.key, e.value = k, v
        offset += len(raw)
        inits.append(t)
        nodes.append(helper.make_node("MatMul", ["x" if i == 0 else f"h{i - 1}", f"w{i}"],
                                      [f"h{i}" if i + 1 < layers else "y"], name=f"matmul{i}"))
graph = helper.make_graph(nodes, "big_matmuls",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", size])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", size])], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
with open(os.path.join(out_dir, "model.onnx"), "wb") as f:
    f.write(model.SerializeToString())
print(f"{out_dir}/model.onnx: {layers} MatMuls of {size}x{size}, {offset} bytes of weights")
