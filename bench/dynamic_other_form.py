#!/usr/bin/python3
"""Rewrites a `--precision dynamic` model into the forms modelkit does not write by default, on
the same quantized weights and run-time activation quantization, so bench/precisions.sh can time
both forms of each op (docs/precisions.md, "dynamic"):
  - MatMul, integer form (DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul by the scales'
    product) -> QDQ form: DequantizeLinear on the quantized activation and on the int8 weight,
    float MatMul between them;
  - Conv, QDQ form (DequantizeLinear on both inputs of a float Conv, weight per channel on
    axis 0) -> integer form: ConvInteger -> Cast -> Mul by the scales' product [M, 1, ...] ->
    Add of the bias [M, 1, ...], as ONNX Runtime's dynamic quantizer writes it.
usage: dynamic_other_form.py DYNAMIC_MODEL OUTPUT_MODEL"""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper


def main(src, dst):
    model = onnx.load(src)
    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    readers = {}
    for n in g.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    inits = {t.name: t for t in g.initializer}
    drop, replace = set(), {}
    for n in g.node:
        if n.op_type == "MatMulInteger":
            (cast,) = readers[n.output[0]]
            (out_mul,) = readers[cast.output[0]]
            scales_mul = producer[[i for i in out_mul.input if i != cast.output[0]][0]]
            a_q, w_q, a_zp, w_zp = n.input
            a_scale, w_scale = scales_mul.input
            a_f, w_f = n.output[0] + "_A_dequantized", n.output[0] + "_B_dequantized"
            replace[id(n)] = [
                helper.make_node("DequantizeLinear", [a_q, a_scale, a_zp], [a_f], n.name + "_DQ_A"),
                helper.make_node("DequantizeLinear", [w_q, w_scale, w_zp], [w_f], n.name + "_DQ_B"),
                helper.make_node("MatMul", [a_f, w_f], [out_mul.output[0]], n.name + "_MatMul"),
            ]
            drop.update({id(cast), id(out_mul), id(scales_mul)})
        elif n.op_type == "Conv" and n.input[0] in producer and producer[n.input[0]].op_type == "DequantizeLinear":
            a_dq, w_dq = producer[n.input[0]], producer[n.input[1]]
            a_q, a_scale, a_zp = a_dq.input
            w_q, w_scale = w_dq.input[:2]
            scale = numpy_helper.to_array(inits[w_scale])
            rank = len(inits[w_q].dims)
            broadcast = [len(scale)] + [1] * (rank - 2)
            w_scale_b, zero = w_scale + "_broadcast", w_q + "_zero"
            g.initializer.extend([numpy_helper.from_array(scale.reshape(broadcast), w_scale_b),
                                  numpy_helper.from_array(np.zeros((), dtype=np.int8), zero)])
            base = n.name or n.output[0]
            integer = helper.make_node("ConvInteger", [a_q, w_q, a_zp, zero], [base + "_int"], base + "_ConvInteger")
            integer.attribute.extend(n.attribute)
            nodes = [integer,
                     helper.make_node("Cast", [base + "_int"], [base + "_float"], base + "_Cast", to=onnx.TensorProto.FLOAT),
                     helper.make_node("Mul", [a_scale, w_scale_b], [base + "_scales"], base + "_scales_Mul")]
            if len(n.input) > 2 and n.input[2]:
                bias = numpy_helper.to_array(inits[n.input[2]])
                g.initializer.append(numpy_helper.from_array(bias.reshape(broadcast), n.input[2] + "_broadcast"))
                nodes += [helper.make_node("Mul", [base + "_float", base + "_scales"], [base + "_scaled"], base + "_Mul"),
                          helper.make_node("Add", [base + "_scaled", n.input[2] + "_broadcast"], [n.output[0]], base + "_Add")]
            else:
                nodes.append(helper.make_node("Mul", [base + "_float", base + "_scales"], [n.output[0]], base + "_Mul"))
            replace[id(n)] = nodes
    if not replace:
        sys.exit(f"{src}: no MatMulInteger or dequantized Conv (not a --precision dynamic model?)")
    used = {i for nodes in replace.values() for x in nodes for i in x.input}
    kept = []
    for n in g.node:
        if id(n) in replace:
            kept.extend(replace[id(n)])
        elif id(n) not in drop:
            kept.append(n)
    # DequantizeLinear nodes no one reads any more (the Conv form's)
    read = {i for x in kept for i in x.input} | {o.name for o in g.output}
    kept = [x for x in kept if x.op_type != "DequantizeLinear" or any(o in read for o in x.output)]
    del g.node[:]
    g.node.extend(kept)
    onnx.checker.check_model(model)
    onnx.save(model, dst)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
