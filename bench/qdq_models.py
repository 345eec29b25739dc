#!/usr/bin/python3
"""Turn the exported FP32 benchmark models (bench/export_models.py, ``make models``) into QDQ models.

For every ``M_bB.onnx`` in the models folder (default ``target/models``) it writes ``M_bB_qdq.onnx``: the same graph
in ONNX Runtime's QDQ form, following the rules of convnet's post-training quantizer
(``dev.convnet.quant.PostTrainingQuantizer``), so that convnet's Java backend, convnet's int8 lowering and ONNX
Runtime all see one quantized network:

* Calibration: the FP32 graph is run by a small interpreter written with ``torch.nn.functional`` (Conv, Relu, Clip,
  Add, MaxPool, AveragePool, GlobalAveragePool, Flatten, Gemm, Concat, Identity, Constant: the operators of
  ResNet-18, MobileNetV2 and SqueezeNet 1.1 as exported) on ``--calibration`` N(0,1) images (seeded with 3, unlike the
  test input, seed 1) in batches of 8, recording the min and max of every value.
* Activations: the input of every Conv and Gemm (taken before any MaxPool, Flatten or Identity that leads to it), and
  the end of each Conv/Gemm's chain of Relu/Clip (unless a graph output), get QuantizeLinear -> DequantizeLinear,
  UINT8, asymmetric: the range [min, max] extended to include 0, scale = (max - min)/255 (float32),
  zero point = round_half_even(0 - min/scale) clamped to [0, 255].
* Weights: per output channel, symmetric INT8: scale_c = max|w_c| / 127 in float32 (1 for a channel of zeros),
  q = round_half_even(w / scale_c), stored as an INT8 initializer read by DequantizeLinear(axis 0). A Gemm with
  transB = 1 has its output channels on axis 0 too.
* Biases (default; ``--float-bias`` keeps them float): INT32 with scale x_scale*w_scale_c and zero point 0, read by
  DequantizeLinear(axis 0), as ONNX Runtime's quantizer writes them (so it can run its int8 kernels).

Needs /usr/bin/python3 with Debian's python3-onnx (1.12) and python3-torch; no ONNX Runtime in Python.

Usage:
  /usr/bin/python3 bench/qdq_models.py [MODELS_DIR] [--calibration 16] [--only resnet18_b1,...] [--float-bias]
"""

import argparse
import glob
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper, TensorProto

CALIBRATION_SEED = 3
MOVES = {"MaxPool", "Flatten", "Identity"}
FUSED = {"Relu", "Clip"}


def attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def pads2d(p):
    """ONNX pads [top, left, bottom, right] to F.pad's (left, right, top, bottom)."""
    return (p[1], p[3], p[0], p[2])


def run_fp32(model, x, wanted):
    """Evaluates the graph on x (a torch tensor) and returns {name: tensor} for the names in wanted."""
    g = model.graph
    env = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in g.initializer}
    env[g.input[0].name] = x
    out = {}
    for n in g.node:
        a = attrs(n)
        i = [env[name] if name else None for name in n.input]
        op = n.op_type
        if op == "Conv":
            p = a.get("pads", [0, 0, 0, 0])
            xin = F.pad(i[0], pads2d(p)) if any(p) else i[0]
            y = F.conv2d(xin, i[1], i[2] if len(i) > 2 else None, stride=a.get("strides", [1, 1]),
                         dilation=a.get("dilations", [1, 1]), groups=a.get("group", 1))
        elif op == "Relu":
            y = torch.relu(i[0])
        elif op == "Clip":
            lo = float(i[1]) if len(i) > 1 and i[1] is not None else -float("inf")
            hi = float(i[2]) if len(i) > 2 and i[2] is not None else float("inf")
            y = torch.clamp(i[0], lo, hi)
        elif op == "Add":
            y = i[0] + i[1]
        elif op in ("MaxPool", "AveragePool"):
            p = a.get("pads", [0, 0, 0, 0])
            if p[0] != p[2] or p[1] != p[3]:
                raise SystemExit("asymmetric pooling pads are not handled: %s" % n.name)
            f = F.max_pool2d if op == "MaxPool" else F.avg_pool2d
            kw = {} if op == "MaxPool" else {"count_include_pad": bool(a.get("count_include_pad", 0))}
            y = f(i[0], a["kernel_shape"], stride=a.get("strides", [1, 1]), padding=(p[0], p[1]),
                  ceil_mode=bool(a.get("ceil_mode", 0)), **kw)
        elif op == "GlobalAveragePool":
            y = i[0].mean(dim=(2, 3), keepdim=True)
        elif op == "Flatten":
            y = torch.flatten(i[0], a.get("axis", 1))
        elif op == "Gemm":
            w = i[1].t() if a.get("transB", 0) else i[1]
            xa = i[0].t() if a.get("transA", 0) else i[0]
            y = a.get("alpha", 1.0) * (xa @ w)
            if len(i) > 2 and i[2] is not None:
                y = y + a.get("beta", 1.0) * i[2]
        elif op == "Concat":
            y = torch.cat(i, dim=a["axis"])
        elif op == "Identity":
            y = i[0]
        elif op == "Constant":
            y = torch.from_numpy(numpy_helper.to_array(a["value"]).copy())
        else:
            raise SystemExit("operator %s is not handled by the calibration interpreter" % op)
        env[n.output[0]] = y
        if n.output[0] in wanted:
            out[n.output[0]] = y
    for name in wanted:
        if name in env and name not in out:
            out[name] = env[name]
    return out


