#!/usr/bin/python3
"""PyTorch peer of convnet's training benchmark (make bench-quick: summary train_vs_torch, train_accuracy).

Trains the lecture-pattern network of issue 9 on Fashion-MNIST exactly as convnet's TrainBench does:
  INPUT [1,28,28] -> Conv 3x3 same 1->32 -> ReLU -> MaxPool 2x2 -> Conv 3x3 same 32->64 -> ReLU -> MaxPool 2x2
  -> Flatten -> Linear 3136->128 -> ReLU -> Linear 128->10
weights Kaiming-uniform for ReLU (U(+-sqrt(6/fan_in))), biases U(+-1/sqrt(fan_in)) (convnet's Initializer.KAIMING_UNIFORM
and UNIFORM_FAN_IN); pixels scaled to [0, 1], nothing else; mean softmax cross-entropy; torch.optim.SGD(lr, momentum);
batch 64 with a seeded shuffle per epoch, the last partial batch kept; torch.set_num_threads(T), one inter-op thread;
NCHW float32 eager mode as a new user writes it (oneDNN/mkldnn enabled, the default).

Prints one JSON line:
  {"peer":"torch","threads":2,"batch":64,"epochs":2,"epoch_seconds":[..],"images_per_s":[..],
   "test_accuracy":[..],"train_loss":[..],"torch":"1.13.1"}
epoch_seconds times the training steps only (batch gathering, forward, loss, backward, step); the test evaluation after
each epoch is not timed.

Usage: /usr/bin/python3 bench/torch_train.py [--data /usr/share/datasets/fashion-mnist] [--threads 2] [--epochs 2]
       [--batch 64] [--lr 0.05] [--momentum 0.9] [--seed 1] [--limit N]
"""
import argparse
import gzip
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn


def idx(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            with open(p, "rb") as f:
                raw = f.read()
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            magic = int.from_bytes(raw[0:4], "big")
            dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(magic & 0xff)]
            return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * len(dims)).reshape(dims)
    raise FileNotFoundError(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N training images (0: all)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(a.seed)
    xtr = torch.from_numpy(idx(os.path.join(a.data, "train-images-idx3-ubyte")).astype(np.float32) / 255.0).unsqueeze(1)
    ytr = torch.from_numpy(idx(os.path.join(a.data, "train-labels-idx1-ubyte")).astype(np.int64))
    xte = torch.from_numpy(idx(os.path.join(a.data, "t10k-images-idx3-ubyte")).astype(np.float32) / 255.0).unsqueeze(1)
    yte = torch.from_numpy(idx(os.path.join(a.data, "t10k-labels-idx1-ubyte")).astype(np.int64))
    if a.limit:
        xtr, ytr = xtr[:a.limit], ytr[:a.limit]
    net = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            nn.init.uniform_(m.weight, -math.sqrt(6.0 / fan_in), math.sqrt(6.0 / fan_in))
            nn.init.uniform_(m.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))
    opt = torch.optim.SGD(net.parameters(), lr=a.lr, momentum=a.momentum)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(a.seed)
    seconds, rates, accs, losses = [], [], [], []
    n = xtr.shape[0]
    for epoch in range(a.epochs):
        net.train()
        order = torch.randperm(n, generator=gen)
        total = 0.0
        t0 = time.perf_counter()
        for s in range(0, n, a.batch):
            idx_b = order[s:s + a.batch]
            xb, yb = xtr[idx_b], ytr[idx_b]
            opt.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx_b)
        dt = time.perf_counter() - t0
        net.eval()
        with torch.no_grad():
            correct = sum(int((net(xte[i:i + 500]).argmax(1) == yte[i:i + 500]).sum()) for i in range(0, xte.shape[0], 500))
        seconds.append(dt)
        rates.append(n / dt)
        accs.append(correct / xte.shape[0])
        losses.append(total / n)
    print(json.dumps({"peer": "torch", "threads": a.threads, "batch": a.batch, "epochs": a.epochs, "train_images": n,
                      "epoch_seconds": seconds, "images_per_s": rates, "test_accuracy": accs, "train_loss": losses,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
