#!/usr/bin/python3
"""Independent numpy reference for the percentile and entropy calibration ranges, following the
algorithm of ONNX Runtime's HistogramCalibrater (HistogramCollector) as documented in its
quantization tools: written here from the description, not copied.

usage: calib_reference.py --method percentile|entropy [--bins 2048] [--quantized-bins 128]
                          [--percentile 99.999] SAMPLE.f32...
Each SAMPLE file holds one calibration sample's values as raw little-endian float32. Prints one
JSON object: {"min": .., "max": .., "bin_width": .., "bins": ..} (the range and the final
histogram's bin width and count).

percentile (symmetric, as ORT's default for it): a histogram of |x|; the first sample sets
  num_bins bins over [min|x|, max|x|]; later samples append bins of the same width up to their
  max. t = the lower edge of the first bin whose cumulative share reaches percentile/100; the
  range is [-t, t] clamped to the observed [min, max].
entropy: a histogram of x over [-T, T] (T = the first sample's max |x|); a later sample with a
  larger max |x| widens it on both sides by whole bins of the old width. For every window of
  2i+1 bins around the middle bin (i from quantized_bins/2 to bins/2): p = the window with the
  outside counts added to its end bins, q = the window merged into quantized_bins groups
  (remainder in the last) and spread back over p's non-zero bins (integer division, as ORT's
  int64 array truncates); both smoothed (zeros get eps = 1e-4, the non-zeros lose the same total);
  KL(p || q) after normalising each; the window with the smallest KL gives [lower edge, upper
  edge], clamped to the observed [min, max].
"""
import argparse
import json
import sys

import numpy as np


def percentile_range(samples, bins, percentile):
    hist = edges = None
    lo = hi = None
    for x in samples:
        lo = x.min() if lo is None else min(lo, x.min())
        hi = x.max() if hi is None else max(hi, x.max())
        a = np.abs(x)
        if hist is None:
            hist, edges = np.histogram(a, bins=bins)
            edges = edges.astype(np.float32)
            continue
        amax = a.max()
        if amax > edges[-1]:
            width = edges[1] - edges[0]
            extra = np.arange(edges[-1] + width, amax + width, width)
            edges = np.hstack((edges, extra))
        new_hist, edges = np.histogram(a, bins=edges)
        edges = edges.astype(np.float32)
        new_hist[: len(hist)] += hist
        hist = new_hist
    cdf = np.cumsum(hist / hist.sum())
    idx = np.searchsorted(cdf, percentile / 100.0)
    t = float(edges[idx])
    return max(-t, float(lo)), min(t, float(hi)), float(edges[1] - edges[0]), len(hist)


def smooth(p, eps=1e-4):
    zeros = p == 0
    n_zeros = int(zeros.sum())
    n_nonzeros = p.size - n_zeros
    if n_nonzeros == 0:
        return None
    out = p.astype(np.float64)
    out[zeros] = eps
    out[~zeros] -= eps * n_zeros / n_nonzeros
    if (out <= 0).any():
        return None
    return out


def kl(p, q):
    p = p / p.sum()
    q = q / q.sum()
    return float(np.sum(p * np.log(p / q)))


def entropy_histogram(samples, bins):
    hist = edges = None
    threshold = 0.0
    lo = hi = None
    for x in samples:
        lo = x.min() if lo is None else min(lo, x.min())
        hi = x.max() if hi is None else max(hi, x.max())
        t = float(max(abs(x.min()), abs(x.max())))
        if hist is None:
            hist, edges = np.histogram(x, bins, range=(-t, t))
            threshold = t
        elif t <= threshold:
            new_hist, _ = np.histogram(x, len(hist), range=(-threshold, threshold))
            hist = hist + new_hist
        elif threshold == 0:
            new_hist, edges = np.histogram(x, len(hist), range=(-t, t))
            hist = hist + new_hist
            threshold = t
        else:
            stride = 2 * threshold / len(hist)
            half = int((t - threshold) // stride + 1)
            n = len(hist) + 2 * half
            threshold = half * stride + threshold
            new_hist, edges = np.histogram(x, n, range=(-threshold, threshold))
            new_hist[half : n - half] += hist
            hist = new_hist
    return hist, edges, float(lo), float(hi)


def entropy_range(samples, bins, quantized_bins, q_in_floats=False, symmetric_windows=False, q_on_nonzero=False):
    hist, edges, lo, hi = entropy_histogram(samples, bins)
    n = hist.size
    zero = n // 2
    half_q = quantized_bins // 2
    best = None
    for i in range(half_q, zero + 1):
        start = zero - i
        end = min(zero + i + (0 if symmetric_windows else 1), n)
        window = hist[start:end].astype(np.int64)
        p = window.copy()
        p[0] += hist[:start].sum()
        p[-1] += hist[end:].sum()
        nonzero = (p != 0).astype(np.int64)
        merged = window.size // quantized_bins
        groups = np.zeros(quantized_bins, dtype=np.int64)
        for k in range(quantized_bins):
            groups[k] = window[k * merged : (k + 1) * merged].sum()
        groups[-1] += window[quantized_bins * merged :].sum()
        q = np.zeros(p.size, dtype=np.float64 if q_in_floats else np.int64)
        for k in range(quantized_bins):
            a, b = k * merged, (k + 1) * merged
            if q_on_nonzero and k == quantized_bins - 1:
                b = p.size
            norm = nonzero[a:b].sum()
            if norm:
                spread = float(groups[k]) / float(norm)
                q[a:b] = spread if q_in_floats else int(spread)
        if q_on_nonzero:
            q[p == 0] = 0
        ps, qs = smooth(p), smooth(q)
        d = kl(ps, qs) if ps is not None and qs is not None else float("inf")
        if best is None or d < best[0]:
            best = (d, float(edges[start]), float(edges[end]))
    return max(best[1], lo), min(best[2], hi), float(edges[1] - edges[0]), n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", choices=["percentile", "entropy"], required=True)
    ap.add_argument("--bins", type=int, default=2048)
    ap.add_argument("--quantized-bins", type=int, default=128)
    ap.add_argument("--percentile", type=float, default=99.999)
    # modelkit's documented departures from ORT (include/modelkit/calib_stats.hpp), to tell them
    # apart from errors: q spread in floating point, windows of exactly 2i bins.
    ap.add_argument("--q-in-floats", action="store_true")
    ap.add_argument("--symmetric-windows", action="store_true")
    # ... and q spread over p's non-zero bins only, the last group taking the remainder (MXNet's
    # form of the algorithm; ORT fills every bin of a group and leaves the remainder at 0).
    ap.add_argument("--q-on-nonzero-bins", action="store_true")
    ap.add_argument("samples", nargs="+")
    args = ap.parse_args()
    samples = [np.fromfile(f, dtype="<f4") for f in args.samples]
    samples = [s[np.isfinite(s)] for s in samples]
    if args.method == "percentile":
        lo, hi, width, n = percentile_range(samples, args.bins, args.percentile)
    else:
        lo, hi, width, n = entropy_range(samples, args.bins, args.quantized_bins, args.q_in_floats,
                                         args.symmetric_windows, args.q_on_nonzero_bins)
    json.dump({"min": lo, "max": hi, "bin_width": width, "bins": n}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
