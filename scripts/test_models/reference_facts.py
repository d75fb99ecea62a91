"""Writes reference facts about each test model, computed with Debian's python3-onnx (no checker),
for the C++ tests to compare read_model_info against: MODELS_DIR/reference/<folder>__<stem>.json.

Usage: /usr/bin/python3 reference_facts.py MODELS_DIR
"""
import collections
import glob
import json
import os
import sys

import numpy as np
import onnx
from onnx import mapping


def dims(value_info):
    t = value_info.type
    if not t.HasField("tensor_type") or not t.tensor_type.HasField("shape"):
        return None
    out = []
    for d in t.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            out.append(d.dim_value)
        elif d.HasField("dim_param"):
            out.append(d.dim_param)
        else:
            out.append(None)
    return out


def io(values, skip=()):
    return [{"name": v.name, "elem_type": v.type.tensor_type.elem_type, "dims": dims(v)}
            for v in values if v.name not in skip]


def subgraph_nodes(nodes):
    count = 0
    for n in nodes:
        for a in n.attribute:
            graphs = ([a.g] if a.HasField("g") else []) + list(a.graphs)
            for g in graphs:
                count += len(g.node) + subgraph_nodes(g.node)
    return count


def op_key(n):
    return n.op_type if n.domain in ("", "ai.onnx") else n.domain + "." + n.op_type


def facts(path):
    m = onnx.load(path, load_external_data=False)
    g = m.graph
    init_names = {t.name for t in g.initializer}
    nbytes = 0
    for t in g.initializer:
        nbytes += int(np.prod(t.dims, dtype=np.int64)) * np.dtype(mapping.TENSOR_TYPE_TO_NP_TYPE[t.data_type]).itemsize
    return {
        "ir_version": m.ir_version,
        "producer_name": m.producer_name,
        "producer_version": m.producer_version,
        "opset_imports": [{"domain": o.domain, "version": o.version} for o in m.opset_import],
        "metadata_props": {p.key: p.value for p in m.metadata_props},
        "inputs": io(g.input, init_names),
        "outputs": io(g.output),
        "node_count": len(g.node),
        "subgraph_node_count": subgraph_nodes(g.node),
        "op_types": dict(sorted(collections.Counter(op_key(n) for n in g.node).items())),
        "initializer_count": len(g.initializer),
        "initializer_bytes": nbytes,
    }


def main():
    models = sys.argv[1]
    out_dir = os.path.join(models, "reference")
    os.makedirs(out_dir, exist_ok=True)
    for folder in ("silero-vad", "pp-ocr", "bert-tiny-like", "cnn-tiny"):
        for path in sorted(glob.glob(os.path.join(models, folder, "*.onnx"))):
            stem = os.path.splitext(os.path.basename(path))[0]
            with open(os.path.join(out_dir, f"{folder}__{stem}.json"), "w") as f:
                json.dump(facts(path), f, indent=2)
                f.write("\n")
    print("test-models: reference facts written with onnx", onnx.__version__)


if __name__ == "__main__":
    main()