def constants(g):
    """Initializers by name, also under the names of Identity nodes that copy them (as SqueezeNet's export has)."""
    inits = {t.name: t for t in g.initializer}
    for n in g.node:
        if n.op_type == "Identity" and n.input[0] in inits:
            inits[n.output[0]] = inits[n.input[0]]
    return inits


def targets(model):
    """The activation values to quantize, and the Conv/Gemm nodes whose weights are quantized."""
    g = model.graph
    inits = constants(g)
    producer = {o: n for n in g.node for o in n.output}
    readers = {}
    for n in g.node:
        for name in n.input:
            readers.setdefault(name, []).append(n)
    outputs = {o.name for o in g.output}
    chosen = []
    layers = []
    for n in g.node:
        if n.op_type not in ("Conv", "Gemm") or n.input[0] in inits:
            continue
        if n.op_type == "Gemm" and (attrs(n).get("transA", 0) or not attrs(n).get("transB", 0)):
            continue  # weights with output channels on axis 0 only
        if n.input[1] not in inits:
            continue
        layers.append(n)
        v = n.input[0]
        while v in producer and producer[v].op_type in MOVES:
            v = producer[v].input[0]
        chosen.append(v)
        end = n.output[0]
        while end not in outputs:
            r = readers.get(end, [])
            if len(r) != 1 or r[0].op_type not in FUSED:
                break
            end = r[0].output[0]
        if end not in outputs and end in readers:
            chosen.append(end)
    seen = set()
    ordered = [v for v in chosen if not (v in seen or seen.add(v))]
    return ordered, layers


def activation_params(lo, hi):
    """UINT8 asymmetric: convnet's PostTrainingQuantizer.activationParams."""
    lo = min(float(lo), 0.0)
    hi = max(float(hi), 0.0)
    scale = np.float32((hi - lo) / 255.0)
    if not scale > 0:
        return np.float32(1.0), 0
    zp = int(np.rint(0.0 - lo / float(scale)))
    return scale, max(0, min(255, zp))


def weight_rule(w):
    """Per output channel (axis 0) symmetric INT8: convnet's PerChannelWeights."""
    w = w.astype(np.float32)
    flat = w.reshape(w.shape[0], -1)
    m = np.abs(flat).max(axis=1).astype(np.float32)
    scale = np.where(m == 0, np.float32(1.0), m / np.float32(127.0)).astype(np.float32)
    q = np.clip(np.rint(flat / scale[:, None]), -128, 127).astype(np.int8)
    return q.reshape(w.shape), scale


