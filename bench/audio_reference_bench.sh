#!/bin/sh
# Times the numpy references of scripts/audio_reference.py on the sizes bench/audio_bench.cpp
# uses (30 s -> Whisper log-mel 80/128, 10.24 s -> AST fbank, 30 s -> Wav2Vec2), best of 5
# runs after one warm-up, with Debian's /usr/bin/python3 and numpy. The input is white noise
# (the cost does not depend on the content).
# usage: bench/audio_reference_bench.sh
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
exec /usr/bin/python3 - "$root/scripts" <<'PY'
import sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
import audio_reference as ref

def best(fn, *args):
    fn(*args)
    times = []
    for _ in range(5):
        t = time.perf_counter(); fn(*args); times.append(time.perf_counter() - t)
    return min(times)

rng = np.random.default_rng(0)
x30 = (0.1 * rng.standard_normal(30 * 16000)).astype(np.float32)
x10 = x30[: int(10.24 * 16000)]
print("numpy %s" % np.__version__)
for name, fn, x, a in [("WhisperLogMel80_30s", ref.whisper, x30, {"n_mels": "80"}),
                       ("WhisperLogMel128_30s", ref.whisper, x30, {"n_mels": "128"}),
                       ("AstFbank_10s", ref.ast, x10, {}),
                       ("Wav2Vec2Normalize_30s", ref.wav2vec2, x30, {})]:
    print("%-24s %8.2f ms" % (name, 1000 * best(fn, x, a)))
PY
