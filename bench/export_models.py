#!/usr/bin/python3
"""Export the peer-comparison models to ONNX, with a fixed input and PyTorch's output for it.

Models: torchvision ResNet-18, MobileNetV2 and SqueezeNet 1.1, built with ``weights=None`` and
SEEDED random weights (``torch.manual_seed(0)`` right before each model is built, so a model's weights
do not depend on which other models are exported), in eval mode.

BatchNorm calibration (default; ``--no-bn-calibration`` turns it off): with freshly initialised running
statistics (mean 0, var 1) an eval-mode BatchNorm is the identity, and torchvision's init then lets
activations vanish: MobileNetV2's output is ~3e-9 (its depthwise convs get kaiming fan_out init, which
shrinks each block by ~1/sqrt(C)), which makes any "max abs error" check meaningless. So before export
each BatchNorm2d's running statistics are reset and set to the cumulative batch statistics of ONE
train-mode forward pass (no gradients, no weight change) over 8 N(0,1) images from a generator seeded
with 2. Weights stay torchvision's seeded init; only running_mean/running_var change. The outputs are
then O(1) (see manifest.json) and the BatchNorms folded into the Convs are non-trivial. SqueezeNet has
no BatchNorm and is unaffected.

For every model M in {resnet18, mobilenet_v2, squeezenet1_1} and batch size B (default 1 and 8) it writes,
under the output folder (default ``target/models``, which is git-ignored):

  M_bB.onnx         opset 13, static shapes, one input "input" [B,3,224,224] float32,
                    one output "output" [B,1000] float32 (torch.onnx.export; eval-mode export folds each
                    BatchNormalization into the Conv before it, so the graphs hold Conv, Relu/Clip, Add,
                    MaxPool, GlobalAveragePool, Flatten, Gemm, Concat; no Dropout, no BatchNormalization)
  M_bB_input.pb     the input: an ONNX TensorProto (float32, dims [B,3,224,224], name "input"), values
                    N(0,1) from torch.Generator seeded with 1; the batch-1 input is image 0 of the
                    batch-8 one, so row 0 of every batch-8 output should match the batch-1 output
  M_bB_output.pb    PyTorch's output for that input (TensorProto, float32, dims [B,1000], name "output")

The .pb files hold dims (field 1), data_type (field 2, FLOAT = 1), name (field 8) and raw_data (field 9,
little-endian float32), the same layout as the ONNX backend-test input_N.pb / output_N.pb files; they
are written by hand here, so the ``onnx`` Python package is not needed (dev.convnet.onnx.OnnxTensor
reads them on the Java side). Also written: ``manifest.json`` (models, batches, torch versions, the
max |output| per model, and the largest difference between row 0 of the batch-8 output and the batch-1
output).

Needs Debian's python3-torch (1.13) and python3-torchvision (0.14), i.e. /usr/bin/python3 (a pyenv
``python3`` first on PATH does not see them).

Usage:
  /usr/bin/python3 bench/export_models.py [OUT_DIR] [--batches 1,8] [--only resnet18,mobilenet_v2]
                                          [--no-bn-calibration]
Takes ~10 s for everything on 2 cores; writes ~145 MB.
"""

import argparse
import json
import os
import struct
import sys

import torch
import torchvision

MODELS = {
    "resnet18": lambda: torchvision.models.resnet18(weights=None),
    "mobilenet_v2": lambda: torchvision.models.mobilenet_v2(weights=None),
    "squeezenet1_1": lambda: torchvision.models.squeezenet1_1(weights=None),
}
# The other torchvision classifier families, exported by --zoo to check that the importer runs them (correctness,
# not timing): `make zoo` runs each on oneDNN and on the Java backend against PyTorch's output.
ZOO = {
    "vgg11": lambda: torchvision.models.vgg11(weights=None),
    "resnet50": lambda: torchvision.models.resnet50(weights=None),
    "mobilenet_v3_small": lambda: torchvision.models.mobilenet_v3_small(weights=None),
    "shufflenet_v2_x1_0": lambda: torchvision.models.shufflenet_v2_x1_0(weights=None),
    "densenet121": lambda: torchvision.models.densenet121(weights=None),
    "googlenet": lambda: torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True),
    "mnasnet1_0": lambda: torchvision.models.mnasnet1_0(weights=None),
    "efficientnet_b0": lambda: torchvision.models.efficientnet_b0(weights=None),
    "regnet_y_400mf": lambda: torchvision.models.regnet_y_400mf(weights=None),
}
WEIGHT_SEED = 0
INPUT_SEED = 1
CALIBRATION_SEED = 2
CALIBRATION_BATCH = 8
OPSET = 13


