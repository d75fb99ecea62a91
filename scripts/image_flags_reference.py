#!/usr/bin/python3
"""Reference for the image pre-processing flags of run/eval (tests/integration/image_flags_test.cpp).

make DIR: DIR/linear.onnx, y = x * 1 over an NCHW float input x [1,3,8,8] (so the output is the
  fed tensor), DIR/zero.onnx, y = x * 0 (eval --compare against it: max |diff| is max |fed|),
  and DIR/images/a.png, an 8x8 RGB image of seeded random pixels (the input's size:
  no resampling).
check OUT.npy IMAGE MEAN STD RESCALE BGR TOL: OUT.npy equals ((pixels * RESCALE) - MEAN) / STD in
  NCHW (channels B,G,R when BGR is 1) within TOL, computed here with numpy.
maxabs IMAGE MEAN STD RESCALE: prints max |((pixels * RESCALE) - MEAN) / STD|.
"""
import sys

import numpy as np


def make(folder):
    import os

    import onnx
    from onnx import TensorProto, helper
    from PIL import Image

    os.makedirs(f"{folder}/images", exist_ok=True)
    for name, factor in (("linear", 1.0), ("zero", 0.0)):
        k = helper.make_tensor("k", TensorProto.FLOAT, [1], [factor])
        graph = helper.make_graph(
            [helper.make_node("Mul", ["x", "k"], ["y"])], name,
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])], [k])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 8
        onnx.save(model, f"{folder}/{name}.onnx")
    rng = np.random.default_rng(7)
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), "RGB").save(f"{folder}/images/a.png")


def normalised(image, mean, std, rescale):
    from PIL import Image

    pixels = np.asarray(Image.open(image).convert("RGB"), dtype=np.float64)
    mean = np.array([float(v) for v in mean.split(",")])
    std = np.array([float(v) for v in std.split(",")])
    return (pixels * float(rescale) - mean) / std


def check(out, image, mean, std, rescale, bgr, tol):
    expected = normalised(image, mean, std, rescale)
    if bgr == "1":
        expected = expected[:, :, ::-1]
    expected = expected.transpose(2, 0, 1)[None]
    got = np.load(out).astype(np.float64)
    if got.shape != expected.shape:
        sys.exit(f"shape {got.shape}, expected {expected.shape}")
    err = float(np.abs(got - expected).max())
    if err > float(tol):
        sys.exit(f"max |fed - numpy| = {err} > {tol}")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    elif sys.argv[1] == "maxabs":
        print(repr(float(np.abs(normalised(*sys.argv[2:6])).max())))
    else:
        check(*sys.argv[2:9])
