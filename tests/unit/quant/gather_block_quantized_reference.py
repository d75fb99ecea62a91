"""Independent reference for --int4-embeddings (GatherBlockQuantized): reads the written model
with the onnx package, dequantizes the table from its documented layout with numpy, and checks
  - every dequantized value is the 4-bit value of its block nearest to the float table's,
  - ONNX Runtime's output equals the dequantized rows picked by the indices.
Usage: gather_block_quantized_reference.py MODEL TABLE.bin INDICES.bin OUT.bin V D
(TABLE float32 [V, D], INDICES int64, OUT float32 [len(INDICES), D], raw little-endian).
Prints one line; exits 1 on a mismatch."""
import sys

import numpy as np
import onnx
from onnx import numpy_helper

STEP_TOLERANCE = 1e-5  # float32 rounding of v / scale + zp
OUTPUT_TOLERANCE = 1e-6  # (q - zp) * scale, one product in float32

model_path, table_path, indices_path, out_path = sys.argv[1:5]
v, d = int(sys.argv[5]), int(sys.argv[6])
table = np.fromfile(table_path, dtype=np.float32).reshape(v, d)
indices = np.fromfile(indices_path, dtype=np.int64)
out = np.fromfile(out_path, dtype=np.float32).reshape(len(indices), d)

model = onnx.load(model_path)
inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
nodes = [x for x in model.graph.node if x.op_type == "GatherBlockQuantized" and x.domain == "com.microsoft"]
if len(nodes) != 1:
    print(f"expected one com.microsoft GatherBlockQuantized, found {len(nodes)}")
    sys.exit(1)
node = nodes[0]
attrs = {x.name: onnx.helper.get_attribute_value(x) for x in node.attribute}
block = attrs["block_size"]
if attrs.get("gather_axis", 0) != 0 or attrs.get("quantize_axis", 1) != 1 or attrs.get("bits", 4) != 4:
    print(f"attributes {attrs}: expected gather_axis 0, quantize_axis 1, bits 4")
    sys.exit(1)
blocks = d // block
packed = inits[node.input[0]]
scales = inits[node.input[2]]
if packed.dtype != np.uint8 or packed.shape != (v, d // 2):
    print(f"data is {packed.dtype} {packed.shape}, expected uint8 {(v, d // 2)}")
    sys.exit(1)
if scales.dtype != np.float32 or scales.shape != (v, blocks):
    print(f"scales are {scales.dtype} {scales.shape}, expected float32 {(v, blocks)}")
    sys.exit(1)
q = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(v, blocks, block).astype(np.float32)
if len(node.input) > 3 and node.input[3]:
    zp_bytes = inits[node.input[3]]
    if zp_bytes.shape != (v, (blocks + 1) // 2):
        print(f"zero points are {zp_bytes.shape}, expected {(v, (blocks + 1) // 2)}")
        sys.exit(1)
    zp = np.stack([zp_bytes & 0x0F, zp_bytes >> 4], axis=-1).reshape(v, -1)[:, :blocks].astype(np.float32)
else:
    zp = np.full((v, blocks), 8.0, dtype=np.float32)  # the kernel's default for uint8 data
dequantized = ((q - zp[:, :, None]) * scales[:, :, None]).reshape(v, d)

levels = np.arange(16, dtype=np.float32)
grid = (levels[None, None, :] - zp[:, :, None]) * scales[:, :, None]  # [V, blocks, 16]
t = table.reshape(v, blocks, block)
nearest = np.abs(t[:, :, :, None] - grid[:, :, None, :]).min(axis=-1)
chosen = np.abs(t - dequantized.reshape(v, blocks, block))
worst_rounding = float((chosen - nearest).max() / max(float(np.abs(scales).max()), 1e-30))
if worst_rounding > STEP_TOLERANCE:
    print(f"a value is not rounded to its nearest 4-bit level (off by {worst_rounding:.3g} steps)")
    sys.exit(1)
expected = dequantized[indices]
worst = float(np.abs(out - expected).max() / max(float(np.abs(expected).max()), 1e-30))
if worst > OUTPUT_TOLERANCE:
    print(f"ONNX Runtime's rows differ from the dequantized table by {worst:.3g} (relative)")
    sys.exit(1)
print(f"ok: {len(indices)} rows of [{v}, {d}] in blocks of {block}, rounding within {worst_rounding:.2g} steps, "
      f"output within {worst:.2g}")
