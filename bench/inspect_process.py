#!/usr/bin/python3
"""Times the whole `modelkit inspect -m DIR --format json` process, start to exit.
Target: median under 10 ms. usage: bench/inspect_process.py [--runs N] [--binary PATH] [DIR...]"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "bin", "modelkit"))
    ap.add_argument("dirs", nargs="*")
    args = ap.parse_args()
    dirs = args.dirs
    tmp = None
    if not dirs:
        # A checkpoint folder per real config of the suite.
        tmp = tempfile.TemporaryDirectory()
        src = os.path.join(ROOT, "tests", "data", "configs")
        for name in sorted(os.listdir(src)):
            if name.endswith(".json"):
                d = os.path.join(tmp.name, name[:-5])
                os.makedirs(d)
                with open(os.path.join(src, name), "rb") as f, open(os.path.join(d, "config.json"), "wb") as g:
                    g.write(f.read())
                dirs.append(d)
    times = []
    for i in range(args.runs):
        d = dirs[i % len(dirs)]
        t0 = time.perf_counter()
        r = subprocess.run([args.binary, "inspect", "-m", d, "--format", "json"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - t0) * 1000)
        if r.returncode != 0:
            print(f"inspect failed on {d}", file=sys.stderr)
            return 1
    times.sort()
    print(f"modelkit inspect --format json: {args.runs} runs over {len(dirs)} checkpoints")
    print(f"  median {statistics.median(times):.2f} ms, p90 {times[int(len(times) * 0.9)]:.2f} ms, "
          f"min {times[0]:.2f} ms, max {times[-1]:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
