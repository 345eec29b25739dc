#!/usr/bin/python3
"""PyTorch peer of convnet's transfer-learning experiment (make transfer, make transfer-quick; issue 10).

convnet's runner (bench/java/dev/convnet/bench/TransferExperiment.java) writes a plan: the pretrained ONNX file, the
cut node, the kept classes, the recipe and, for every (K, seed) cell, the epochs and the exact indices of the
Fashion-MNIST training images convnet trained on (Dataset.sourceIndices()). This script runs the same cells and
strategies with the same recipe:

  * the network is rebuilt node by node from the ONNX graph (Conv, Relu, MaxPool, Flatten, Gemm) up to and including
    the cut node, with the pretrained initializers read by onnx.numpy_helper: the same weights convnet loads;
  * the new head is one Linear(features -> classes), weights Kaiming-uniform U(+-sqrt(6/fan_in)), biases
    U(+-1/sqrt(fan_in)) drawn after torch.manual_seed(seed); scratch draws every layer that way;
  * fixed-softmax / fixed-svm: the frozen backbone runs once (eval mode, no_grad) over the training and test images,
    then the head alone trains on those features with softmax cross-entropy, or with the multiclass hinge
    (1/N) sum_n sum_{j != y_n} max(0, s_nj - s_ny + 1) (convnet's Loss.multiclassHinge, the lecture's linear SVM);
  * finetune: every layer trains, the backbone at lr * backbone_lr_factor; finetune-top: only the last top_blocks
    Conv/Gemm nodes of the backbone (at lr * factor) and the head; scratch: everything at lr, fresh weights;
  * torch.optim.SGD(momentum, weight_decay) over every trained parameter (biases included, as convnet does), mean
    softmax cross-entropy, batches of `batch` in a torch.Generator(seed) shuffle per epoch, the last partial batch kept;
  * test accuracy on every test image of the kept classes.

The results are JSON lines in --out, one per (strategy, K, seed), rewritten after each run. `seconds` of a run is the
wall time from the pretrained weights in memory to the test accuracy (features, training and evaluation), as convnet's
`time=`; `train_seconds` the training loop alone. One untimed training step comes first.

Usage: /usr/bin/python3 bench/torch_transfer.py --plan target/transfer/plan.json --out target/transfer/torch.jsonl
"""
import argparse
import json
import math
import os
import sys
import time
from collections import OrderedDict

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper

from torch_train import idx


def attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def backbone_from_onnx(path, cut):
    """The chain of the ONNX graph up to and including node `cut`, as (nn.Sequential, [trainable module names])."""
    model = onnx.load(path)
    weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
    layers = []
    for node in model.graph.node:
        op = node.op_type
        if op == "Conv":
            w = weights[node.input[1]]
            pads = attr(node, "pads", [0, 0, 0, 0])
            if pads[:2] != pads[2:]:
                raise ValueError(f"{node.name}: asymmetric pads {pads}")
            m = nn.Conv2d(w.shape[1] * attr(node, "group", 1), w.shape[0], tuple(w.shape[2:]), stride=tuple(attr(node, "strides", [1, 1])),
                          padding=tuple(pads[:2]), dilation=tuple(attr(node, "dilations", [1, 1])), groups=attr(node, "group", 1))
        elif op == "Gemm":
            w = weights[node.input[1]]
            if (attr(node, "transA", 0), attr(node, "transB", 0), attr(node, "alpha", 1.0), attr(node, "beta", 1.0)) != (0, 1, 1.0, 1.0):
                raise ValueError(f"{node.name}: only Gemm(A, B^T) + C is supported")
            m = nn.Linear(w.shape[1], w.shape[0])
        elif op == "Relu":
            m = nn.ReLU()
        elif op == "MaxPool":
            pads = attr(node, "pads", [0, 0, 0, 0])
            m = nn.MaxPool2d(tuple(attr(node, "kernel_shape")), stride=tuple(attr(node, "strides", [1, 1])), padding=tuple(pads[:2]))
        elif op == "Flatten":
            if attr(node, "axis", 1) != 1:
                raise ValueError(f"{node.name}: Flatten axis must be 1")
            m = nn.Flatten()
        else:
            raise ValueError(f"{node.name}: ONNX operator {op} is not supported by this script")
        if op in ("Conv", "Gemm"):
            with torch.no_grad():
                m.weight.copy_(weights[node.input[1]])
                m.bias.copy_(weights[node.input[2]])
        layers.append((node.name, m))
        if node.name == cut or cut in node.output:
            return nn.Sequential(OrderedDict(layers)), [n for n, l in layers if isinstance(l, (nn.Conv2d, nn.Linear))]
    raise ValueError(f"no node named {cut} in {path}")


def kaiming_(module):
    """convnet's Initializer.KAIMING_UNIFORM for the weight, UNIFORM_FAN_IN for the bias."""
    fan_in = module.weight[0].numel()
    with torch.no_grad():
        module.weight.uniform_(-math.sqrt(6.0 / fan_in), math.sqrt(6.0 / fan_in))
        module.bias.uniform_(-1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))


def hinge(scores, y):
    """The lecture's multiclass SVM loss, mean over the batch (not torch's MultiMarginLoss, which divides by classes)."""
    margins = (scores - scores.gather(1, y[:, None]) + 1.0).clamp(min=0)
    margins = margins.scatter(1, y[:, None], 0.0)
    return margins.sum(1).mean()


def batched(fn, x, batch):
    with torch.no_grad():
        return torch.cat([fn(x[i:i + batch]) for i in range(0, x.shape[0], batch)])


