#!/usr/bin/python3
"""inspect in O(graph): times `modelkit inspect -m FILE` on a 1 GiB ONNX model whose weights are
embedded (raw_data, one protobuf under the 2 GiB limit) against `inspect` of a config-only folder,
in the same run, each its own process (wall time start to exit, and the child's peak RSS from
wait4). Targets: the 1 GiB model in <= 10 ms and <= 30 MiB, and within 2x of the config-only one.

The model (16 MatMul weights of 4096x4096 float32 = 64 MiB each, 1 GiB in all) is written once
into a temporary folder by a streaming protobuf encoder below (never held in memory), and removed
at the end; --keep DIR keeps it there for reruns.

usage: bench/inspect_bench.py [--runs N] [--binary PATH] [--keep DIR]"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = 16
SIDE = 4096  # 4096 x 4096 float32 = 64 MiB per weight
TIME_TARGET_MS = 10.0
RSS_TARGET_MIB = 30.0
RATIO_TARGET = 2.0


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def field(number, wire):
    return varint((number << 3) | wire)


def ld(number, body):  # a length-delimited field
    return field(number, 2) + varint(len(body)) + body


def s(number, text):
    return ld(number, text.encode())


def i(number, value):
    return field(number, 0) + varint(value)


def value_info(name, dims):
    shape = b"".join(ld(1, i(1, d)) for d in dims)
    return s(1, name) + ld(2, ld(1, i(1, 1) + ld(2, shape)))  # float32 tensor of `dims`


def write_model(path):
    """ModelProto{ir 8, opset 17, graph: x -> MatMul(w0) -> ... -> MatMul(w15) -> y}, weights inline."""
    payload = SIDE * SIDE * 4
    nodes = b""
    for k in range(LAYERS):
        src = "x" if k == 0 else f"h{k}"
        dst = "y" if k == LAYERS - 1 else f"h{k + 1}"
        nodes += ld(1, s(1, src) + s(1, f"w{k}") + s(2, dst) + s(3, f"matmul{k}") + s(4, "MatMul"))
    head = nodes + s(2, "bench") + ld(11, value_info("x", [1, SIDE])) + ld(12, value_info("y", [1, SIDE]))
    tensor_heads = []
    for k in range(LAYERS):
        dims = field(1, 2) + varint(len(varint(SIDE)) * 2) + varint(SIDE) + varint(SIDE)
        tensor_heads.append(dims + i(2, 1) + s(8, f"w{k}") + field(9, 2) + varint(payload))
    graph_len = len(head) + sum(len(field(5, 2)) + len(varint(len(t) + payload)) + len(t) + payload for t in tensor_heads)
    chunk = b"\x3c" * (1 << 22)  # 4 MiB of a constant byte: the data is never looked at
    with open(path, "wb") as f:
        f.write(i(1, 8) + s(2, "modelkit-bench") + ld(8, i(2, 17)) + field(7, 2) + varint(graph_len) + head)
        for t in tensor_heads:
            f.write(field(5, 2) + varint(len(t) + payload) + t)
            for _ in range(payload // len(chunk)):
                f.write(chunk)


def run(binary, args):
    """(wall ms, peak RSS MiB, CPU ms) of one `modelkit` process."""
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.execv(binary, [binary] + args)
    _, status, usage = os.wait4(pid, 0)
    wall = (time.perf_counter() - t0) * 1000
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"inspect bench: `modelkit {' '.join(args)}` failed (exit {os.waitstatus_to_exitcode(status)})")
    return wall, usage.ru_maxrss / 1024.0, (usage.ru_utime + usage.ru_stime) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "bin", "modelkit"))
    ap.add_argument("--keep", help="folder to write the model into (and reuse when it is there)")
    a = ap.parse_args()
    work = a.keep or tempfile.mkdtemp(prefix="modelkit-inspect-bench-")
    os.makedirs(work, exist_ok=True)
    model = os.path.join(work, "embedded_1gib.onnx")
    want = None
    try:
        if not os.path.exists(model):
            t0 = time.perf_counter()
            write_model(model)
            print(f"wrote {model} ({os.path.getsize(model) / 2**30:.2f} GiB) in {time.perf_counter() - t0:.1f} s")
        want = os.path.getsize(model)
        config_only = os.path.join(work, "config-only")
        os.makedirs(config_only, exist_ok=True)
        shutil.copy(os.path.join(ROOT, "tests", "data", "configs", "dslim__bert-base-NER-uncased.json"),
                    os.path.join(config_only, "config.json"))
        cases = [("1 GiB embedded model", ["inspect", "-m", model]),
                 ("config-only folder", ["inspect", "-m", config_only])]
        results = {name: [] for name, _ in cases}
        for name, args in cases:
            run(a.binary, args)  # warm the page cache and the binary
        for _ in range(a.runs):  # interleaved, so load on the machine hits both alike
            for name, args in cases:
                results[name].append(run(a.binary, args))
        print(f"modelkit inspect, {a.runs} runs each (load avg {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        med = {}
        for name, _ in cases:
            walls = sorted(w for w, _, _ in results[name])
            rss = max(r for _, r, _ in results[name])
            cpu = statistics.median(c for _, _, c in results[name])
            med[name] = statistics.median(walls)
            print(f"  {name:22s} median {med[name]:6.2f} ms  p90 {walls[int(len(walls) * 0.9)]:6.2f} ms  "
                  f"min {walls[0]:6.2f} ms  CPU {cpu:5.1f} ms  peak RSS {rss:5.1f} MiB")
        model_ms, config_ms = med["1 GiB embedded model"], med["config-only folder"]
        model_rss = max(r for _, r, _ in results["1 GiB embedded model"])
        ratio = model_ms / config_ms
        ok = model_ms <= TIME_TARGET_MS and model_rss <= RSS_TARGET_MIB and ratio <= RATIO_TARGET
        print(f"  ratio {ratio:.2f}x; targets <= {TIME_TARGET_MS:.0f} ms, <= {RSS_TARGET_MIB:.0f} MiB, "
              f"<= {RATIO_TARGET:.0f}x: {'met' if ok else 'NOT met'}")
        return 0 if ok else 1
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
