#!/usr/bin/python3
"""Draws bench/results/chart.png from bench/results/results.json: time per layer (C baseline, convnet on oneDNN,
convnet's Java backend), time per model (convnet, ONNX Runtime, PyTorch), log scale, and, where precision.json lies
next to results.json (PrecisionBench), time per model at batch 8 in FP32, bf16 and int8. Needs python3-matplotlib."""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

src = sys.argv[1] if len(sys.argv) > 1 else "bench/results/results.json"
dst = sys.argv[2] if len(sys.argv) > 2 else "bench/results/chart.png"
r = json.load(open(src))
layers = r["layers"]
models = r.get("models", [])
precision_file = os.path.join(os.path.dirname(src), "precision.json")
precision = [p for p in json.load(open(precision_file)) if "median_ns" in p] if os.path.exists(precision_file) else []
panels = 1 + (1 if models else 0) + (1 if precision else 0)
fig, axes = plt.subplots(1, panels, figsize=(6 + 5 * panels, 6), squeeze=False)
ax = axes[0][0]
names = [f'{l["layer"]} b{l["batch"]}' for l in layers]
x = range(len(layers))
w = 0.28
ax.bar([i - w for i in x], [l["c_median_ns"] / 1e3 for l in layers], w, label="oneDNN from C")
ax.bar(list(x), [l["onednn_median_ns"] / 1e3 for l in layers], w, label="convnet (oneDNN, FFM)")
ax.bar([i + w for i in x], [(l["java_median_ns"] or 0) / 1e3 for l in layers], w, label="convnet Java backend")
ax.set_yscale("log")
ax.set_ylabel("µs per run (median)")
ax.set_xticks(list(x))
ax.set_xticklabels(names, rotation=70, ha="right", fontsize=8)
ax.legend()
ax.set_title(f'Layers, {r["threads"]} threads, {r["cpu_model"]}, peak {r["peak_gflops"]} GFLOP/s')
if models:
    ax = axes[0][1]
    peers = sorted({m["peer"] for m in models})
    keys = sorted({(m["model"], m["batch"]) for m in models})
    w = 0.8 / len(peers)
    for j, p in enumerate(peers):
        t = {(m["model"], m["batch"]): m["median_ns"] / 1e6 for m in models if m["peer"] == p}
        ax.bar([i + (j - (len(peers) - 1) / 2) * w for i in range(len(keys))], [t.get(k, 0) for k in keys], w, label=p)
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels([f"{m} b{b}" for m, b in keys], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("ms per run (median)")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title("Models")
if precision:
    ax = axes[0][panels - 1]
    kinds = list(dict.fromkeys(p["precision"] for p in precision))
    what = list(dict.fromkeys(p["what"] for p in precision))
    w = 0.8 / len(kinds)
    for j, k in enumerate(kinds):
        t = {p["what"]: p["median_ns"] / 1e6 for p in precision if p["precision"] == k}
        ax.bar([i + (j - (len(kinds) - 1) / 2) * w for i in range(len(what))], [t.get(m, 0) for m in what], w, label=k)
    ax.set_xticks(range(len(what)))
    ax.set_xticklabels(what, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("ms per run (median), oneDNN")
    ax.legend()
    ax.set_title("Precision")
fig.suptitle(r["date"][:19])
fig.tight_layout()
fig.savefig(dst, dpi=110)
print("wrote", dst)
