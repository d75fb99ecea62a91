#!/usr/bin/python3
"""Checks a headless-Chromium screenshot of `modelkit eval --per-tensor --html` against the JSON report
(tests/integration/eval_html_screenshot_test.cpp).

usage: check_chart_screenshot.py SCREENSHOT.png REPORT.json

The page's chart draws one bar per quantized tensor in graph order, in one of two fills (the named
worst tensors red, the others grey), each as tall as its SQNR falls below a 60 dB ceiling on a
240-pixel scale. Here the bars are found by their fill alone: each run of screen columns holding bar
pixels is one bar, its height the bar pixels in its middle column. They must match, in order, the
heights the JSON's SQNR values give, and the worst tensors must be the red ones. Exit 0 when they
do, 1 with the differences.
"""
import json
import sys

import numpy as np
from PIL import Image

CEILING_DB, CHART_PX = 60.0, 240
NAMED, PLAIN = (0xC0, 0x39, 0x2B), (0x7F, 0x8C, 0x8D)
HEIGHT_TOLERANCE_PX = 1  # anti-aliased edges


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    img = np.asarray(Image.open(sys.argv[1]).convert("RGB")).astype(np.int32)
    with open(sys.argv[2]) as f:
        report = json.load(f)
    errors = []
    # Not blank: a page, with text and a chart on it.
    if (img.min(axis=2) < 128).sum() < 500:
        errors.append("the screenshot is blank: %d dark pixels" % (img.min(axis=2) < 128).sum())

    def mask(colour):
        return (np.abs(img - np.array(colour)).max(axis=2) <= 2)

    named, plain = mask(NAMED), mask(PLAIN)
    bar = named | plain
    columns = bar.any(axis=0)
    runs, x = [], 0
    while x < len(columns):
        if columns[x]:
            start = x
            while x < len(columns) and columns[x]:
                x += 1
            runs.append((start, x))
        x += 1
    measured = []
    for start, end in runs:
        mid = (start + end) // 2
        measured.append({"width": end - start, "height": int(bar[:, mid].sum()), "named": bool(named[:, mid].any())})

    tensors = report.get("per_tensor", [])
    worst = set(range(min(3, len(tensors))))
    in_graph_order = sorted(range(len(tensors)), key=lambda i: tensors[i]["graph_index"])
    expected = []
    for rank in in_graph_order:
        depth = min(max(CEILING_DB - tensors[rank]["qdq_sqnr_db"], 0.0), CEILING_DB)
        h = int(depth / CEILING_DB * CHART_PX + 0.5)
        if h > 0:  # a zero-height bar leaves no pixels
            expected.append({"height": h, "named": rank in worst, "tensor": tensors[rank]["tensor"]})
    if not expected:
        errors.append("the report has no bar to draw: the check would check nothing")
    if len(measured) != len(expected):
        errors.append("%d bars on screen, %d in the JSON (measured %s)" % (len(measured), len(expected), measured))
    else:
        for m, e in zip(measured, expected):
            if abs(m["height"] - e["height"]) > HEIGHT_TOLERANCE_PX:
                errors.append("%s: bar %d px tall on screen, %d px from its SQNR" % (e["tensor"], m["height"], e["height"]))
            if m["named"] != e["named"]:
                errors.append("%s: %s on screen" % (e["tensor"], "red" if m["named"] else "grey"))
    for e in errors:
        print(e)
    print("bars: %d, heights %s" % (len(measured), [m["height"] for m in measured]))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