def quantize(model, ranges, layers, float_bias):
    g = model.graph
    inits = constants(g)
    new_inits = []
    new_nodes = []
    dq_of = {}  # value -> its dequantized name
    act = {}
    for v, (lo, hi) in ranges.items():
        act[v] = activation_params(lo, hi)

    def add_pair(v):
        s, z = act[v]
        sn, zn = v + "_scale", v + "_zero_point"
        new_inits.append(numpy_helper.from_array(np.array(s, dtype=np.float32), sn))
        new_inits.append(numpy_helper.from_array(np.array(z, dtype=np.uint8), zn))
        new_nodes.append(helper.make_node("QuantizeLinear", [v, sn, zn], [v + "_quantized"], name=v + "_QuantizeLinear"))
        new_nodes.append(helper.make_node("DequantizeLinear", [v + "_quantized", sn, zn], [v + "_dequantized"],
                                          name=v + "_DequantizeLinear"))
        dq_of[v] = v + "_dequantized"

    layer_names = {id(n) for n in layers}
    for i in g.input:
        if i.name in act:
            add_pair(i.name)
    for n in g.node:
        node = onnx.NodeProto()
        node.CopyFrom(n)
        for k, name in enumerate(node.input):
            if name in dq_of:
                node.input[k] = dq_of[name]
        if id(n) in layer_names:
            wname = n.input[1]
            q, s = weight_rule(numpy_helper.to_array(inits[wname]))
            new_inits += [numpy_helper.from_array(q, wname + "_quantized"),
                          numpy_helper.from_array(s, wname + "_scale"),
                          numpy_helper.from_array(np.zeros(len(s), dtype=np.int8), wname + "_zero_point")]
            new_nodes.append(helper.make_node("DequantizeLinear", [wname + "_quantized", wname + "_scale", wname + "_zero_point"],
                                              [wname + "_dequantized"], name=wname + "_DequantizeLinear", axis=0))
            node.input[1] = wname + "_dequantized"
            if len(n.input) > 2 and n.input[2] and not float_bias:
                bname = n.input[2]
                b = numpy_helper.to_array(inits[bname]).astype(np.float32)
                x_scale = act[_source(g, n.input[0])][0]
                bs = (np.float32(x_scale) * s).astype(np.float32)
                bq = np.rint(b / bs).astype(np.int64)
                if np.abs(bq).max() >= 2 ** 31:
                    raise SystemExit("bias of %s does not fit INT32" % n.name)
                new_inits += [numpy_helper.from_array(bq.astype(np.int32), bname + "_quantized"),
                              numpy_helper.from_array(bs, bname + "_scale"),
                              numpy_helper.from_array(np.zeros(len(bs), dtype=np.int32), bname + "_zero_point")]
                new_nodes.append(helper.make_node("DequantizeLinear", [bname + "_quantized", bname + "_scale", bname + "_zero_point"],
                                                  [bname + "_dequantized"], name=bname + "_DequantizeLinear", axis=0))
                node.input[2] = bname + "_dequantized"
        new_nodes.append(node)
        if n.output[0] in act:
            add_pair(n.output[0])
    used = {name for n in new_nodes for name in n.input}
    kept = [t for t in g.initializer if t.name in used]
    del g.node[:]
    g.node.extend(new_nodes)
    del g.initializer[:]
    g.initializer.extend(kept + new_inits)
    return model


def _source(g, v):
    """The value a Conv/Gemm input was quantized at: back through MaxPool/Flatten/Identity (as in targets)."""
    producer = {o: n for n in g.node for o in n.output}
    while v in producer and producer[v].op_type in MOVES:
        v = producer[v].input[0]
    return v


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models_dir", nargs="?", default="target/models")
    p.add_argument("--calibration", type=int, default=16, help="calibration images (default 16)")
    p.add_argument("--only", default="", help="comma-separated stems, e.g. resnet18_b1 (default: every M_bB.onnx)")
    p.add_argument("--float-bias", action="store_true", help="keep biases float instead of INT32")
    args = p.parse_args(argv)
    stems = [s for s in args.only.split(",") if s]
    files = sorted(f for f in glob.glob(os.path.join(args.models_dir, "*_b*.onnx")) if not f.endswith("_qdq.onnx"))
    if stems:
        files = [f for f in files if os.path.basename(f)[:-5] in stems]
    if not files:
        print("no FP32 model in %s: run `make models` first" % args.models_dir, file=sys.stderr)
        return 1
    torch.set_grad_enabled(False)
    gen = torch.Generator().manual_seed(CALIBRATION_SEED)
    images = torch.randn((args.calibration, 3, 224, 224), generator=gen, dtype=torch.float32)
    for f in files:
        model = onnx.load(f)
        values, layers = targets(model)
        ranges = {}
        for start in range(0, args.calibration, 8):
            out = run_fp32(model, images[start:start + 8], set(values))
            for v in values:
                t = out[v]
                lo, hi = float(t.min()), float(t.max())
                r = ranges.get(v)
                ranges[v] = (lo, hi) if r is None else (min(r[0], lo), max(r[1], hi))
        q = quantize(model, ranges, layers, args.float_bias)
        onnx.checker.check_model(q)
        out = f[:-5] + "_qdq.onnx"
        tmp = out + ".tmp"
        onnx.save(q, tmp)
        os.replace(tmp, out)
        print("%s: %d activations and %d weight tensors quantized -> %s (%d bytes)"
              % (os.path.basename(f), len(values), len(layers), out, os.path.getsize(out)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
