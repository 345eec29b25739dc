#!/usr/bin/python3
"""PyTorch CPU peer: times the models of bench/export_models.py in PyTorch itself (eager mode).

For each model (resnet18, mobilenet_v2, squeezenet1_1) and each batch whose files exist in --models-dir it
rebuilds the model exactly as the export did (same seeds, same BatchNorm calibration, read from
manifest.json), feeds the saved input (M_bB_input.pb), checks the output against the saved one
(M_bB_output.pb: max abs error), runs --warmup untimed and --iters timed forward passes
(time.perf_counter_ns around each) and prints one JSON line:

  {"peer":"torch","model":"resnet18","batch":1,"threads":2,"median_ns":..,"min_ns":..,
   "max_abs_err_vs_ref":..,"max_abs_ref":..,"iters":..,"warmup":..,"mkldnn_available":true,
   "mkldnn_enabled":true,"torch":"1.13.0a0"}

Settings: torch.set_num_threads(T) (intra-op; ATen's parallel backend here is OpenMP),
torch.set_num_interop_threads(1), torch.no_grad(), model.eval(), torch.backends.mkldnn.enabled = True
(PyTorch uses oneDNN (MKL-DNN 2.6.3 in Debian's 1.13) for fp32 convolutions when it is available; the
tensors stay in the default NCHW layout, nothing is converted with to_mkldnn()). The model is PyTorch's
own torchvision model, not the ONNX file, so this is "PyTorch eager" on the same weights and input.

Needs Debian's python3-torch / python3-torchvision: run it with /usr/bin/python3.

Usage:
  /usr/bin/python3 bench/torch_peer.py --models-dir target/models --threads 2 --iters 10 --warmup 3 \\
      [--only resnet18,mobilenet_v2] [--batches 1,8]
"""

import argparse
import json
import os
import sys
import time


def read_tensor_proto(path):
    """(dims, raw float32 bytes) of a TensorProto .pb as written by export_models.py (FLOAT + raw_data)."""
    data = open(path, "rb").read()
    pos, dims, dtype, raw = 0, [], None, None

    def varint():
        nonlocal pos
        shift = result = 0
        while True:
            b = data[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return result

    while pos < len(data):
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            v = varint()
            if field == 1:
                dims.append(v)
            elif field == 2:
                dtype = v
        elif wire == 2:
            n = varint()
            chunk = data[pos:pos + n]
            pos += n
            if field == 9:
                raw = chunk
            elif field == 1:  # packed dims
                save, sub = pos, chunk
                q = 0
                while q < len(sub):
                    shift = v = 0
                    while True:
                        b = sub[q]
                        q += 1
                        v |= (b & 0x7F) << shift
                        shift += 7
                        if not b & 0x80:
                            break
                    dims.append(v)
                pos = save
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError("%s: unsupported wire type %d" % (path, wire))
    if dtype != 1 or raw is None:
        raise ValueError("%s: expected a FLOAT tensor with raw_data (data_type=%s)" % (path, dtype))
    return dims, raw


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models-dir", default="target/models")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--only", default="", help="comma-separated model names")
    p.add_argument("--batches", default="1,8", help="comma-separated batch sizes (those with files)")
    args = p.parse_args(argv)

    import torch
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import export_models as ex

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set
    torch.backends.mkldnn.enabled = True
    torch.set_grad_enabled(False)

    manifest_path = os.path.join(args.models_dir, "manifest.json")
    manifest = json.load(open(manifest_path)) if os.path.exists(manifest_path) else {}
    calibrate = manifest.get("bn_calibration", {}) is not None
    names = [n for n in args.only.split(",") if n] or list(ex.MODELS)
    batches = [int(b) for b in args.batches.split(",") if b]

    for name in names:
        model = None
        for b in batches:
            stem = os.path.join(args.models_dir, "%s_b%d" % (name, b))
            if not os.path.exists(stem + "_input.pb"):
                print("skip %s batch %d: no %s_input.pb" % (name, b, stem), file=sys.stderr)
                continue
            if model is None:
                model = ex.build(name, calibrate)
            dims, raw = read_tensor_proto(stem + "_input.pb")
            x = torch.frombuffer(bytearray(raw), dtype=torch.float32).reshape(dims)
            rdims, rraw = read_tensor_proto(stem + "_output.pb")
            ref = torch.frombuffer(bytearray(rraw), dtype=torch.float32).reshape(rdims)
            with torch.no_grad():
                y = model(x)
                err = float((y - ref).abs().max())
                for _ in range(args.warmup):
                    model(x)
                times = []
                for _ in range(args.iters):
                    t0 = time.perf_counter_ns()
                    model(x)
                    times.append(time.perf_counter_ns() - t0)
            times.sort()
            n = len(times)
            median = times[n // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) // 2
            print(json.dumps({
                "peer": "torch", "model": name, "batch": b, "threads": args.threads,
                "median_ns": median, "min_ns": times[0], "max_abs_err_vs_ref": err,
                "max_abs_ref": float(ref.abs().max()), "iters": n, "warmup": args.warmup,
                "mkldnn_available": torch.backends.mkldnn.is_available(),
                "mkldnn_enabled": torch.backends.mkldnn.enabled,
                "torch": torch.__version__,
            }, separators=(",", ":")), flush=True)
    return 0

if __name__ == "__main__":
    sys.exit(main())