def _varint(value):
    """Protobuf base-128 varint of a non-negative int (int64 fields here are never negative)."""
    if value < 0:
        raise ValueError("negative varint")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tensor_proto_bytes(name, tensor):
    """A serialized onnx.TensorProto: FLOAT, dims, name, raw_data (little-endian float32)."""
    t = tensor.detach().to(torch.float32).contiguous().cpu()
    out = bytearray()
    for d in t.shape:  # field 1 dims, repeated int64 (proto2: unpacked)
        out += b"\x08" + _varint(int(d))
    out += b"\x10" + _varint(1)  # field 2 data_type = FLOAT
    name_bytes = name.encode("utf-8")  # field 8 name
    out += b"\x42" + _varint(len(name_bytes)) + name_bytes
    values = t.numpy().astype("<f4", copy=False).tobytes()  # field 9 raw_data
    out += b"\x4a" + _varint(len(values)) + values
    return bytes(out)


def write_tensor(path, name, tensor):
    with open(path, "wb") as f:
        f.write(tensor_proto_bytes(name, tensor))


def build(model_name, calibrate_bn):
    torch.manual_seed(WEIGHT_SEED)
    model = MODELS[model_name]()
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if calibrate_bn and bns:
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average: after one batch, exactly that batch's statistics
        model.train()
        gen = torch.Generator().manual_seed(CALIBRATION_SEED)
        with torch.no_grad():
            model(torch.randn((CALIBRATION_BATCH, 3, 224, 224), generator=gen, dtype=torch.float32))
        for bn in bns:
            bn.momentum = 0.1  # torchvision's default, so the module is as torchvision builds it
    model.eval()
    return model


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir", nargs="?", default="target/models")
    p.add_argument("--batches", default="1,8", help="comma-separated batch sizes (default 1,8)")
    p.add_argument("--no-bn-calibration", dest="calibrate_bn", action="store_false",
                   help="keep the initial BatchNorm running statistics (mean 0, var 1)")
    p.add_argument("--only", default="", help="comma-separated model names (default: all of " + ",".join(MODELS) + ")")
    p.add_argument("--zoo", action="store_true", help="export the other classifier families instead: " + ",".join(ZOO))
    p.add_argument("--opset", type=int, default=OPSET, help="ONNX opset (default %d)" % OPSET)
    args = p.parse_args(argv)
    if args.zoo:
        MODELS.clear()
        MODELS.update(ZOO)

    batches = [int(b) for b in args.batches.split(",") if b]
    names = [n for n in args.only.split(",") if n] or list(MODELS)
    for n in names:
        if n not in MODELS:
            p.error("unknown model %r (known: %s)" % (n, ", ".join(MODELS)))
    os.makedirs(args.out_dir, exist_ok=True)

    gen = torch.Generator().manual_seed(INPUT_SEED)
    full_input = torch.randn((max(batches + [1]), 3, 224, 224), generator=gen, dtype=torch.float32)

    manifest = {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "opset": args.opset,
        "weight_seed": WEIGHT_SEED,
        "input_seed": INPUT_SEED,
        "bn_calibration": {"seed": CALIBRATION_SEED, "batch": CALIBRATION_BATCH} if args.calibrate_bn else None,
        "models": {},
    }
    torch.set_grad_enabled(False)
    for name in names:
        model = build(name, args.calibrate_bn)
        info = {"batches": batches, "files": {}}
        outputs = {}
        for b in batches:
            x = full_input[:b].clone()
            stem = os.path.join(args.out_dir, "%s_b%d" % (name, b))
            torch.onnx.export(
                model, x, stem + ".onnx",
                export_params=True, opset_version=args.opset, do_constant_folding=True,
                input_names=["input"], output_names=["output"],
                training=torch.onnx.TrainingMode.EVAL,
            )
            y = model(x)
            write_tensor(stem + "_input.pb", "input", x)
            write_tensor(stem + "_output.pb", "output", y)
            outputs[b] = y
            info["files"][str(b)] = [os.path.basename(stem) + s for s in (".onnx", "_input.pb", "_output.pb")]
            info["max_abs_output_b%d" % b] = float(y.abs().max())
            print("%s batch %d: %s.onnx (%d bytes), output %s, max|y| %.4g"
                  % (name, b, stem, os.path.getsize(stem + ".onnx"), list(y.shape), float(y.abs().max())),
                  file=sys.stderr)
        if 1 in outputs and len(outputs) > 1:
            info["row0_vs_b1_max_abs_diff"] = {
                str(b): float((outputs[b][0] - outputs[1][0]).abs().max()) for b in outputs if b != 1}
        manifest["models"][name] = info
    with open(os.path.join(args.out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