def fit(model, params_groups, loss_fn, x, y, epochs, batch, momentum, weight_decay, seed):
    opt = torch.optim.SGD(params_groups, lr=params_groups[0]["lr"], momentum=momentum, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    n = x.shape[0]
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        for s in range(0, n, batch):
            b = order[s:s + batch]
            opt.zero_grad()
            loss_fn(model(x[b]), y[b]).backward()
            opt.step()
    return n * epochs


def run(strategy, cell, plan, data):
    recipe = plan["recipe"]
    batch, epochs, seed = recipe["batch"], cell["epochs"], cell["seed"]
    lr = recipe["lr"][strategy]
    factor = recipe["backbone_lr_factor"]
    xtr, ytr, xte, yte = data["xtr"][cell["train_indices"]], data["ytr"][cell["train_indices"]], data["xte"], data["yte"]
    backbone, blocks = backbone_from_onnx(plan["pretrained"], plan["cut"])
    classes = len(plan["classes"])
    start = time.perf_counter()
    torch.manual_seed(seed)
    features = batched(backbone, xtr[:1], 1).shape[1]
    head = nn.Linear(features, classes)
    kaiming_(head)
    loss_fn = hinge if strategy == "fixed-svm" else nn.functional.cross_entropy
    if strategy.startswith("fixed-"):
        backbone.eval()
        ftr = batched(backbone, xtr, batch)
        fte = batched(backbone, xte, batch)
        t0 = time.perf_counter()
        images = fit(head, [{"params": head.parameters(), "lr": lr}], loss_fn, ftr, ytr, epochs, batch,
                     recipe["momentum"], recipe["weight_decay"], seed)
        train_seconds = time.perf_counter() - t0
        predicted = batched(head, fte, batch).argmax(1)
    else:
        model = nn.Sequential(backbone, head)
        if strategy == "scratch":
            for m in model.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    kaiming_(m)
            groups = [{"params": model.parameters(), "lr": lr}]
        else:
            trained = blocks if strategy == "finetune" else blocks[len(blocks) - recipe["top_blocks"]:]
            for name, m in backbone.named_children():
                for p in m.parameters():
                    p.requires_grad_(name in trained)
            groups = [{"params": head.parameters(), "lr": lr},
                      {"params": [p for p in backbone.parameters() if p.requires_grad], "lr": lr * factor}]
        model.train()
        t0 = time.perf_counter()
        images = fit(model, groups, loss_fn, xtr, ytr, epochs, batch, recipe["momentum"], recipe["weight_decay"], seed)
        train_seconds = time.perf_counter() - t0
        model.eval()
        predicted = batched(model, xte, batch).argmax(1)
    seconds = time.perf_counter() - start
    accuracy = float((predicted == yte).float().mean())
    return {"peer": "torch", "torch": torch.__version__, "threads": torch.get_num_threads(), "strategy": strategy, "k": cell["k"],
            "seed": seed, "epochs": epochs, "train_images": int(xtr.shape[0]), "test_images": int(xte.shape[0]), "accuracy": accuracy,
            "seconds": seconds, "train_seconds": train_seconds, "images_per_s": images / train_seconds}


def warm_up(plan, data):
    """One untimed training step and inference pass, so the first timed run does not pay PyTorch's one-time set-up."""
    backbone, _ = backbone_from_onnx(plan["pretrained"], plan["cut"])
    x = data["xtr"][:plan["recipe"]["batch"]]
    model = nn.Sequential(backbone, nn.Linear(batched(backbone, x[:1], 1).shape[1], len(plan["classes"])))
    nn.functional.cross_entropy(model(x), data["ytr"][:x.shape[0]].clamp(min=0)).backward()
    batched(model, x, x.shape[0])


def load(plan):
    d = plan["data"]
    xtr = torch.from_numpy(idx(os.path.join(d, "train-images-idx3-ubyte")).astype(np.float32) / 255.0).unsqueeze(1)
    ytr = torch.from_numpy(idx(os.path.join(d, "train-labels-idx1-ubyte")).astype(np.int64))
    xte = torch.from_numpy(idx(os.path.join(d, "t10k-images-idx3-ubyte")).astype(np.float32) / 255.0).unsqueeze(1)
    yte = torch.from_numpy(idx(os.path.join(d, "t10k-labels-idx1-ubyte")).astype(np.int64))
    relabel = torch.full((int(ytr.max()) + 1,), -1, dtype=torch.int64)
    for new, old in enumerate(plan["classes"]):
        relabel[old] = new
    keep = relabel[yte] >= 0
    return {"xtr": xtr, "ytr": relabel[ytr], "xte": xte[keep], "yte": relabel[yte][keep]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plan", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    with open(a.plan) as f:
        plan = json.load(f)
    torch.set_num_threads(plan["threads"])
    torch.set_num_interop_threads(1)
    data = load(plan)
    warm_up(plan, data)
    results = []
    for cell in plan["cells"]:
        if min(int(data["ytr"][i]) for i in cell["train_indices"]) < 0:
            raise ValueError(f"cell k={cell['k']} seed={cell['seed']}: a training index is not of the kept classes")
        for strategy in plan["strategies"]:
            r = run(strategy, cell, plan, data)
            print(f"torch {strategy} k={cell['k']} seed={cell['seed']}: accuracy={r['accuracy']:.4f} time={r['seconds']:.1f}s",
                  file=sys.stderr, flush=True)
            results.append(json.dumps(r, separators=(",", ":")))
            with open(a.out, "w") as f:
                f.write("\n".join(results) + "\n")


if __name__ == "__main__":
    main()
