"""Independent reference for the int4 (MatMulNBits) quantizer: reads the written model with the
onnx package, dequantizes B from its documented layout with numpy, and checks
  - every dequantized weight is the 4-bit value of its block nearest to the float weight,
  - ONNX Runtime's output equals A @ dequantized B.
Usage: matmul_nbits_reference.py MODEL A.bin Y.bin B.bin M K N
(raw little-endian float32; A is [M, K], Y [M, N], B the float weight [K, N]).
Prints one line; exits 1 on a mismatch."""
import sys

import numpy as np
import onnx
from onnx import numpy_helper

# ORT accumulates in float32 (blocked kernels, another summation order): relative to |A| |B|.
OUTPUT_TOLERANCE = 2e-4
STEP_TOLERANCE = 1e-5  # float32 rounding of v / scale + zp

model_path, a_path, y_path, b_path = sys.argv[1:5]
m, k, n = (int(v) for v in sys.argv[5:8])
a = np.fromfile(a_path, dtype=np.float32).reshape(m, k)
y = np.fromfile(y_path, dtype=np.float32).reshape(m, n)
b = np.fromfile(b_path, dtype=np.float32).reshape(k, n)

model = onnx.load(model_path)
inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
nodes = [x for x in model.graph.node if x.op_type == "MatMulNBits" and x.domain == "com.microsoft"]
if len(nodes) != 1:
    print(f"expected one com.microsoft MatMulNBits, found {len(nodes)}")
    sys.exit(1)
node = nodes[0]
attrs = {x.name: onnx.helper.get_attribute_value(x) for x in node.attribute}
block = attrs["block_size"]
if attrs["K"] != k or attrs["N"] != n or attrs["bits"] != 4:
    print(f"attributes {attrs} do not match K={k} N={n} bits=4")
    sys.exit(1)
k_blocks = k // block
packed = inits[node.input[1]]
scales = inits[node.input[2]]
if packed.dtype != np.uint8 or packed.shape != (n, k_blocks, block // 2):
    print(f"B is {packed.dtype} {packed.shape}, expected uint8 {(n, k_blocks, block // 2)}")
    sys.exit(1)
if scales.dtype != np.float32 or scales.shape != (n * k_blocks,):
    print(f"scales are {scales.dtype} {scales.shape}, expected float32 {(n * k_blocks,)}")
    sys.exit(1)
low = packed & 0x0F
high = packed >> 4
q = np.stack([low, high], axis=-1).reshape(n, k_blocks, block).astype(np.float32)
if len(node.input) > 3 and node.input[3]:
    zp_bytes = inits[node.input[3]].reshape(n, (k_blocks + 1) // 2)
    zp = np.stack([zp_bytes & 0x0F, zp_bytes >> 4], axis=-1).reshape(n, -1)[:, :k_blocks].astype(np.float32)
else:
    zp = np.full((n, k_blocks), 8.0, dtype=np.float32)
s = scales.reshape(n, k_blocks)
w = ((q - zp[:, :, None]) * s[:, :, None]).reshape(n, k).T  # [K, N]

# Round to nearest: each weight is the representable value (q - zp) * scale, q in 0..15, of its
# block closest to the float weight (the block's grid; symmetric blocks clip one end).
levels = np.arange(16, dtype=np.float32)
grid = (levels[None, None, :] - zp[:, :, None]) * s[:, :, None]  # [N, k_blocks, 16]
bb = b.T.reshape(n, k_blocks, block)  # [N, k_blocks, block]
nearest = np.min(np.abs(bb[:, :, :, None] - grid[:, :, None, :]), axis=-1).reshape(n, k).T
err = np.abs(w - b)
step = np.repeat(np.abs(s), block, axis=1).T  # [K, N]
worst = float(np.max(err - nearest - STEP_TOLERANCE * np.maximum(step, np.abs(b))))
if worst > 0:
    print(f"a dequantized weight is {worst} farther from the float weight than its block's nearest 4-bit value")
    sys.exit(1)
if float(np.max(err - step)) > STEP_TOLERANCE:
    print("a dequantized weight is more than one step from the float weight")
    sys.exit(1)
ref = a.astype(np.float64) @ w.astype(np.float64)
scale = np.abs(a).astype(np.float64) @ np.abs(w).astype(np.float64) + 1e-12
rel = float(np.max(np.abs(y - ref) / scale))
if rel > OUTPUT_TOLERANCE:
    print(f"ONNX Runtime's output differs from A @ dequantized B by {rel} (relative to |A||B|)")
    sys.exit(1)
print(f"ok: max weight error {float(err.max()):.3g}, output error {rel:.3g}")
